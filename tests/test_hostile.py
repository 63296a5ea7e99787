"""Broken and hostile submissions, graded on the tiny w00 master.

One batch per engine holds a control (the solution) and one submission per attack.
For each: the batch finishes, the submission has a row with a status and a plain
reason, the control's row is unaffected, tampering gains no points, the notebook
cannot read the hidden tests, answers cannot end, flood or re-enter the grading
process, and limits hold.  No limit here races another: each attack can be stopped
by one limit only, and the others are far away.
"""

import json
from pathlib import Path

import nbformat
import pytest

from autograder.grade import grade
from autograder.master import load_mutants, solution_notebook
from autograder.runner import Limits
from conftest import TINY, solution_with, student_with_answers, write_nb

REPO = Path(__file__).resolve().parent.parent
# Batches, so that no row depends on the machine's speed: each submission meets
# limits of which only its own attack can reach one.  An infinite loop meets a short
# cell limit and a generous total; one that ignores the cell alarm meets a short
# total (it never ends, so nothing else can finish first); every other submission
# gets generous time, so only its own attack (memory, say) can stop it.
LIMITS = Limits(timeout=400, cell_timeout=120, call_timeout=120, memory_mb=3000)
CELL_LIMITS = Limits(timeout=400, cell_timeout=8, call_timeout=120, memory_mb=3000)
TOTAL_LIMITS = Limits(timeout=30, cell_timeout=8, call_timeout=30, memory_mb=3000)
BATCHES = {
    "main": LIMITS,
    "cell": CELL_LIMITS,
    "total": TOTAL_LIMITS,
}
BATCH_OF = {"infinite_loop": "cell", "ignores_alarm": "total"}
# Attacks that act while the cells run, before any test: the sandbox both engines
# share stops them, so one engine (otter) is enough.  Every attack on the answers
# themselves (the wire, the tests, the checks) is graded by both engines.
SANDBOX_ONLY = {
    "infinite_loop",
    "ignores_alarm",
    "sys_exit",
    "os_exit",
    "exception_and_syntax",
    "huge_allocation",
    "memory_hog",
    "print_flood",
    "disk_search",
    "subprocess_escape",
}
OTTER_ONLY = pytest.mark.parametrize("results", ["otter"], indirect=True)

WRONG = {  # a wrong answer to every question (the mutants' code)
    "softplus": "q1_naive",
    "normalise_rows": "q2_columns",
    "mse": "q3_sum",
}

TAMPER = r"""
import builtins, math, numpy, numpy.testing, torch, torch.testing
torch.testing.assert_close = lambda *a, **k: None
numpy.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
builtins.AssertionError = type("AssertionError", (Exception,), {})
_real_isinstance = builtins.isinstance
builtins.isinstance = lambda *a: True
class FakeGrader:
    def check(self, *a, **k):
        return "All tests passed!"
grader = FakeGrader()
"""

SEARCH = r"""
import os
found, denied, listed = [], 0, 0
targets = [REPO, os.path.join(REPO, "tests"), "/tmp", "/", os.path.expanduser("~")]
for top in targets:
    try:
        for root, dirs, files in os.walk(top):
            listed += 1
            for name in files:
                if name.endswith((".md", ".py", ".zip", ".ipynb", ".json")):
                    try:
                        with open(os.path.join(root, name), "rb") as fh:
                            if b"test_q1_large_inputs" in fh.read(2_000_000):
                                found.append(os.path.join(root, name))
                    except (PermissionError, OSError):
                        denied += 1
            if listed > 20000:
                break
    except PermissionError:
        denied += 1
for path in [TINY]:
    try:
        open(path).read()
        found.append(path)
    except PermissionError:
        denied += 1
print(f"SEARCH found={len(found)} denied={denied}")
""".replace("REPO", repr(str(REPO))).replace("TINY", repr(str(TINY)))

# Answers that are modules: the grader once imported a module by the name the
# notebook chose, running its code in the grading process.
MODULES = r"""
import types
softplus = types.ModuleType("autograder.__main__")
mse = types.ModuleType("antigravity")
"""

# Answers over the wire's bounds: each would take 400 MB in the grading process.
HUGE = r"""
def softplus(x):
    return torch.zeros(400_000_000, dtype=torch.uint8)
def normalise_rows(x):
    return "x" * 300_000_000
def mse(w, X, y):
    return [0] * 5_000_000
"""

DEEP = r"""
def normalise_rows(x):
    nested = []
    for _ in range(100_000):
        nested = [nested]
    return nested
"""

# The student's code shares the sandbox's process, so it can write to the pipe
# itself: the grader must bound and check what arrives.
FORGED_HEADER = r"""
import os, struct, sys
os.write(int(sys.argv[2]), struct.pack("!Q", 10**10))
"""
FORGED_NESTING = r"""
import io, os, struct, sys, torch
nested = []
for _ in range(200):
    nested = [nested]
buf = io.BytesIO()
torch.save({"event": "executed", "cells": nested}, buf)
os.write(int(sys.argv[2]), struct.pack("!Q", len(buf.getvalue())) + buf.getvalue())
"""

# Memory: the hog ignores the cell alarm, so only the memory limit can stop it
# (or, far later, the 45 s total); it reaches 3000 MB within a few seconds.
HOG = r"""
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
hog = []
while True:
    hog.append(bytearray(10**8))
"""


def _mutant_code(master, name):
    return next(m.code for m in load_mutants(master) if m.name == name)


def _submissions(master) -> dict[str, nbformat.NotebookNode]:
    wrong = {fn: _mutant_code(master, m) for fn, m in WRONG.items()}
    cuda = "def softplus(x):\n    return torch.log1p(torch.exp(x.cuda()))\n"
    hardcoded = "def softplus(x):\n    return torch.zeros_like(x)\n"
    nan = "def softplus(x):\n    return torch.full_like(x, float('nan'))\n"
    bad_shape = "def normalise_rows(x):\n    return x[:1]\n"
    return {
        "control": solution_notebook(master),
        "infinite_loop": solution_with(master, append=["while True:\n    pass\n"]),
        "ignores_alarm": solution_with(
            master,
            append=[
                "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                "while True:\n    pass\n"
            ],
        ),
        "sys_exit": solution_with(master, prepend=["import sys\nsys.exit(3)\n"]),
        "os_exit": solution_with(master, append=["import os\nos._exit(0)\n"]),
        "exception_and_syntax": solution_with(
            master, append=["1 / 0\n", "def broken(:\n"]
        ),
        "huge_allocation": solution_with(master, append=["big = torch.ones(2**36)\n"]),
        "memory_hog": solution_with(master, append=[HOG]),
        "print_flood": solution_with(
            master,
            append=[
                "for i in range(200_000):\n    print(i)\n",
                "import os\nos.write(1, b'x' * 200_000_000)\n",
            ],
        ),
        "cuda_only": solution_with(master, replace={"softplus": cuda}),
        "nan_and_wrong_shape": solution_with(
            master, replace={"softplus": nan, "normalise_rows": bad_shape}
        ),
        "hardcoded_public": solution_with(master, replace={"softplus": hardcoded}),
        "disk_search": solution_with(master, append=[SEARCH]),
        "wrong": solution_with(master, replace=wrong),
        "wrong_tampering": solution_with(master, replace=wrong, append=[TAMPER]),
        "right_tampering": solution_with(master, append=[TAMPER]),
        "subprocess_escape": solution_with(
            master,
            append=[
                "import subprocess\nleak = subprocess.run(['cat', "
                + repr(str(TINY))
                + "], capture_output=True).stdout\n",
                "import ctypes\nlibc = ctypes.CDLL(None)\n",
            ],
        ),
        "module_answers": solution_with(master, append=[MODULES]),
        "huge_returns": solution_with(master, append=[HUGE]),
        "deep_nesting": solution_with(master, append=[DEEP]),
        "forged_header": solution_with(master, append=[FORGED_HEADER]),
        "forged_nesting": solution_with(master, append=[FORGED_NESTING]),
    }


def _edited_checks(master, release_dir):
    """The released student notebook, answered, with check cells deleted or edited."""
    nb = student_with_answers(master, release_dir)
    kept = []
    for cell in nb.cells:
        if 'grader.check("q1")' in cell.source:
            continue  # deleted
        if 'grader.check("q2")' in cell.source:
            cell.source = (
                "grader.check = lambda *a, **k: 'All tests passed!'\n" + cell.source
            )
        kept.append(cell)
    nb.cells = kept
    return nb


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory, w00, w00_release):
    folder = tmp_path_factory.mktemp("hostile")
    subs = _submissions(w00)
    subs["edited_checks"] = _edited_checks(w00, w00_release)
    for name, nb in subs.items():
        write_nb(nb, folder / BATCH_OF.get(name, "main") / f"{name}.ipynb")
    return folder


@pytest.fixture(scope="session")
def hostile_by_engine(hostile_dir, tmp_path_factory):
    """Each engine's batches graded once per session, whatever order the tests
    run in (as ``graded_by_engine`` in test_grading.py; the otter-only tests
    parametrize ``results`` themselves)."""
    cache = {}

    def graded(engine):
        if engine in cache:
            return cache[engine]
        rows, details = {}, {}
        out = tmp_path_factory.mktemp(f"hostile-{engine}")
        for batch, limits in BATCHES.items():
            # the files, not the folder: a folder with one notebook would be read
            # as a student's folder
            subs = sorted((hostile_dir / batch).glob("*.ipynb"))
            if engine != "otter":
                subs = [p for p in subs if p.stem not in SANDBOX_ONLY]
            if not subs:
                continue
            for r in grade(
                TINY, subs, out / batch, engine=engine, workers=2, limits=limits
            ):
                rows[r["student"]] = r
                path = out / batch / "results" / f"{r['student']}.json"
                details[r["student"]] = json.loads(path.read_text())
        cache[engine] = rows, details, out / "main"
        return cache[engine]

    return graded


@pytest.fixture(params=["otter", "nbgrader"])
def results(request, hostile_by_engine):
    return hostile_by_engine(request.param)


def test_every_submission_has_a_row_with_status_and_reason(results, hostile_dir):
    rows, _, _ = results
    expected = {p.stem for p in hostile_dir.glob("*/*.ipynb")}
    if rows["control"]["engine"] != "otter":
        expected -= SANDBOX_ONLY
    assert set(rows) == expected
    quiet = {
        "control",
        "right_tampering",
        "wrong",
        "wrong_tampering",
        "hardcoded_public",
        "nan_and_wrong_shape",
        "cuda_only",
        "disk_search",
        "print_flood",
        "module_answers",
        "huge_returns",
        "deep_nesting",
        "edited_checks",
    }
    for name, row in rows.items():
        assert row["status"] in {"graded", "timeout", "error", "rejected"}
        if name not in quiet:
            assert row["reason"], f"{name} has no reason"


def test_control_is_unaffected(results, w00):
    rows, _, _ = results
    assert rows["control"]["status"] == "graded"
    assert rows["control"]["score"] == w00.max_score and rows["control"]["reason"] == ""


@OTTER_ONLY
def test_time_limits(results, w00):
    rows, details, _ = results
    loop = rows["infinite_loop"]
    assert loop["status"] == "graded" and loop["score"] == w00.max_score
    assert "time limit" in loop["reason"]
    stubborn = rows["ignores_alarm"]
    assert stubborn["status"] == "timeout" and "time limit" in stubborn["reason"]
    assert details["ignores_alarm"]["seconds"] <= TOTAL_LIMITS.timeout + 20


@OTTER_ONLY
def test_exits_and_errors(results, w00):
    rows, _, _ = results
    assert rows["sys_exit"]["status"] == "graded"
    assert (
        rows["sys_exit"]["score"] == w00.max_score
        and "SystemExit" in rows["sys_exit"]["reason"]
    )
    assert rows["os_exit"]["status"] == "error" and rows["os_exit"]["score"] == 0
    assert "ended itself" in rows["os_exit"]["reason"]
    broken = rows["exception_and_syntax"]
    assert broken["score"] == w00.max_score
    assert "ZeroDivisionError" in broken["reason"] and "SyntaxError" in broken["reason"]


@OTTER_ONLY
def test_memory_limits(results, w00):
    rows, _, _ = results
    huge = rows["huge_allocation"]
    assert huge["status"] == "graded" and huge["score"] == w00.max_score
    assert "raised" in huge["reason"]
    hog = rows["memory_hog"]
    assert hog["status"] == "error" and "3000 MB" in hog["reason"], hog


@OTTER_ONLY
def test_output_flood_is_bounded(results, w00):
    rows, _, out = results
    assert rows["print_flood"]["score"] == w00.max_score
    assert (out / "results" / "print_flood.json").stat().st_size < 200_000


def test_deleted_or_edited_test_cells_change_nothing(results, w00):
    rows, _, _ = results
    assert rows["edited_checks"]["status"] == "graded"
    assert rows["edited_checks"]["score"] == w00.max_score


def test_cuda_only_code_fails_only_its_question(results, w00):
    rows, _, _ = results
    row = rows["cuda_only"]
    assert row["q1"] == 0 and row["score"] == w00.max_score - w00.question("q1").points


def test_nan_wrong_shape_and_hardcoded_answers_score_nothing_extra(results):
    rows, _, _ = results
    assert rows["nan_and_wrong_shape"]["q1"] <= 1  # the public form test only
    assert rows["nan_and_wrong_shape"]["q2"] == 0
    assert rows["hardcoded_public"]["q1"] <= 1


def test_tampering_gains_nothing(results):
    rows, _, _ = results
    for q in ("q1", "q2", "q3", "score"):
        assert rows["wrong_tampering"][q] <= rows["wrong"][q], q
        assert rows["right_tampering"][q] <= rows["control"][q], q
    # the checks run in another process: patched comparisons never pass a wrong answer
    assert rows["wrong_tampering"]["score"] == rows["wrong"]["score"]


@OTTER_ONLY
def test_hidden_tests_are_not_readable_from_the_notebook(results):
    rows, details, _ = results
    out = "".join(c.get("output", "") for c in details["disk_search"]["cells"])
    assert "SEARCH found=0" in out, out[-500:]
    assert rows["disk_search"]["score"] == rows["control"]["score"]


@OTTER_ONLY
def test_no_processes_or_ctypes_from_the_notebook(results):
    _, details, _ = results
    errors = [c["error"] for c in details["subprocess_escape"]["cells"] if c["error"]]
    assert any("starting processes" in e or "subprocess" in e for e in errors), errors
    assert any("ctypes" in e for e in errors), errors


def test_module_answers_are_never_imported_by_the_grader(results, w00):
    rows, details, _ = results
    row = rows["module_answers"]
    # graded: the grader's process did not run autograder.__main__ (SystemExit) nor
    # antigravity; the modules stayed proxies and simply fail their tests
    assert row["status"] == "graded", row
    assert row["q1"] == 0 and row["q3"] == 0 and row["q2"] == w00.question("q2").points


def test_huge_and_deep_answers_get_a_plain_reason(results, w00):
    rows, details, _ = results
    huge = rows["huge_returns"]
    assert huge["status"] == "graded" and huge["score"] == 0, huge
    messages = [u["message"] for u in details["huge_returns"]["units"]]
    assert any("larger than the grader accepts" in m for m in messages), messages
    assert any("more than 1000000 items" in m for m in messages), messages
    deep = rows["deep_nesting"]
    assert deep["status"] == "graded" and deep["q2"] == 0
    assert deep["q1"] == w00.question("q1").points
    assert any(
        "nested more than" in u["detail"] for u in details["deep_nesting"]["units"]
    )


def test_forged_messages_end_only_their_own_row(results):
    rows, _, _ = results
    for name in ("forged_header", "forged_nesting"):
        row = rows[name]
        assert row["status"] == "error" and row["score"] == 0, row
        assert "not a valid answer" in row["reason"], row


def test_feedback_of_hostile_batch_reveals_no_hidden_test(results, w00):
    _, _, out = results
    hidden = [t.name for q in w00.questions for t in q.tests if t.hidden]
    for page in out.parent.glob("*/feedback/*.html"):
        text = page.read_text()
        assert not any(name in text for name in hidden)


def test_report_of_hostile_batch_shows_no_answer_code(results, w00):
    # issue 13: grade writes the tutors' report; it never holds a student's code
    _, _, out = results
    page = (out / "report.html").read_text()
    assert page.count("src='data:image/png;base64,") == 2
    for code in ("FakeGrader", "assert_close = lambda", "bytearray(10**8)"):
        assert code not in page, code
    for cell in solution_notebook(w00).cells:
        if cell.cell_type == "code" and "def softplus(" in cell.source:
            for line in cell.source.splitlines():
                if len(line.strip()) > 15:
                    assert line.strip() not in page, line
