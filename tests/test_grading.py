"""Grading: one full end-to-end run of week 1 per engine (grades.csv, feedback,
engines agreeing), then every submission form, shards, regrades and the CLI on the
tiny w00 master."""

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.grade import grade
from autograder.master import load_mutants, mutant_notebook, solution_notebook
from autograder.merge import merge
from autograder.runner import Limits
from conftest import TINY, write_nb

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(timeout=300, cell_timeout=120, call_timeout=120)


def _first_mutants(master):
    """One mutant per question (release verification grades all of them)."""
    mutants = load_mutants(master)
    return [next(m for m in mutants if m.question == q.name) for q in master.questions]


@pytest.fixture(scope="session")
def batch(tmp_path_factory, w01):
    """Solution + one mutant per question, each on the whole notebook."""
    folder = tmp_path_factory.mktemp("subs")
    write_nb(solution_notebook(w01), folder / "solution.ipynb")
    for mutant in _first_mutants(w01):
        write_nb(mutant_notebook(w01, mutant), folder / f"mutant_{mutant.name}.ipynb")
    return folder


@pytest.fixture(scope="session")
def graded_by_engine(batch, tmp_path_factory):
    """The batch graded once per engine, shared by the tests below."""
    cache = {}

    def graded(engine):
        if engine not in cache:
            out = tmp_path_factory.mktemp(f"grades-{engine}")
            rows = grade("w01", [batch], out, engine=engine, workers=2, limits=LIMITS)
            cache[engine] = (engine, out, {r["student"]: r for r in rows})
        return cache[engine]

    return graded


@pytest.fixture(params=["otter", "nbgrader"])
def graded(request, graded_by_engine):
    return graded_by_engine(request.param)


def test_solution_full_marks_and_every_mutant_loses_on_its_own_question(graded, w01):
    engine, _, rows = graded
    sol = rows["solution"]
    assert sol["status"] == "graded" and sol["score"] == w01.max_score, sol
    for mutant in _first_mutants(w01):
        row = rows[f"mutant_{mutant.name}"]
        assert row["status"] == "graded", row
        full = w01.question(mutant.question).points
        assert row[mutant.question] < full, f"{engine}: {mutant.name} survived"
        for q in w01.questions:
            if q.name != mutant.question:
                assert row[q.name] == q.points, (mutant.name, q.name, row)


def test_grades_csv_has_one_row_per_submission_and_the_columns(graded, batch):
    engine, out, rows = graded
    with open(out / "grades.csv") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == [
            "student",
            "week",
            "engine",
            "status",
            "score",
            "max_score",
            "reason",
            "q1",
            "q2",
            "q3",
            "q4",
        ]
        written = list(reader)
    assert len(written) == len(list(batch.glob("*.ipynb")))
    assert [r["student"] for r in written] == sorted(r["student"] for r in written)
    assert {r["engine"] for r in written} == {engine}
    for r in written:
        assert (out / "feedback" / f"{r['student']}.html").is_file()
        assert (out / "results" / f"{r['student']}.json").is_file()


def test_feedback_never_shows_hidden_tests(graded, w01):
    _, out, _ = graded
    hidden = [t for q in w01.questions for t in q.tests if t.hidden]
    for page in (out / "feedback").glob("*.html"):
        text = page.read_text()
        for t in hidden:
            assert t.name not in text
            body = [ln.strip() for ln in t.code.splitlines() if "assert" in ln]
            for line in body:
                assert line not in text
        assert "Traceback" not in text


def test_engines_agree_per_question(graded_by_engine, w01):
    # nbgrader's one-grade-cell-per-test conversion reproduces otter's scores
    otter = graded_by_engine("otter")[2]
    nbg = graded_by_engine("nbgrader")[2]
    assert otter.keys() == nbg.keys()
    for student in otter:
        for q in w01.questions:
            assert otter[student][q.name] == nbg[student][q.name], (student, q.name)


def test_submission_forms_zip_folder_renamed(tmp_path, w00):
    sol = solution_notebook(w00)
    write_nb(sol, tmp_path / "in" / "ana" / "w00.ipynb")  # folder
    write_nb(
        sol, tmp_path / "in" / "ben" / "Copy of w00 (1).ipynb"
    )  # renamed, in folder
    write_nb(sol, tmp_path / "in" / "my notebook (final).ipynb")  # renamed file
    write_nb(sol, tmp_path / "zipped" / "w00.ipynb")
    with zipfile.ZipFile(tmp_path / "in" / "cleo.zip", "w") as zf:  # otter export
        zf.write(tmp_path / "zipped" / "w00.ipynb", "w00.ipynb")
        zf.writestr("../../evil.txt", "zip slip attempt")
    rows = grade(TINY, [tmp_path / "in"], tmp_path / "out", workers=2, limits=LIMITS)
    by = {r["student"]: r for r in rows}
    assert set(by) == {"ana", "ben", "cleo", "my_notebook_final"}
    assert all(r["score"] == w00.max_score for r in rows), rows
    assert "expected w00.ipynb" in by["ben"]["reason"]
    assert not (tmp_path / "evil.txt").exists()


def test_rejected_submissions_get_a_row_and_a_reason(tmp_path, w00):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "garbage.ipynb").write_text("{not json")
    (folder / "essay.zip").write_bytes(b"PK not really a zip")
    other = solution_notebook(w00)
    other.metadata["otter"] = {"assignment_name": "w02"}
    write_nb(other, folder / "wrong_week.ipynb")
    (folder / "empty").mkdir()
    rows = grade(TINY, [folder], tmp_path / "out", limits=LIMITS, workers=2)
    by = {r["student"]: r for r in rows}
    assert (
        by["garbage"]["status"] == "rejected"
        and "not a valid notebook" in by["garbage"]["reason"]
    )
    assert by["essay"]["status"] == "rejected" and "zip" in by["essay"]["reason"]
    assert by["wrong_week"]["status"] == "rejected"
    assert "notebook for w02, not w00" in by["wrong_week"]["reason"]
    assert by["empty"]["status"] == "rejected"
    assert all(r["score"] == 0 for r in rows)


def test_regrading_gives_an_identical_csv(w00, tmp_path):
    mutant = load_mutants(w00)[0]
    subs = [write_nb(mutant_notebook(w00, mutant), tmp_path / "in" / "m.ipynb")]
    grade(TINY, subs, tmp_path / "a", limits=LIMITS, workers=2)
    grade(TINY, subs, tmp_path / "b", limits=LIMITS, workers=1)
    assert (tmp_path / "a" / "grades.csv").read_bytes() == (
        tmp_path / "b" / "grades.csv"
    ).read_bytes()


def test_shards_merge_back_into_the_whole(tmp_path, w00):
    folder = tmp_path / "in"
    for name in ("s1", "s2", "s3"):
        (folder / name).mkdir(parents=True)
        (folder / name / "w00.ipynb").write_text("{}")  # quick: rejected rows
    parts = []
    for i in (1, 2):
        out = tmp_path / f"part{i}"
        grade(TINY, [folder], out, shard=f"{i}/2", limits=LIMITS)
        parts.append(out)
    merged = merge(parts, tmp_path / "all")
    assert [r["student"] for r in merged] == ["s1", "s2", "s3"]
    with pytest.raises(ValueError, match="graded twice"):
        merge([parts[0], parts[0]], tmp_path / "dup")
    with pytest.raises(ValueError, match="gap"):
        merge([parts[0]], tmp_path / "gap")
    with pytest.raises(ValueError, match="I/N"):
        grade(TINY, [folder], tmp_path / "x", shard="3")


def test_cli_grade_and_help(tmp_path, w00):
    write_nb(solution_notebook(w00), tmp_path / "zoe.ipynb")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(TINY),
            str(tmp_path / "zoe.ipynb"),
            "--out",
            str(tmp_path / "out"),
            "--engine",
            "nbgrader",
            "--timeout",
            "300",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "zoe" in proc.stdout and "7 / 7" in proc.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "w99",
            str(tmp_path / "zoe.ipynb"),
            "--out",
            str(tmp_path / "o2"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert bad.returncode == 2 and "no exercise named 'w99'" in bad.stderr
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(TINY),
            str(tmp_path / "nobody.ipynb"),
            "--out",
            str(tmp_path / "o3"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    helps = subprocess.run(
        [sys.executable, "-m", "autograder", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    for command in ("release", "grade", "merge", "similarity"):
        assert command in helps.stdout
