"""Broken and hostile submissions (issue: grading pipeline tutors can trust).

One batch per engine holds a control (the solution) and one submission per attack.
For each: the batch finishes, the submission has a row with a status and a plain
reason, the control's row is unaffected, tampering gains no points, the notebook
cannot read the hidden tests, and limits hold.
"""

import json
from pathlib import Path

import nbformat
import pytest

from autograder.grade import grade
from autograder.master import load_mutants, solution_notebook
from autograder.runner import Limits
from conftest import solution_with, student_with_answers, write_nb

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(timeout=45, cell_timeout=8, call_timeout=30, memory_mb=3000)

WRONG = {  # a wrong answer to every question (the mutants' code)
    "cross_entropy": "q1_sum_not_mean",
    "select_weight_decay": "q2_picks_worst",
    "gap_by_size": "q3_train_minus_test",
    "add_shortcut_feature": "q4_off_by_one",
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
targets = [REPO, os.path.join(REPO, "exercises"), "/tmp", "/", os.path.expanduser("~")]
for top in targets:
    try:
        for root, dirs, files in os.walk(top):
            listed += 1
            for name in files:
                if name.endswith((".md", ".py", ".zip", ".ipynb", ".json")):
                    try:
                        with open(os.path.join(root, name), "rb") as fh:
                            if b"test_q1_extreme_logits" in fh.read(2_000_000):
                                found.append(os.path.join(root, name))
                    except (PermissionError, OSError):
                        denied += 1
            if listed > 20000:
                break
    except PermissionError:
        denied += 1
for path in [os.path.join(REPO, "exercises", "w01-foundations", "w01.md")]:
    try:
        open(path).read()
        found.append(path)
    except PermissionError:
        denied += 1
print(f"SEARCH found={len(found)} denied={denied}")
""".replace("REPO", repr(str(REPO)))


def _mutant_code(master, name):
    return next(m.code for m in load_mutants(master) if m.name == name)


def _submissions(master) -> dict[str, nbformat.NotebookNode]:
    wrong = {fn: _mutant_code(master, m) for fn, m in WRONG.items()}
    ce_cuda = (
        "def cross_entropy(logits, y):\n    logits = logits.cuda()\n"
        "    return torch.nn.functional.cross_entropy(logits, y.cuda())\n"
    )
    hardcoded = (
        "def cross_entropy(logits, y):\n"
        "    return torch.tensor(1.2927, dtype=torch.float64)  # public value\n"
    )
    nan = "def cross_entropy(logits, y):\n    return torch.tensor(float('nan'))\n"
    bad_shape = (
        "def add_shortcut_feature(X, y, flip=False, strength=1.0):\n"
        "    return X.clone()\n"
    )
    subs = {
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
        "memory_hog": solution_with(
            master,
            append=[
                "hog = []\nfor _ in range(40):\n    hog.append(bytearray(10**8))\n"
            ],
        ),
        "print_flood": solution_with(
            master,
            append=[
                "for i in range(2_000_000):\n    print(i)\n",
                "import os\nos.write(1, b'x' * 200_000_000)\n",
            ],
        ),
        "cuda_only": solution_with(master, replace={"cross_entropy": ce_cuda}),
        "nan_and_wrong_shape": solution_with(
            master, replace={"cross_entropy": nan, "add_shortcut_feature": bad_shape}
        ),
        "hardcoded_public": solution_with(master, replace={"cross_entropy": hardcoded}),
        "disk_search": solution_with(master, append=[SEARCH]),
        "wrong": solution_with(master, replace=wrong),
        "wrong_tampering": solution_with(master, replace=wrong, append=[TAMPER]),
        "right_tampering": solution_with(master, append=[TAMPER]),
        "subprocess_escape": solution_with(
            master,
            append=[
                "import subprocess\nleak = subprocess.run(['cat', "
                + repr(str(REPO / "exercises/w01-foundations/w01.md"))
                + "], capture_output=True).stdout\n",
                "import ctypes\nlibc = ctypes.CDLL(None)\n",
            ],
        ),
    }
    # an otter student notebook with answers pasted in and its check cells edited
    return subs


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


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory, w01, w01_release):
    folder = tmp_path_factory.mktemp("hostile")
    subs = _submissions(w01)
    subs["edited_checks"] = _edited_checks(w01, w01_release)
    for name, nb in subs.items():
        write_nb(nb, folder / f"{name}.ipynb")
    return folder


_RESULTS = {}


@pytest.fixture(scope="module", params=["otter", "nbgrader"])
def results(request, hostile_dir, tmp_path_factory):
    engine = request.param
    if engine not in _RESULTS:
        out = tmp_path_factory.mktemp(f"hostile-{engine}")
        rows = grade("w01", [hostile_dir], out, engine=engine, workers=2, limits=LIMITS)
        details = {
            r["student"]: json.loads(
                (out / "results" / f"{r['student']}.json").read_text()
            )
            for r in rows
        }
        _RESULTS[engine] = ({r["student"]: r for r in rows}, details, out)
    return _RESULTS[engine]


def test_every_submission_has_a_row_with_status_and_reason(results, hostile_dir):
    rows, _, _ = results
    assert set(rows) == {p.stem for p in hostile_dir.glob("*.ipynb")}
    for name, row in rows.items():
        assert row["status"] in {"graded", "timeout", "error", "rejected"}
        if name not in (
            "control",
            "right_tampering",
            "wrong",
            "wrong_tampering",
            "hardcoded_public",
            "nan_and_wrong_shape",
            "cuda_only",
            "disk_search",
            "print_flood",
        ):
            assert row["reason"], f"{name} has no reason"


def test_control_is_unaffected(results, w01):
    rows, _, _ = results
    assert rows["control"]["status"] == "graded"
    assert rows["control"]["score"] == w01.max_score and rows["control"]["reason"] == ""


def test_time_limits(results, w01):
    rows, details, _ = results
    loop = rows["infinite_loop"]
    assert loop["status"] == "graded" and loop["score"] == w01.max_score
    assert "time limit" in loop["reason"]
    stubborn = rows["ignores_alarm"]
    assert stubborn["status"] == "timeout" and "time limit" in stubborn["reason"]
    assert details["ignores_alarm"]["seconds"] <= LIMITS.timeout + 20


def test_exits_and_errors(results, w01):
    rows, _, _ = results
    assert rows["sys_exit"]["status"] == "graded"
    assert (
        rows["sys_exit"]["score"] == w01.max_score
        and "SystemExit" in rows["sys_exit"]["reason"]
    )
    assert rows["os_exit"]["status"] == "error" and rows["os_exit"]["score"] == 0
    assert "ended itself" in rows["os_exit"]["reason"]
    broken = rows["exception_and_syntax"]
    assert broken["score"] == w01.max_score
    assert "ZeroDivisionError" in broken["reason"] and "SyntaxError" in broken["reason"]


def test_memory_limits(results, w01):
    rows, _, _ = results
    huge = rows["huge_allocation"]
    assert huge["status"] == "graded" and huge["score"] == w01.max_score
    assert "raised" in huge["reason"]
    hog = rows["memory_hog"]
    assert hog["status"] == "error" and "3000 MB" in hog["reason"]


def test_output_flood_is_bounded(results, w01):
    rows, details, out = results
    assert rows["print_flood"]["score"] == w01.max_score
    assert (out / "results" / "print_flood.json").stat().st_size < 200_000


def test_deleted_or_edited_test_cells_change_nothing(results, w01):
    rows, _, _ = results
    assert rows["edited_checks"]["status"] == "graded"
    assert rows["edited_checks"]["score"] == w01.max_score


def test_cuda_only_code_fails_only_its_question(results, w01):
    rows, _, _ = results
    row = rows["cuda_only"]
    assert row["q1"] == 0 and row["score"] == w01.max_score - w01.question("q1").points


def test_nan_wrong_shape_and_hardcoded_answers_score_nothing_extra(results, w01):
    rows, _, _ = results
    assert (
        rows["nan_and_wrong_shape"]["q1"] == 0 and rows["nan_and_wrong_shape"]["q4"] < 3
    )
    hard = rows["hardcoded_public"]
    assert hard["q1"] <= 1  # at most the public test it copied


def test_tampering_gains_nothing(results):
    rows, _, _ = results
    for q in ("q1", "q2", "q3", "q4", "score"):
        assert rows["wrong_tampering"][q] <= rows["wrong"][q], q
        assert rows["right_tampering"][q] <= rows["control"][q], q
    # the checks run in another process: patched comparisons never pass a wrong answer
    assert rows["wrong_tampering"]["score"] == rows["wrong"]["score"]


def test_hidden_tests_are_not_readable_from_the_notebook(results):
    rows, details, _ = results
    cells = details["disk_search"]["cells"]
    out = "".join(c.get("output", "") for c in cells)
    assert "SEARCH found=0" in out, out[-500:]
    assert rows["disk_search"]["score"] == rows["control"]["score"]


def test_no_processes_or_ctypes_from_the_notebook(results):
    _, details, _ = results
    errors = [c["error"] for c in details["subprocess_escape"]["cells"] if c["error"]]
    assert any("starting processes" in e or "subprocess" in e for e in errors), errors
    assert any("ctypes" in e for e in errors), errors


def test_feedback_of_hostile_batch_reveals_no_hidden_test(results, w01):
    _, _, out = results
    hidden = [t.name for q in w01.questions for t in q.tests if t.hidden]
    for page in (out / "feedback").glob("*.html"):
        text = page.read_text()
        assert not any(name in text for name in hidden)


def test_report_of_hostile_batch_shows_no_answer_code(results, w01):
    # issue 13: grade writes the tutors' report; it never holds a student's code
    _, _, out = results
    page = (out / "report.html").read_text()
    assert page.count("src='data:image/png;base64,") == 2
    for code in ("FakeGrader", "assert_close = lambda", "bytearray(10**8)"):
        assert code not in page, code
    solution = solution_notebook(w01)
    for cell in solution.cells:
        if cell.cell_type == "code" and "def cross_entropy(" in cell.source:
            for line in cell.source.splitlines():
                if len(line.strip()) > 15:
                    assert line.strip() not in page, line
