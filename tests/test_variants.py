"""Seeded exam variants (issue 11): each student's exam has its own numbers, the
grader checks each student against their own, and a copied notebook loses them."""

import nbformat
import pytest

from autograder.grade import grade
from autograder.master import load_master, solution_notebook
from autograder.release import ReleaseError, release
from autograder.runner import Limits, plan_for
from autograder.variants import is_variant_master, variant_seed, with_variant
from conftest import REPO, write_nb

EXAM = REPO / "tests" / "fixtures" / "w98-exam" / "w98.md"
LIMITS = Limits(timeout=120, cell_timeout=60, call_timeout=60)


def test_seeds_are_stable_distinct_and_never_the_practice_variant():
    seeds = {variant_seed("w08", f"s{k}") for k in range(2000)}
    assert len(seeds) > 1990 and 0 not in seeds
    assert all(1 <= s <= 999_999 for s in seeds)
    assert variant_seed("w08", "alice") == variant_seed("w08", " alice ")
    assert variant_seed("w08", "alice") != variant_seed("w16", "alice")
    with pytest.raises(ValueError, match="non-empty student id"):
        variant_seed("w08", " ")


def test_with_variant_rewrites_exactly_the_one_line():
    master = load_master(EXAM)
    assert is_variant_master(master.notebook)
    assert plan_for(master, "otter").variants
    nb = with_variant(solution_notebook(master), 4711)
    text = "\n".join(c.source for c in nb.cells)
    assert "VARIANT = 4711  # your exam variant" in text and "VARIANT = 0" not in text
    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="0 lines"):
        with_variant(bare, 3)


@pytest.fixture(scope="module")
def exam_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("exam")
    return release(EXAM, out, variants=["alice", "bob"], limits=LIMITS)


def test_release_writes_each_students_variant(exam_release):
    import json

    seeds = {s: variant_seed("w98", s) for s in ("alice", "bob")}
    for sid, seed in seeds.items():
        nb = nbformat.read(
            exam_release / "student" / "variants" / f"w98-{sid}.ipynb", as_version=4
        )
        assert nb.metadata["tmlbook"]["variant"] == seed
        assert any(f"VARIANT = {seed}" in c.source for c in nb.cells)
    report = json.loads((exam_release / "verification.json").read_text())
    assert {s: v["score"] for s, v in report["variants"].items()} == {
        "alice": 3.0,
        "bob": 3.0,
    }


def test_release_refuses_variants_of_a_week_without_them(tmp_path):
    with pytest.raises(ReleaseError, match="has no variants"):
        release("w01", tmp_path, check=False, variants=["alice"])
    with pytest.raises(ReleaseError, match="as the grader names"):
        release(EXAM, tmp_path, check=False, variants=["al ice"])


def test_each_student_is_graded_against_their_own_numbers(tmp_path):
    """Two variants give different expected values, each variant's correct answers
    score full marks, and a notebook copied from another student loses the
    numbers' points (and says why) but keeps the rest."""
    master = load_master(EXAM)
    sol = solution_notebook(master)
    alice = with_variant(sol, variant_seed("w98", "alice"))
    bob = with_variant(sol, variant_seed("w98", "bob"))
    write_nb(alice, tmp_path / "in" / "alice.ipynb")
    write_nb(bob, tmp_path / "in" / "bob.ipynb")
    write_nb(alice, tmp_path / "in" / "carol.ipynb")  # carol copied alice's
    rows = grade(EXAM, [tmp_path / "in"], tmp_path / "out", workers=2, limits=LIMITS)
    by = {r["student"]: r for r in rows}
    assert by["alice"]["score"] == by["bob"]["score"] == 3.0, rows
    assert by["carol"]["q1"] == 1.0 and by["carol"]["q2"] == 1.0  # public + q2 kept
    assert "graded against variant" in by["carol"]["reason"]
    assert by["alice"]["reason"] == "" and by["bob"]["reason"] == ""
    page = (tmp_path / "out" / "feedback" / "carol.html").read_text()
    assert f"exam variant {variant_seed('w98', 'carol')}" in page
