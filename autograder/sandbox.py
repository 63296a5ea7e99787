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
import signal
import sys
import time

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
    from autograder import codec, wire

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

    read_roots = tuple(
        {
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            sys.base_exec_prefix,
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
    for index, source in config["cells"]:
        record = {"index": index, "status": "ok", "error": "", "seconds": 0.0}
        started = time.monotonic()
        try:
            code = compile(clean_source(source), f"<cell {index}>", "exec")
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
            return 0
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
            elif op == "call":
                target = objects[request["ref"]]
                if request.get("attr"):
                    target = getattr(target, request["attr"])
                result = target(*request["args"], **request["kwargs"])
                reply = {"ok": True, "value": codec.encode(result, register)}
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
