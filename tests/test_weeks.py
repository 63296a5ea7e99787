"""Every week's master: releases without leaks; its solution scores full marks and
each mutant loses points on its own question (otter engine: every mutant; nbgrader
engine: the solution and one mutant per question; test_grading checks on week 1
that both engines agree test by test)."""

import pytest

from autograder.grade import grade
from autograder.master import (
    available_weeks,
    load_master,
    load_mutants,
    mutant_notebook,
    solution_notebook,
)
from autograder.release import leaks, release
from autograder.runner import Limits
from conftest import write_nb

LATER_WEEKS = [w for w in available_weeks() if w != "w01"]  # w01: test_grading.py
LIMITS = Limits(timeout=300, cell_timeout=120, call_timeout=120)


@pytest.mark.parametrize("week", LATER_WEEKS)
def test_release_has_no_leaks(week, tmp_path):
    master = load_master(week)
    target = release(week, tmp_path, check=False)
    for rel in (f"student/{week}.ipynb", f"nbgrader/release/{week}/{week}.ipynb"):
        assert leaks(master, (target / rel).read_text()) == [], rel
    assert (target / "autograder" / f"{week}-autograder.zip").is_file()


def _check(master, rows, mutants):
    by = {r["student"]: r for r in rows}
    sol = by["solution"]
    assert sol["status"] == "graded" and sol["score"] == master.max_score, sol
    for mutant in mutants:
        row = by[f"mutant_{mutant.name}"]
        full = master.question(mutant.question).points
        assert row[mutant.question] < full, f"{mutant.name} survived: {row}"
        for q in master.questions:
            if q.name != mutant.question:
                assert row[q.name] == q.points, (mutant.name, q.name, row)


@pytest.mark.parametrize("engine", ["otter", "nbgrader"])
@pytest.mark.parametrize("week", LATER_WEEKS)
def test_solution_full_marks_mutants_lose_points(week, engine, tmp_path):
    master = load_master(week)
    mutants = load_mutants(master)
    assert {m.question for m in mutants} == {q.name for q in master.questions}
    if engine == "nbgrader":
        mutants = [
            next(m for m in mutants if m.question == q.name) for q in master.questions
        ]
    write_nb(solution_notebook(master), tmp_path / "subs" / "solution.ipynb")
    for m in mutants:
        write_nb(
            mutant_notebook(master, m), tmp_path / "subs" / f"mutant_{m.name}.ipynb"
        )
    rows = grade(
        week,
        [tmp_path / "subs"],
        tmp_path / "out",
        engine=engine,
        workers=2,
        limits=LIMITS,
    )
    _check(master, rows, mutants)
