"""Grade one notebook: run it in a sandbox, then run the tests here.

The tests, their expected values and the code that compares run in *this*
process, which never executes a line of the student's code.  The student's
functions are reached through :class:`StudentObject` proxies: calling one sends
the arguments to the sandbox, which runs the student's function and sends back
plain data (see :mod:`autograder.wire`).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import io
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from autograder import isolation, wire  # isolation (issue 13)

if TYPE_CHECKING:  # the heavy notebook libraries stay out of the grading processes
    from autograder.master import Master

ENGINES = ("otter", "nbgrader")


@dataclass
class Limits:
    timeout: float = 600.0  # seconds for the whole submission
    cell_timeout: float = 120.0  # seconds per notebook cell
    call_timeout: float = 120.0  # seconds per call of a student's function
    memory_mb: int = 4096  # resident memory of the sandbox
    file_mb: int = 64  # largest file the notebook may write
    device: str = "cpu"
    threads: int = 1
    isolation: str = "auto"  # isolation (issue 13): auto | namespaces | audit-hook
    audit_hook: bool = True  # isolation (issue 13): False only in tests


@dataclass
class UnitResult:
    """The result of one test case (otter) or grade cell (nbgrader)."""

    question: str
    name: str
    points: float
    max_points: float
    hidden: bool
    passed: bool
    message: str = ""  # safe to show the student
    detail: str = ""  # tutors only (results JSON)


@dataclass
class Outcome:
    status: str  # graded | timeout | error | rejected
    score: float
    max_score: float
    questions: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    units: list[UnitResult] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    execute_seconds: float = 0.0
    isolation: str = ""  # isolation (issue 13)
    peak_mb: float = 0.0  # isolation (issue 13)


class SandboxGone(RuntimeError):
    """The sandbox process is no longer there to answer."""


class StudentRaised(Exception):
    """The student's code raised an exception inside a call."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class StudentTimeout(Exception):
    """A call of the student's code ran past its time limit."""


class NotDefined(NameError):
    """The notebook does not define a name a test needs."""


class StudentObject:
    """A proxy for an object that lives in the sandbox (a function, a model, ...)."""

    __slots__ = ("_rid", "_session", "_desc")

    def __init__(self, session: "Sandbox", rid: int, desc: str):
        object.__setattr__(self, "_rid", rid)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_desc", desc)

    def __call__(self, *args, **kwargs):
        return self._session.request(
            {"op": "call", "ref": self._rid, "args": args, "kwargs": kwargs}
        )

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.request({"op": "getattr", "ref": self._rid, "attr": name})

    def _dunder(self, name, *args):
        return self._session.request(
            {"op": "call", "ref": self._rid, "attr": name, "args": args, "kwargs": {}}
        )

    def __len__(self):
        return int(self._dunder("__len__"))

    def __getitem__(self, key):
        return self._dunder("__getitem__", key)

    def __repr__(self) -> str:
        return f"<student's {self._desc}>"


def _import_trusted(name: str):
    """A module the notebook imported, imported again here (never the student's)."""
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001
        return None


class Sandbox:
    """One student's notebook running in a separate process."""

    def __init__(self, cells: list[tuple[int, str]], limits: Limits):
        self.limits = limits
        self.workdir = tempfile.mkdtemp(prefix="tml-sandbox-")
        self.started = time.monotonic()
        self.deadline = self.started + limits.timeout
        self.killed_for: str | None = None
        self.log_path = os.path.join(self.workdir, ".sandbox.log")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.workdir,
            "TMPDIR": self.workdir,
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(self.workdir, ".mpl"),
            "TML_QUIET": "1",
            "TML_DEVICE": limits.device,
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": str(limits.threads),
            "MKL_NUM_THREADS": str(limits.threads),
        }
        for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
            if key in os.environ:
                env[key] = os.environ[key]
        argv = [
            sys.executable,
            "-I",
            "-m",
            "autograder.sandbox",
            str(to_child_r),
            str(from_child_w),
        ]
        argv, self.isolation = isolation.wrap(  # isolation (issue 13)
            argv, workdir=self.workdir, limits=limits
        )
        self.peak_kb = 0  # isolation (issue 13)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(to_child_r, from_child_w),
                start_new_session=True,
            )
        os.close(to_child_r)
        os.close(from_child_w)
        self._watch = threading.Thread(target=self._watch_memory, daemon=True)
        self._watch.start()
        wire.send_bytes(
            self._to_child,
            pickle.dumps(
                {
                    "workdir": self.workdir,
                    "cells": cells,
                    "cell_timeout": limits.cell_timeout,
                    "call_timeout": limits.call_timeout,
                    "memory_mb": limits.memory_mb,
                    "file_mb": limits.file_mb,
                    "device": limits.device,
                    "threads": limits.threads,
                    "audit_hook": limits.audit_hook,  # isolation (issue 13)
                    "max_tasks": isolation.max_tasks(self.isolation),  # (issue 13)
                }
            ),
        )
        self._cache: dict[str, object] = {}

    # -- process control -------------------------------------------------------------
    def _watch_memory(self) -> None:
        while self.proc.poll() is None:
            rss_kb = isolation.tree_rss_kb(self.proc.pid)  # isolation (issue 13)
            self.peak_kb = max(self.peak_kb, rss_kb)  # isolation (issue 13)
            if rss_kb > self.limits.memory_mb * 1024:
                self.kill(f"used more than {self.limits.memory_mb} MB of memory")
                return
            time.sleep(0.05)

    def kill(self, why: str) -> None:
        if self.killed_for is None:
            self.killed_for = why
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def alive(self) -> bool:
        return self.proc.poll() is None and self.killed_for is None

    def why_gone(self) -> str:
        if self.killed_for:
            return self.killed_for
        code = self.proc.wait(timeout=5)
        if code is not None and code < 0:
            return f"the notebook's process was killed by signal {-code}"
        return f"the notebook's process ended itself (exit code {code})"

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                wire.send_bytes(self._to_child, pickle.dumps({"op": "exit"}))
                self.proc.wait(timeout=2)
            except Exception:  # noqa: BLE001
                pass
        if self.proc.poll() is None:
            self.kill("closed")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- messages ---------------------------------------------------------------------
    def _receive(self, deadline: float):
        try:
            from autograder import codec

            return codec.load_plain(wire.recv_bytes(self._from_child, deadline))
        except wire.WireTimeout:
            raise
        except wire.WireError:
            try:  # a process that is ending closes its pipe a moment before it exits
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            if self.proc.poll() is None and self.killed_for is None:
                self.kill("sent something that is not a valid answer")
            raise

    def wait_executed(self) -> dict:
        try:
            message = self._receive(self.deadline)
        except wire.WireTimeout:
            self.kill(f"ran past the time limit of {self.limits.timeout:g} s")
            raise
        if not isinstance(message, dict) or message.get("event") != "executed":
            self.kill("sent an unexpected message")
            raise wire.WireError("unexpected message from the sandbox")
        return message

    def request(self, req: dict):
        if not self.alive():
            raise SandboxGone(self.why_gone())
        buf = io.BytesIO()
        try:
            wire.RefPickler(buf, StudentObject).dump(req)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"the test passed something that cannot be sent: {exc}")
        deadline = min(self.deadline, time.monotonic() + self.limits.call_timeout + 5)
        try:
            wire.send_bytes(self._to_child, buf.getvalue())
            reply = self._receive(deadline)
        except wire.WireTimeout:
            self.kill(
                f"a call ran past the time limit of {self.limits.call_timeout:g} s"
                if time.monotonic() < self.deadline
                else f"ran past the time limit of {self.limits.timeout:g} s"
            )
            raise StudentTimeout(self.killed_for)
        except (wire.WireError, OSError):
            raise SandboxGone(self.why_gone())
        if not isinstance(reply, dict):
            raise SandboxGone("the notebook's process sent a malformed reply")
        if reply.get("ok"):
            from autograder import codec

            return codec.decode(reply.get("value"), self._make_ref, _import_trusted)
        kind = reply.get("kind")
        if kind == "missing":
            raise NotDefined(str(reply.get("error")))
        if kind == "timeout":
            raise StudentTimeout(str(reply.get("error")))
        raise StudentRaised(
            str(reply.get("type", "Exception")), str(reply.get("error"))
        )

    def _make_ref(self, rid: int, desc: str) -> StudentObject:
        return StudentObject(self, rid, desc)

    def lookup(self, name: str):
        if name not in self._cache:
            self._cache[name] = self.request({"op": "get", "name": name})
        return self._cache[name]


# --------------------------------------------------------------------------- test units
@dataclass
class Unit:
    question: str
    name: str
    code: str
    points: float
    hidden: bool
    failure_message: str
    call: str | None  # otter: the test function to call with resolved parameters


def units_for(master: Master, engine: str) -> list[Unit]:
    """The test units of ``master`` under ``engine`` (otter cases or nbgrader cells)."""
    if engine == "otter":
        return [
            Unit(
                t.question,
                t.name,
                t.code,
                t.points,
                t.hidden,
                t.failure_message,
                t.name,
            )
            for q in master.questions
            for t in q.tests
        ]
    if engine == "nbgrader":
        from autograder.nbgrader_source import grade_cells

        return [
            Unit(
                c.question,
                c.grade_id,
                c.code,
                c.points,
                c.hidden,
                c.failure_message,
                None,
            )
            for c in grade_cells(master)
        ]
    raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")


def _free_names(tree: ast.Module) -> list[str]:
    """Module-level names a grade cell reads without defining them."""
    defined = set(dir(builtins))
    needed: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id not in defined and sub.id not in needed:
                    needed.append(sub.id)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                defined.add(sub.id)
    return needed


def run_unit(unit: Unit, sandbox: Sandbox | None) -> UnitResult:
    result = UnitResult(unit.question, unit.name, 0.0, unit.points, unit.hidden, False)
    generic = unit.failure_message or "this test failed"
    try:
        if sandbox is None:
            raise SandboxGone("the notebook did not run")
        tree = ast.parse(unit.code)
        namespace: dict = {"__name__": "tmlbook_test"}
        if unit.call is None:
            for name in _free_names(tree):
                namespace[name] = sandbox.lookup(name)
            exec(compile(tree, f"<{unit.name}>", "exec"), namespace)
        else:
            exec(compile(tree, f"<{unit.name}>", "exec"), namespace)
            fn = namespace[unit.call]
            params = [
                a.arg
                for a in next(
                    n for n in tree.body if isinstance(n, ast.FunctionDef)
                ).args.args
            ]
            fn(*[sandbox.lookup(p) for p in params])
        result.passed, result.points = True, unit.points
        result.message = "passed"
    except NotDefined as exc:
        result.message = f"{exc}"
        result.detail = result.message
    except StudentTimeout as exc:
        result.message = f"time limit: {exc}"
        result.detail = result.message
    except SandboxGone as exc:
        result.message = f"not run: {exc}"
        result.detail = result.message
    except StudentRaised as exc:
        # The student's own exception; for a hidden test only its type, since its
        # message could echo the hidden inputs.
        result.message = (
            f"{generic} (your code raised {exc.kind})"
            if unit.hidden
            else f"your code raised {exc}"
        )
        result.detail = f"student code raised {exc}"
    except AssertionError as exc:
        result.message = (
            generic if unit.hidden else f"{generic} {str(exc)[:500]}".strip()
        )
        result.detail = f"AssertionError: {str(exc)[:2000]}"
    except Exception as exc:  # noqa: BLE001 - a wrong type of answer, for example
        result.message = (
            f"{generic} ({type(exc).__name__})"
            if unit.hidden
            else f"{generic} {type(exc).__name__}: {str(exc)[:300]}"
        )
        result.detail = f"{type(exc).__name__}: {str(exc)[:2000]}"
    return result


@dataclass
class Plan:
    """What a grading process needs to know about a week: plain data only, so that
    it travels to worker processes without the notebook libraries."""

    week: str
    engine: str
    max_score: float
    questions: list[tuple[str, float]]
    units: list[Unit]


def plan_for(master: Master, engine: str) -> Plan:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    return Plan(
        master.week,
        engine,
        master.max_score,
        [(q.name, q.points) for q in master.questions],
        units_for(master, engine),
    )


def grade_cells_of_notebook(
    cells: list[tuple[int, str]], master: Master, engine: str, limits: Limits
) -> Outcome:
    """Run ``cells`` (index, source) in a sandbox and grade them against ``master``."""
    return run_plan(cells, plan_for(master, engine), limits)


def _warm_up(threads: int) -> None:
    """Load what the tests will use (torch, tmlbook, the digits) and run one tiny
    training step, so that the first test does not pay for it."""
    import torch

    torch.set_num_threads(max(1, threads))
    from tmlbook.data import load_digits_splits
    from tmlbook.models import MLP

    splits = load_digits_splits()
    model = MLP()
    opt = torch.optim.Adam(model.parameters())
    loss = torch.nn.functional.cross_entropy(model(splits.val.X[:8]), splits.val.y[:8])
    loss.backward()
    opt.step()


def run_plan(cells: list[tuple[int, str]], plan: Plan, limits: Limits) -> Outcome:
    """Run ``cells`` in a sandbox, then the plan's tests here, against it."""
    started = time.monotonic()
    outcome = Outcome(
        "graded", 0.0, plan.max_score, {q: 0.0 for q, _ in plan.questions}
    )
    sandbox = Sandbox(cells, limits)
    try:
        _warm_up(limits.threads)  # overlaps the notebook's start in its own process
        units = plan.units
        try:
            executed = sandbox.wait_executed()
            outcome.cells = list(executed["cells"])
        except wire.WireTimeout:
            outcome.status = "timeout"
            outcome.reasons.append(f"the notebook {sandbox.why_gone()}")
        except wire.WireError:
            outcome.status = "error"
            outcome.reasons.append(f"the notebook did not finish: {sandbox.why_gone()}")
        outcome.execute_seconds = round(time.monotonic() - started, 2)
        for cell in outcome.cells:
            if cell["status"] == "timeout":
                outcome.reasons.append(
                    f"cell {cell['index']} {cell['error']} (time limit)"
                )
            elif cell["status"] == "error":
                outcome.reasons.append(
                    f"cell {cell['index']} raised {cell['error']}"[:200]
                )
        live = sandbox if outcome.status == "graded" else None
        for unit in units:
            outcome.units.append(run_unit(unit, live))
        if outcome.status == "graded" and not sandbox.alive():
            outcome.status = (
                "timeout" if "time limit" in sandbox.why_gone() else "error"
            )
            outcome.reasons.append(
                f"during the tests the notebook {sandbox.why_gone()}"
            )
    finally:
        outcome.isolation = sandbox.isolation  # isolation (issue 13)
        outcome.peak_mb = round(sandbox.peak_kb / 1024, 1)  # isolation (issue 13)
        sandbox.close()
    for unit in outcome.units:
        outcome.questions[unit.question] += unit.points
    outcome.score = round(sum(outcome.questions.values()), 6)
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome
