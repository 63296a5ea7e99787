"""The tutors' grading report (issue 13): one self-contained HTML page."""

import re
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest

from autograder import deadlines
from autograder.grade import grade
from autograder.report import render
from autograder.runner import Limits
from autograder.similarity import similarity
from conftest import write_nb
from tutor_helpers import tiny_notebook, wrong_q1

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(timeout=240, cell_timeout=60, call_timeout=60)
CANARY = "zebra_canary_7319"
DUE = "2026-01-15 23:59 UTC"


def _answer_with_canary(master) -> str:
    """The q1 solution with a distinctive comment, name and string in it."""
    source = tiny_notebook(master).cells[1].source
    return f"# {CANARY}: my own helper\n{CANARY} = '{CANARY.upper()}'\n" + source


@pytest.fixture(scope="module")
def graded(tmp_path_factory, w01):
    folder = tmp_path_factory.mktemp("report-in")
    write_nb(tiny_notebook(w01, _answer_with_canary(w01)), folder / "ada.ipynb")
    write_nb(tiny_notebook(w01, wrong_q1(w01)), folder / "max.ipynb")
    (folder / "max.timestamp.txt").write_text("2026-01-16 03:00 UTC")
    (folder / "ada.timestamp.txt").write_text("2026-01-15 20:00 UTC")
    (folder / "junk.ipynb").write_text("{not a notebook")
    out = tmp_path_factory.mktemp("report-out")
    deadline = deadlines.Deadline(deadlines.parse_due(DUE), 0, "zero")
    grade("w01", [folder], out, workers=2, limits=LIMITS, deadline=deadline)
    sim = tmp_path_factory.mktemp("report-sim")
    similarity("w01", [folder], sim)
    return folder, out, sim


def test_grade_writes_the_report_with_every_section(graded, w01):
    _, out, _ = graded
    page = (out / "report.html").read_text()
    for heading in (
        "Scores",
        "Questions",
        "Hidden tests failed most often",
        "Status",
        "Time and memory per submission",
        "Late submissions",
        "Most similar pairs",
    ):
        assert f"<h2>{heading}</h2>" in page, heading
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 2
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    # the hidden tests that failed, with their authors' messages (tutor-only)
    hidden = {t.name: t for q in w01.questions for t in q.tests if t.hidden}
    assert "test_q1_extreme_logits" in page
    assert escape(hidden["test_q1_extreme_logits"].failure_message)[:40] in page
    assert "rejected" in page and "not a valid notebook" in page
    assert "max" in page.split("<h2>Late submissions</h2>")[1]


def test_report_holds_no_answer_code(graded, w01):
    _, out, sim = graded
    page = render(out, sim)
    assert CANARY not in page and CANARY.upper() not in page
    for line in tiny_notebook(w01).cells[1].source.splitlines():
        if len(line.strip()) > 12:
            assert line.strip() not in page, line


def test_report_command_adds_the_similar_pairs(graded, tmp_path):
    _, out, sim = graded
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "report",
            str(out),
            "--similarity",
            str(sim),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "report.html").read_text()
    pairs = page.split("<h2>Most similar pairs</h2>")[1]
    assert "<td>ada</td><td>max</td>" in pairs
    assert CANARY not in page
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "report",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert missing.returncode == 2 and "grades.csv is missing" in missing.stderr


def test_report_renders_in_a_browser(graded):
    _, out, _ = graded
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-1000:]
    dom = proc.stdout
    assert "grading report" in dom
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', dom)) == 2


def test_report_of_a_batch_with_nothing_graded(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.ipynb").write_text("[]")
    (folder / "b.ipynb").write_text("{}")
    out = tmp_path / "out"
    grade("w01", [folder], out, limits=LIMITS)
    page = (out / "report.html").read_text()
    assert "No hidden test failed." in page and "No due date was given" in page
    assert "<tr><td>rejected</td><td class='n'>2</td></tr>" in page
