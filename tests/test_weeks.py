"""Every week's master, picked up by itself when a week is added.

``release`` verifies a week before it writes anything: the solution scores full
marks, and each mutant, graded on the setup cells and its own question, passes that
question's public tests and loses points there through hidden tests.  A week thus
costs its solution's grading plus a few seconds per mutant.  Week 1 is released with
``--check-otter``: otter's own runner (the Gradescope zip) and both engines must give
the solution and every mutant the same score on every question.
"""

import json

import pytest

from autograder.master import available_weeks, load_master, load_mutants
from autograder.release import leaks, release
from autograder.runner import Limits, plan_for, run_plan

WEEKS = available_weeks()
LIMITS = Limits(timeout=300, cell_timeout=120, call_timeout=120)


def _code_cells(nb):
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


@pytest.mark.parametrize("week", WEEKS)
def test_week_releases_verified_and_without_leaks(week, tmp_path):
    master = load_master(week)
    mutants = load_mutants(master)
    assert {m.question for m in mutants} == {q.name for q in master.questions}
    target = release(week, tmp_path, limits=LIMITS, check_otter=week == "w01")
    report = json.loads((target / "verification.json").read_text())
    if week == "w01":
        assert set(report["otter_run"]) == {"solution", *(m.name for m in mutants)}
        report = report["otter"]
    assert report["solution"]["score"] == master.max_score
    assert set(report["mutants"]) == {m.name for m in mutants}
    for rel in (f"student/{week}.ipynb", f"nbgrader/release/{week}/{week}.ipynb"):
        assert leaks(master, (target / rel).read_text()) == [], rel
    assert (target / "autograder" / f"{week}-autograder.zip").is_file()


@pytest.mark.parametrize("week", [w for w in WEEKS if w != "w01"])
def test_nbgrader_engine_gives_the_solution_full_marks(week):
    from autograder.master import solution_notebook

    master = load_master(week)
    out = run_plan(
        _code_cells(solution_notebook(master)), plan_for(master, "nbgrader"), LIMITS
    )
    failing = [(u.name, u.message) for u in out.units if not u.passed]
    assert out.status == "graded" and out.score == master.max_score, failing
