"""The sandbox: runs one student's notebook code in its own process.

Started by :mod:`autograder.runner` as ``python -I -m autograder.sandbox RFD WFD``.
It never sees a test: it executes the notebook's code cells, reports what
happened, then answers the grader's requests ("give me ``cross_entropy``",
"call it with these tensors") until it is told to stop or killed.

Limits and guards, set before any student code runs:

* resource limits: address space (CPU grading), file size, no core dumps;
* each cell is interrupted after ``cell_timeout`` seconds (SIGALRM); the grader
  kills the whole process group if the sandbox overruns its total budget;
* an audit hook (PEP 578) refuses to read outside the submission's working
  directory, the Python installation and ``tmlbook``; refuses to write outside
  the working directory; refuses subprocesses, forks, sockets, signals to other
  processes, ``ctypes`` and ``gc`` introspection;
* ``sys.stdout``/``sys.stderr`` keep only the first 20 000 characters per cell.

The audit hook is defence in depth.  The guarantee that tampering gains nothing
comes from the design: the tests, the expected values and the checking code
live only in the grader's process.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from autograder import isolation, wire  # isolation (issue 13)

OUTPUT_LIMIT = 20_000
MAGIC = re.compile(r"^\s*[%!]")
OTTER_LINE = re.compile(
    r"^\s*(import\s+otter\s*$|grader\s*=\s*otter\.Notebook\(.*\)\s*$"
    r"|grader\.(check|check_all|export|to_pdf)\(.*\)\s*$)"
)


class CellTimeout(BaseException):
    """Raised inside a cell that ran past its time limit."""


class BoundedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = OUTPUT_LIMIT):
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s) -> int:
        s = str(s)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters not kept]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


def clean_source(source: str) -> str:
    """Drop IPython magics, shell escapes and otter's own lines from a cell."""
    lines = []
    for line in source.splitlines():
        if MAGIC.match(line) or OTTER_LINE.match(line):
            lines.append("pass  # removed by the grader: " + line.strip()[:60])
        else:
            lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------- guards
def _install_guard(workdir: str, read_roots: tuple[str, ...]) -> None:
    """Install the audit hook.  Everything it uses is captured here, in the closure,
    so that student code which rebinds module attributes or builtins cannot
    change its decisions, and no global name refers to it."""
    import posix

    _str, _bytes, _int, _tuple = (
        builtins.str,
        builtins.bytes,
        builtins.int,
        builtins.tuple,
    )
    _isinstance, _len = builtins.isinstance, builtins.len
    _PermissionError = builtins.PermissionError
    _fsdecode_bytes = bytes.decode
    _getcwd, _readlink, _lstat = posix.getcwd, posix.readlink, posix.lstat
    _S_IFMT, _S_IFLNK = 0o170000, 0o120000
    write_root = workdir.rstrip("/")
    roots = _tuple(r.rstrip("/") for r in read_roots)
    always = ("/dev/null", "/dev/urandom", "/dev/random", "/dev/zero")

    def normalise(parts_path: str) -> str:
        out: list = []
        for part in parts_path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if out:
                    out.pop()
            else:
                out.append(part)
        return "/" + "/".join(out)

    def resolve(path) -> str:
        if _isinstance(path, _bytes):
            path = _fsdecode_bytes(path, "utf-8", "surrogateescape")
        if not _isinstance(path, _str):
            raise _PermissionError("the grader refused a path it could not read")
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        # Resolve symbolic links component by component (at most 40 hops).
        parts = normalise(path).split("/")[1:]
        done = ""
        hops = 0
        while parts:
            part = parts.pop(0)
            candidate = done + "/" + part
            try:
                mode = _lstat(candidate).st_mode
            except OSError:
                done = candidate
                continue
            if (mode & _S_IFMT) == _S_IFLNK:
                hops += 1
                if hops > 40:
                    raise _PermissionError("too many symbolic links")
                target = _readlink(candidate)
                base = target if target.startswith("/") else done + "/" + target
                parts = normalise(base).split("/")[1:] + parts
                done = ""
            else:
                done = candidate
        return done or "/"

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root + "/")

    def may_read(path: str) -> bool:
        if path in always or inside(path, write_root) or inside(path, "/proc/self"):
            return True
        if inside(path, "/sys/devices/system/cpu") or inside(path, "/sys/fs/cgroup"):
            return True
        for root in roots:
            if inside(path, root):
                return True
        return False

    def deny(what: str):
        raise _PermissionError(f"not allowed while grading: {what}")

    blocked_prefixes = (
        "subprocess.",
        "os.exec",
        "os.spawn",
        "os.posix_spawn",
        "os.fork",
        "pty.",
        "socket.",
        "ctypes.",
        "gc.get_",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "sys.remote_exec",
        "os.startfile",
        "webbrowser.",
        "winreg.",
        "os.chroot",
        "os.setuid",
        "os.setgid",
    )
    blocked_events = ("os.system", "sys.addaudithook", "cpython.remove_remote_debugger")
    path_write_events = (
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
        "os.link",
        "os.symlink",
    )
    blocked_imports = ("_posixsubprocess", "_ctypes", "ctypes", "_xxsubinterpreters")

    def hook(event, args):
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            if _isinstance(path, _int) or path is None:
                return
            full = resolve(path)
            writing = False
            if _isinstance(mode, _str):
                writing = (
                    ("w" in mode) or ("a" in mode) or ("x" in mode) or ("+" in mode)
                )
            elif _isinstance(flags, _int):
                writing = (flags & 3) != 0 or (flags & 0o100) != 0
            if writing:
                if not (inside(full, write_root) or full in always):
                    deny(f"writing {full}")
            elif not may_read(full):
                deny(f"reading {full}")
            return
        if event in ("os.listdir", "os.scandir", "glob.glob", "os.chdir"):
            target = args[0] if _len(args) and args[0] is not None else "."
            if _isinstance(target, _int):
                return
            if not may_read(resolve(target)):
                deny(f"{event} on {target}")
            return
        if event in path_write_events:
            for a in args:
                if _isinstance(a, (_str, _bytes)) and not inside(
                    resolve(a), write_root
                ):
                    deny(f"{event} outside the submission folder")
            return
        if event == "import":
            if args[0] in blocked_imports:
                deny(f"importing {args[0]}")
            return
        if event in blocked_events:
            deny(event)
        for prefix in blocked_prefixes:
            if event.startswith(prefix):
                deny(event)

    sys.addaudithook(hook)


def _limit_resources(
    memory_mb: int, file_mb: int, device: str, max_tasks: int = 0
) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if max_tasks > 0:  # isolation (issue 13): processes + threads of this user id
        resource.setrlimit(resource.RLIMIT_NPROC, (max_tasks, max_tasks))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-long files fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    if device == "cpu" and memory_mb > 0:
        # Address space = memory budget + room for the libraries' mappings
        # (torch alone maps ~3.6 GB of address space on import).
        limit = (memory_mb + 6144) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _preload(device: str, threads: int) -> list[str]:
    """Import what notebooks use before the guard goes up (imports read files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: F401
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(max(1, threads))
    import sklearn  # noqa: F401

    import tmlbook
    import tmlbook.data
    import tmlbook.models
    import tmlbook.training  # noqa: F401

    tmlbook.data.load_digits_splits()  # warm the cache (reads sklearn's data file)
    if device.startswith("cuda"):
        torch.cuda.init()  # loads CUDA libraries while file access is still open
    plt.show = lambda *a, **k: None
    # Neutralise a subprocess primitive that raises no audit event of its own.
    import _posixsubprocess

    def _refused(*args, **kwargs):
        raise PermissionError("not allowed while grading: starting processes")

    _posixsubprocess.fork_exec = _refused
    return [os.path.dirname(tmlbook.__file__)]


def _display(*objs, **kwargs):
    for obj in objs:
        print(repr(obj))


def main(argv: list[str]) -> int:
    rfd, wfd = int(argv[0]), int(argv[1])
    import linecache

    from autograder import codec, probes, wire

    local_source, local_grad = probes.local_source, probes.local_grad

    config = pickle.loads(wire.recv_bytes(rfd))
    workdir = config["workdir"]
    os.chdir(workdir)
    _limit_resources(
        config["memory_mb"],
        config["file_mb"],
        config["device"],
        config.get("max_tasks", 0),  # isolation (issue 13)
    )
    extra_roots = _preload(config["device"], config["threads"])

    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    read_roots = tuple(
        {
            *prefixes,
            # paths are checked after resolving links: a venv that is a link
            # (``.venv -> /elsewhere/.venv``) is allowed where it really is
            *(os.path.realpath(p) for p in prefixes),
            "/usr/lib",
            "/usr/share",
            "/usr/local/lib",
            "/etc",
            "/usr/local/cuda",
            *extra_roots,
        }
    )
    for mod in (
        "autograder.sandbox",
        "autograder.wire",
        "autograder.codec",
        "autograder.probes",
        "autograder.isolation",
        "autograder",
    ):
        sys.modules.pop(mod, None)
    namespace = {"__name__": "__main__", "__builtins__": builtins, "display": _display}
    objects: dict[int, object] = {}

    def register(obj) -> int:
        rid = len(objects) + 1
        objects[rid] = obj
        return rid

    def send(obj) -> None:
        wire.send_bytes(wfd, codec.dump_plain(obj))

    stream = BoundedText()
    pristine_builtins = dict(vars(builtins))

    def restore_builtins() -> None:
        # A cell may rebind builtins (isinstance, AssertionError, ...); the sandbox's
        # own machinery needs the real ones to send answers back.
        vars(builtins).update(pristine_builtins)

    if config.get("audit_hook", True):  # isolation (issue 13): off only in tests
        _install_guard(workdir, read_roots)
    sys.stdout = sys.stderr = stream

    def on_alarm(signum, frame):
        raise CellTimeout()

    signal.signal(signal.SIGALRM, on_alarm)

    # ---- execute the notebook
    cells = []
    sources: dict[str, str] = {}
    for index, source in config["cells"]:
        record = {"index": index, "status": "ok", "error": "", "seconds": 0.0}
        started = time.monotonic()
        filename, cleaned = f"<cell {index}>", clean_source(source)
        # The probes read sources from this copy, which student code cannot edit;
        # linecache gets one too, for tracebacks and inspect.
        sources[filename] = cleaned
        linecache.cache[filename] = (
            len(cleaned),
            None,
            cleaned.splitlines(True),
            filename,
        )
        try:
            code = compile(cleaned, filename, "exec")
        except SyntaxError as exc:
            record.update(
                status="error", error=f"SyntaxError: {exc.msg} (line {exc.lineno})"
            )
            cells.append(record)
            continue
        signal.setitimer(signal.ITIMER_REAL, config["cell_timeout"])
        try:
            exec(code, namespace)
        except CellTimeout:
            record.update(
                status="timeout", error=f"stopped after {config['cell_timeout']} s"
            )
        except SystemExit as exc:
            record.update(
                status="error", error=f"SystemExit({exc.code!r}) (sys.exit in a cell)"
            )
        except KeyboardInterrupt:
            record.update(status="error", error="KeyboardInterrupt")
        except BaseException as exc:  # noqa: BLE001
            record.update(
                status="error", error=f"{type(exc).__name__}: {str(exc)[:300]}"
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            restore_builtins()
        record["seconds"] = round(time.monotonic() - started, 3)
        record["output"] = stream.take()[:2000]
        cells.append(record)
    send({"event": "executed", "cells": cells})

    # ---- serve the grader's requests
    while True:
        try:
            request = wire.RefUnpickler(
                io.BytesIO(wire.recv_bytes(rfd)), objects
            ).load()
        except Exception:  # noqa: BLE001 - the grader went away
            return 0
        op = request.get("op")
        if op == "exit":
            # Everything is sent: end now rather than tear down torch and the
            # notebook's objects (about a second of interpreter shutdown per run).
            os._exit(0)
        reply: dict
        signal.setitimer(signal.ITIMER_REAL, config["call_timeout"])
        try:
            if op == "get":
                name = request["name"]
                if name not in namespace or name.startswith("__"):
                    reply = {
                        "ok": False,
                        "kind": "missing",
                        "error": f"the notebook does not define {name!r}",
                    }
                else:
                    reply = {
                        "ok": True,
                        "value": codec.encode(namespace[name], register),
                    }
            elif op in ("call", "probe"):
                target = objects[request["ref"]]
                args, kwargs = request["args"], request["kwargs"]
                if op == "probe" and request["kind"] == "source":
                    result = local_source(target, sources)
                elif op == "probe":
                    result = local_grad(target, args, kwargs, request["wrt"])
                else:
                    if request.get("attr"):
                        target = getattr(target, request["attr"])
                    result = target(*args, **kwargs)
                budget = codec.Budget()
                value = codec.encode(result, register, budget)
                # The arguments came as copies: send back the state the call left
                # them in, so that the grader sees in-place edits as otter would.
                own = {id(o) for o in objects.values()}
                after = {
                    "args": [
                        None if id(a) in own else codec.snapshot(a, budget)
                        for a in args
                    ],
                    "kwargs": {
                        k: codec.snapshot(v, budget)
                        for k, v in kwargs.items()
                        if id(v) not in own
                    },
                }
                reply = {"ok": True, "value": value, "after": after}
            elif op == "getattr":
                value = getattr(objects[request["ref"]], request["attr"])
                reply = {"ok": True, "value": codec.encode(value, register)}
            else:
                reply = {
                    "ok": False,
                    "kind": "protocol",
                    "error": f"unknown request {op!r}",
                }
        except CellTimeout:
            reply = {
                "ok": False,
                "kind": "timeout",
                "error": f"the call took longer than {config['call_timeout']} s",
            }
        except codec.TooLarge as exc:
            reply = {"ok": False, "kind": "too_large", "error": str(exc)[:300]}
        except BaseException as exc:  # noqa: BLE001
            reply = {
                "ok": False,
                "kind": "raised",
                "type": type(exc).__name__,
                "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            }
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            restore_builtins()
        reply["output"] = stream.take()[:2000]
        try:
            send(reply)
        except Exception as exc:  # noqa: BLE001 - e.g. an answer that is not plain data
            send(
                {
                    "ok": False,
                    "kind": "raised",
                    "type": type(exc).__name__,
                    "error": f"the answer could not be sent: {str(exc)[:200]}",
                }
            )


# ======================================================================= the client
# The grader's side: starts the process above and talks to it.


@dataclass
class Limits:
    timeout: float = 600.0  # seconds for the whole submission
    cell_timeout: float = 120.0  # seconds per notebook cell
    call_timeout: float = 120.0  # seconds per call of a student's function
    memory_mb: int = 4096  # resident memory of the sandbox
    file_mb: int = 64  # largest file the notebook may write
    device: str = "cpu"
    threads: int = 1
    grader_memory_mb: int = 4096  # heap of the grading process that runs the tests
    isolation: str = "auto"  # isolation (issue 13): auto | namespaces | audit-hook
    audit_hook: bool = True  # isolation (issue 13): False only in tests


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

    def __init__(self, session: Sandbox, rid: int, desc: str):
        object.__setattr__(self, "_rid", rid)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_desc", desc)

    def __call__(self, *args, **kwargs):
        return self._session.request(
            {"op": "call", "ref": self._rid, "args": args, "kwargs": kwargs}
        )

    def _probe(self, kind: str, args=(), kwargs=None, wrt=0):
        """Run a probe of :mod:`autograder.probes` on this object, in the sandbox."""
        return self._session.request(
            {
                "op": "probe",
                "kind": kind,
                "ref": self._rid,
                "args": tuple(args),
                "kwargs": dict(kwargs or {}),
                "wrt": wrt,
            }
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


class AnswerTooLarge(Exception):
    """The student's answer was over the wire's bounds (see :mod:`autograder.codec`)."""


def _apply_after(req: dict, after: dict) -> None:
    """Give the test's own arguments the state the call left the copies in."""
    from autograder import codec

    try:
        states = after.get("args") or ()
        # strict=False: the sandbox is not trusted to send one state per argument
        for arg, state in zip(req.get("args", ()), states, strict=False):
            codec.apply_state(arg, state)
        kwargs = req.get("kwargs", {})
        for key, state in (after.get("kwargs") or {}).items():
            if key in kwargs:
                codec.apply_state(kwargs[key], state)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise StudentRaised("ArgumentState", f"after the call: {exc}") from None


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
            raise TypeError(
                f"the test passed something that cannot be sent: {exc}"
            ) from None
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
            raise StudentTimeout(self.killed_for) from None
        except (wire.WireError, OSError):
            raise SandboxGone(self.why_gone()) from None
        if not isinstance(reply, dict):
            raise SandboxGone("the notebook's process sent a malformed reply")
        if reply.get("ok"):
            from autograder import codec

            value = codec.decode(reply.get("value"), self._make_ref)
            after = reply.get("after")
            if isinstance(after, dict):
                _apply_after(req, after)
            return value
        kind = reply.get("kind")
        if kind == "missing":
            raise NotDefined(str(reply.get("error")))
        if kind == "timeout":
            raise StudentTimeout(str(reply.get("error")))
        if kind == "too_large":
            raise AnswerTooLarge(str(reply.get("error")))
        raise StudentRaised(
            str(reply.get("type", "Exception")), str(reply.get("error"))
        )

    def _make_ref(self, rid: int, desc: str) -> StudentObject:
        return StudentObject(self, rid, desc)

    def lookup(self, name: str):
        if name not in self._cache:
            self._cache[name] = self.request({"op": "get", "name": name})
        return self._cache[name]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
