"""Isolation by the operating system: the notebook's process in its own namespaces.

Where Linux allows it, :func:`wrap` starts the sandbox (``python -I -m
autograder.sandbox``) inside bubblewrap (``bwrap``) with

* no network (a network namespace with only a loopback device),
* its own PID namespace (other processes, and their ``/proc/<pid>/root``, do
  not exist for it; when the grader kills it, everything it started dies too),
* a private mount view that holds only the system libraries (``/usr``), the
  Python installation, the ``autograder`` and ``tmlbook`` package folders
  (read-only) and the submission's working directory (writable).  The
  repository, the masters with their hidden tests, the grades of other
  students and the home directory do not exist inside;
* a user id of its own (when the grader runs as root: a per-sandbox id, so
  that ``RLIMIT_NPROC``, which the sandbox sets, bounds the processes and
  threads of *this* notebook and no other).

Where namespaces are not available (no ``bwrap``, user namespaces switched
off, a container that forbids them), grading falls back to the sandbox's
audit hook alone and says so: the mode is ``"namespaces"`` or
``"audit-hook"``, recorded in every row's results JSON and in ``run.json``.

Everything here is standard library: the sandbox process imports it too.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

NAMESPACES = "namespaces"
AUDIT_HOOK = "audit-hook"
MODES = ("auto", NAMESPACES, AUDIT_HOOK)
MAX_TASKS = 256  # RLIMIT_NPROC inside the namespaces: processes + threads
FIRST_UID = 200_000  # per-sandbox user ids when the grader runs as root
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
)


def _package_dirs() -> list[str]:
    """The folders of the ``autograder`` and ``tmlbook`` packages (never the repo)."""
    import autograder
    import tmlbook

    return [
        os.path.dirname(os.path.realpath(mod.__file__)) for mod in (autograder, tmlbook)
    ]


def _python_dirs() -> list[str]:
    """The Python installation and the virtual environment, if any."""
    dirs = []
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        for p in (path, os.path.realpath(path)):
            if p not in dirs and os.path.isdir(p):
                dirs.append(p)
    exe = os.path.realpath(sys.executable)
    root = os.path.dirname(os.path.dirname(exe))
    if root not in dirs:
        dirs.append(root)
    return dirs


def readable_paths() -> list[str]:
    """Host paths that are bound read-only into the sandbox's mount view."""
    paths = ["/usr"]
    for path in _python_dirs() + _package_dirs():
        if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths):
            paths.append(path)
    return paths


def _bwrap_args(workdir: str, device: str, uid: int | None) -> list[str]:
    bwrap = shutil.which("bwrap")
    args = [
        bwrap,
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
    ]
    if uid is None:  # an ordinary user: bwrap needs a user namespace
        args += ["--unshare-user", "--disable-userns"]
    else:  # root: keep what setpriv needs to switch to the sandbox's own user id
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for link in ("lib", "lib64", "bin", "sbin"):
        target = f"/{link}"
        if os.path.islink(target):
            args += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            args += ["--ro-bind", target, target]
    made: list[str] = []
    for path in readable_paths() + [workdir]:  # parents readable by any user id
        parts = path.strip("/").split("/")[:-1]
        for k in range(1, len(parts) + 1):
            parent = "/" + "/".join(parts[:k])
            if parent not in made and parent not in ("/usr", "/lib", "/bin"):
                made.append(parent)
                args += ["--perms", "0755", "--dir", parent]
    for path in readable_paths():
        args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    cpu = "/sys/devices/system/cpu"
    if os.path.isdir(cpu):
        args += ["--ro-bind", cpu, cpu]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if device.startswith("cuda"):
        for name in sorted(os.listdir("/dev")):
            if name.startswith("nvidia"):
                args += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
        if os.path.isdir("/dev/dri"):
            args += ["--dev-bind", "/dev/dri", "/dev/dri"]
        for path in ("/sys/bus", "/sys/devices", "/sys/module/nvidia"):
            if os.path.isdir(path):
                args += ["--ro-bind", path, path]
    args += ["--bind", workdir, workdir, "--chdir", workdir]
    if uid is not None:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        args += [
            "--",
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
        ]
    args.append("--")
    return args


def _sandbox_uid() -> int | None:
    """A user id for this sandbox when the grader runs as root, else ``None``.

    ``RLIMIT_NPROC`` counts the processes of a user id and is not enforced for
    root, so each sandbox gets an id of its own, derived from the grading
    process's pid (unique among the processes alive at the same time)."""
    if os.geteuid() != 0:
        return None
    return FIRST_UID + os.getpid() % 100_000


@functools.cache
def probe() -> tuple[bool, str]:
    """Can this machine run a namespaced sandbox?  ``(ok, why not)``; cached."""
    if not sys.platform.startswith("linux"):
        return False, f"no Linux namespaces on {sys.platform}"
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (bwrap) is not installed"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return False, "setpriv (util-linux) is not installed"
    workdir = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
    uid = _sandbox_uid()
    argv = _bwrap_args(workdir, "cpu", uid) + [
        os.path.realpath(sys.executable),
        "-I",
        "-S",
        "-c",
        "import os; print(os.getuid())",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not start: {exc}"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["?"]
        return False, f"bwrap failed: {lines[-1][:200]}"
    return True, ""


def mode_for(requested: str = "auto", device: str = "cpu") -> tuple[str, str]:
    """The isolation grading will use: ``(mode, note)``.

    ``requested`` is ``"auto"`` (namespaces where possible; on CPU only, since
    the GPU device files are not yet tested inside them), ``"namespaces"`` (an
    error where not possible) or ``"audit-hook"`` (namespaces off).
    """
    if requested not in MODES:
        raise ValueError(f"unknown isolation {requested!r}: use {', '.join(MODES)}")
    if requested == AUDIT_HOOK:
        return AUDIT_HOOK, "namespaces switched off: the audit hook alone guards"
    if requested == "auto" and not device.startswith("cpu"):
        return AUDIT_HOOK, (
            f"namespaces are not used for device {device!r} unless "
            "--isolation namespaces: the audit hook alone guards"
        )
    ok, why = probe()
    if ok:
        return NAMESPACES, "namespaces (bubblewrap): no network, own PIDs, own files"
    if requested == NAMESPACES:
        raise RuntimeError(f"isolation 'namespaces' is not available here: {why}")
    return AUDIT_HOOK, f"namespaces unavailable ({why}): the audit hook alone guards"


def wrap(argv: list[str], *, workdir: str, limits) -> tuple[list[str], str]:
    """``argv`` of the sandbox, run inside namespaces where possible.

    Returns the command to start and the mode (``"namespaces"`` or
    ``"audit-hook"``).  Inherited file descriptors (the sandbox's pipes) survive
    bwrap.  When the grader runs as root the working directory is handed to the
    sandbox's own user id.
    """
    device = getattr(limits, "device", "cpu")
    mode, _ = mode_for(getattr(limits, "isolation", "auto"), device)
    if mode != NAMESPACES:
        return list(argv), AUDIT_HOOK
    uid = _sandbox_uid()
    if uid is not None:
        for root, dirs, files in os.walk(workdir):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, uid, uid, follow_symlinks=False)
    return _bwrap_args(workdir, device, uid) + list(argv), NAMESPACES


def max_tasks(mode: str) -> int:
    """``RLIMIT_NPROC`` for the sandbox (0: leave it alone).

    Only inside namespaces: elsewhere the limit would count every process the
    grading user runs on the machine."""
    return MAX_TASKS if mode == NAMESPACES else 0


def tree_rss_kb(pid: int) -> int:
    """Resident memory (kB) of ``pid`` and all its descendants.

    Inside bwrap the notebook's interpreter is a grandchild of the process the
    grader started; a fork inside the sandbox adds its children."""
    total, todo, seen = 0, [pid], set()
    while todo and len(seen) < 4096:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total
