"""Isolation by the operating system (issue 13).

With the audit hook deliberately switched off, a notebook inside the namespaces
still finds no hidden test: not through ``os.open``, not through ``ctypes``, not
through ``/proc/<pid>/root``; the repository's ``exercises/``, the grades folder
and the home directory do not exist for it.  A fork bomb and a thread storm are
bounded by ``RLIMIT_NPROC`` and end in their own rows; the control is unaffected.
Where namespaces are unavailable, grading falls back to the audit hook and says so.
"""

import json
import os
from pathlib import Path

import pytest

from autograder import isolation
from autograder.grade import grade
from autograder.runner import Limits
from conftest import write_nb
from tutor_helpers import q1_points, tiny_notebook

REPO = Path(__file__).resolve().parent.parent
HIDDEN = REPO / "exercises" / "w01-foundations" / "w01.md"
NAMESPACES, WHY = isolation.probe()
needs_namespaces = pytest.mark.skipif(
    not NAMESPACES, reason=f"no namespaces on this machine: {WHY}"
)

READER = r"""
import os
target = TARGET
found = []
try:
    fd = os.open(target, os.O_RDONLY)
    found.append("os.open")
    os.close(fd)
except OSError:
    pass
try:
    import ctypes
    libc = ctypes.CDLL(None)
    if libc.open(target.encode(), 0) >= 0:
        found.append("ctypes")
except Exception as exc:
    print("ctypes refused:", type(exc).__name__)
try:
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
except OSError:
    pids = ["1"]
pids.append(str(GRADER_PID))
for pid in pids:
    try:
        with open(f"/proc/{pid}/root{target}") as fh:
            fh.read()
        found.append(f"/proc/{pid}/root")
    except OSError:
        pass
exists = sorted(name for name, path in PATHS.items() if os.path.exists(path))
print(f"ISOLATION found={found} exists={exists} uid={os.getuid()}")
"""

FORK_BOMB = r"""
import os, time
kids = 0
try:
    for _ in range(5000):
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        kids += 1
except OSError as exc:
    print(f"FORK stopped after {kids}: {type(exc).__name__}")
else:
    print(f"FORK not stopped after {kids}")
"""

THREAD_STORM = r"""
import threading
stop = threading.Event()
started = 0
try:
    for _ in range(5000):
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
except RuntimeError as exc:
    print(f"THREADS stopped after {started}: {exc}")
else:
    print(f"THREADS not stopped after {started}")
stop.set()
"""


def _home_entry() -> str | None:
    """Something in the home directory outside the paths bound into the sandbox."""
    home = Path(os.path.expanduser("~"))
    bound = isolation.readable_paths()
    for entry in sorted(home.iterdir()) if home.is_dir() else []:
        if not any(p == str(entry) or p.startswith(str(entry) + "/") for p in bound):
            return str(entry)
    return None


def _reader(out: Path) -> str:
    paths = {"exercises": str(REPO / "exercises"), "grades": str(out)}
    paths["repo_tests"] = str(REPO / "tests")
    home = _home_entry()
    if home:
        paths["home"] = home
    return (
        READER.replace("TARGET", repr(str(HIDDEN)))
        .replace("GRADER_PID", str(os.getpid()))
        .replace("PATHS", repr(paths))
    )


def _output(details: dict) -> str:
    return "".join(c.get("output", "") + c.get("error", "") for c in details["cells"])


@pytest.fixture(scope="module")
def hostile_isolated(tmp_path_factory, w01):
    """Reader, fork bomb, thread storm and a control, namespaces on, hook off."""
    folder = tmp_path_factory.mktemp("iso-in")
    out = tmp_path_factory.mktemp("iso-out")
    write_nb(tiny_notebook(w01), folder / "control.ipynb")
    write_nb(tiny_notebook(w01, extra=[_reader(out)]), folder / "reader.ipynb")
    write_nb(tiny_notebook(w01, extra=[FORK_BOMB]), folder / "fork_bomb.ipynb")
    write_nb(tiny_notebook(w01, extra=[THREAD_STORM]), folder / "threads.ipynb")
    # memory is not what this batch tests: forked children share their pages
    limits = Limits(
        timeout=240,
        cell_timeout=60,
        call_timeout=60,
        memory_mb=200_000,
        isolation="namespaces",
        audit_hook=False,
    )
    rows = grade("w01", [folder], out, workers=2, limits=limits, report=False)
    details = {
        r["student"]: json.loads((out / "results" / f"{r['student']}.json").read_text())
        for r in rows
    }
    return {r["student"]: r for r in rows}, details, out


@needs_namespaces
def test_hidden_tests_do_not_exist_inside_the_namespaces(hostile_isolated, w01):
    assert HIDDEN.is_file()  # it is there for the grader
    rows, details, out = hostile_isolated
    text = _output(details["reader"])
    assert "ISOLATION found=[] exists=[]" in text, text[-800:]
    assert "uid=0 " not in text  # not root inside
    assert details["reader"]["isolation"] == "namespaces"
    assert rows["reader"]["q1"] == q1_points(w01)


@needs_namespaces
def test_fork_bomb_and_thread_storm_end_in_their_own_rows(hostile_isolated, w01):
    rows, details, _ = hostile_isolated
    assert set(rows) == {"control", "reader", "fork_bomb", "threads"}
    assert rows["control"]["status"] == "graded"
    assert rows["control"]["q1"] == q1_points(w01), rows["control"]
    fork = _output(details["fork_bomb"])
    assert "FORK stopped after" in fork, fork[-500:]
    kids = int(fork.split("FORK stopped after ")[1].split(":")[0])
    assert kids < isolation.MAX_TASKS
    threads = _output(details["threads"])
    assert "THREADS stopped after" in threads, threads[-500:]
    started = int(threads.split("THREADS stopped after ")[1].split(":")[0])
    assert started < isolation.MAX_TASKS
    for name in ("fork_bomb", "threads"):
        assert rows[name]["status"] in {"graded", "error", "timeout"}
        assert details[name]["isolation"] == "namespaces"
    run = json.loads((hostile_isolated[2] / "run.json").read_text())
    assert run["isolation"] == "namespaces"


def test_fallback_to_the_audit_hook_is_graded_and_recorded(tmp_path, w01):
    """Namespaces switched off: the audit hook alone refuses the same reads."""
    out = tmp_path / "out"
    write_nb(tiny_notebook(w01, extra=[_reader(out)]), tmp_path / "in" / "rd.ipynb")
    limits = Limits(
        timeout=240, cell_timeout=60, call_timeout=60, isolation="audit-hook"
    )
    sub = tmp_path / "in" / "rd.ipynb"
    rows = grade("w01", [sub], out, limits=limits, report=False)
    details = json.loads((out / "results" / "rd.json").read_text())
    assert details["isolation"] == "audit-hook"
    assert json.loads((out / "run.json").read_text())["isolation"] == "audit-hook"
    text = _output(details)
    assert "found=[]" in text, text[-800:]
    assert "ctypes refused" in text
    assert rows[0]["q1"] == q1_points(w01)


def test_mode_when_namespaces_are_unavailable(monkeypatch):
    isolation.probe.cache_clear()
    try:
        monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
        mode, note = isolation.mode_for("auto")
        assert mode == "audit-hook" and "bwrap" in note
        with pytest.raises(RuntimeError, match="not available"):
            isolation.mode_for("namespaces")
        argv, mode = isolation.wrap(["python"], workdir="/tmp", limits=Limits())
        assert (argv, mode) == (["python"], "audit-hook")
        assert isolation.max_tasks(mode) == 0
    finally:
        monkeypatch.undo()
        isolation.probe.cache_clear()
    with pytest.raises(ValueError, match="unknown isolation"):
        isolation.mode_for("chroot")
    assert isolation.mode_for("auto", "cuda")[0] == "audit-hook"  # not yet on GPUs


@needs_namespaces
def test_mount_view_binds_packages_not_the_repository():
    paths = isolation.readable_paths()
    assert str(REPO) not in paths
    assert str(REPO / "autograder") in paths and str(REPO / "tmlbook") in paths
    assert not any(p.startswith(str(REPO / "exercises")) for p in paths)
