"""Score one notebook: run it in a sandbox, then run the tests here.

The tests, their expected values and the code that compares run in *this*
process, which never executes a line of the student's code.  The student's
functions are reached through the proxies of :mod:`autograder.sandbox`: calling
one sends the arguments to the sandbox, which runs the student's function and
sends back plain data (see :mod:`autograder.wire`).
"""

from __future__ import annotations

import ast
import builtins
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autograder import wire
from autograder.sandbox import (
    AnswerTooLarge,
    Limits,
    NotDefined,
    Sandbox,
    SandboxGone,
    StudentRaised,
    StudentTimeout,
)
from autograder.variants import NAME as VARIANT
from autograder.variants import is_variant_master

if TYPE_CHECKING:  # the heavy notebook libraries stay out of the grading processes
    from autograder.master import Master

ENGINES = ("otter", "nbgrader")
__all__ = ["Limits", "TestCase", "Plan", "plan_for", "run_plan", "run_unit"]


@dataclass
class TestCase:
    """One test as an engine scores it: an otter test case (``call`` names the test
    function, called with the notebook's objects as its parameters) or an nbgrader
    grade cell (``call`` is None: the cell runs with its free names resolved)."""

    __test__ = False  # not a pytest class

    question: str
    name: str
    code: str
    points: float
    hidden: bool
    failure_message: str = ""
    success_message: str = ""
    call: str | None = None

    @property
    def params(self) -> list[str]:
        fn = next(
            n for n in ast.parse(self.code).body if isinstance(n, ast.FunctionDef)
        )
        return [a.arg for a in fn.args.args]


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


def units_for(master: Master, engine: str) -> list[TestCase]:
    """The test cases of ``master`` under ``engine`` (otter cases or nbgrader cells)."""
    if engine == "otter":
        return [t for q in master.questions for t in q.tests]
    if engine == "nbgrader":
        from autograder.nbgrader_source import grade_cells

        return grade_cells(master)
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


def run_unit(
    unit: TestCase, sandbox: Sandbox | None, given: dict | None = None
) -> UnitResult:
    """Run one test case against ``sandbox``.  Names in ``given`` (the grader's own
    values, such as an exam's ``VARIANT``) are never looked up in the notebook."""
    given = given or {}

    def value(name: str):
        return given[name] if name in given else sandbox.lookup(name)

    result = UnitResult(unit.question, unit.name, 0.0, unit.points, unit.hidden, False)
    generic = unit.failure_message or "this test failed"
    try:
        if sandbox is None:
            raise SandboxGone("the notebook did not run")
        tree = ast.parse(unit.code)
        namespace: dict = {"__name__": "tmlbook_test"}
        if unit.call is None:
            for name in _free_names(tree):
                namespace[name] = value(name)
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
            fn(*[value(p) for p in params])
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
    except AnswerTooLarge as exc:
        result.message = f"{generic} ({exc})" if unit.hidden else str(exc)
        result.detail = str(exc)
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
    except KeyboardInterrupt:
        raise  # the tutor's Ctrl-C
    except BaseException as exc:  # noqa: BLE001 - a wrong type of answer, or even
        # SystemExit: nothing an answer does may end or re-enter the grader.
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
    units: list[TestCase]
    variants: bool = False  # an exam with seeded variants (autograder.variants)
    variant: int | None = None  # the graded student's variant, set per submission


def plan_for(master: Master, engine: str, questions: list[str] | None = None) -> Plan:
    """The plan of ``master`` under ``engine``; with ``questions``, only those."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    keep = [q for q in master.questions if questions is None or q.name in questions]
    names = {q.name for q in keep}
    return Plan(
        master.week,
        engine,
        sum(q.points for q in keep),
        [(q.name, q.points) for q in keep],
        [u for u in units_for(master, engine) if u.question in names],
        variants=is_variant_master(master.notebook),
    )


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


def _variant_mismatch(sandbox: Sandbox, variant: int) -> list[str]:
    """A note when the notebook's own VARIANT is not the student's."""
    try:
        own = sandbox.lookup(VARIANT)
    except Exception:  # noqa: BLE001 - no VARIANT, or a hostile one: say so
        own = None
    if isinstance(own, int) and not isinstance(own, bool) and own == variant:
        return []
    return [
        f"this notebook says VARIANT = {str(own)[:20]}, but this student's exam is "
        f"variant {variant}: it was graded against variant {variant}"
    ]


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
        given = {} if plan.variant is None else {VARIANT: plan.variant}
        if given and live is not None:
            outcome.reasons += _variant_mismatch(live, plan.variant)
        for unit in units:
            outcome.units.append(run_unit(unit, live, given))
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
