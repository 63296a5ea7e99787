"""Release: the artefacts exist, students get no solutions or hidden tests, and a
master whose solution fails or whose mutants survive is refused."""

import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.master import MasterError, find_master, load_master
from autograder.release import ReleaseError, leaks, verify

REPO = Path(__file__).resolve().parent.parent


def test_release_writes_every_artefact(w01_release):
    for rel in (
        "student/w01.ipynb",
        "solution/w01.ipynb",
        "autograder/w01-autograder.zip",
        "nbgrader/source/w01/w01.ipynb",
        "nbgrader/release/w01/w01.ipynb",
        "nbgrader/nbgrader_config.py",
    ):
        assert (w01_release / rel).is_file(), rel


def _hidden_snippets(master):
    """Each hidden test's name and its lines that appear nowhere public."""
    hidden_code = {t.code for q in master.questions for t in q.tests if t.hidden}
    public = "\n".join(
        c.source
        for c in master.notebook.cells
        if not any(h.strip() in c.source for h in hidden_code)
    )
    out = []
    for q in master.questions:
        for t in q.tests:
            if t.hidden:
                lines = [
                    ln.strip()
                    for ln in t.code.splitlines()
                    if len(ln.strip()) > 25
                    and "import" not in ln
                    and ln.strip() not in public
                ]
                out.append((t.name, lines))
    return out


@pytest.mark.parametrize("rel", ["student/w01.ipynb", "nbgrader/release/w01/w01.ipynb"])
def test_student_files_hold_no_solution_and_no_hidden_test(w01, w01_release, rel):
    text = (w01_release / rel).read_text()
    assert leaks(w01, text) == []
    for name, lines in _hidden_snippets(w01):
        assert name not in text
        for line in lines:
            assert line not in text, f"hidden test line leaked: {line}"
    # the answer cells are blanked
    nb = nbformat.read(w01_release / rel, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "torch.exp(shifted)" not in code
    assert "# BEGIN SOLUTION" not in code and "### BEGIN SOLUTION" not in code


def test_student_notebook_keeps_public_tests_and_says_hidden_tests_exist(w01_release):
    nb = nbformat.read(w01_release / "student/w01.ipynb", as_version=4)
    public = nb.metadata["otter"]["tests"]
    assert "test_q1_small_logits" in public["q1"]
    assert "hidden tests" in nb.cells[1].source.lower() or any(
        "hidden tests" in c.source.lower()
        for c in nb.cells
        if c.cell_type == "markdown"
    )
    assert nb.metadata["tmlbook"]["week"] == "w01"


def test_autograder_zip_holds_the_hidden_tests(w01_release):
    with zipfile.ZipFile(w01_release / "autograder/w01-autograder.zip") as zf:
        q1 = zf.read("tests/q1.py").decode()
    assert "test_q1_extreme_logits" in q1 and "hidden=True" in q1


def test_nbgrader_source_has_one_grade_cell_per_test(w01, w01_release):
    nb = nbformat.read(w01_release / "nbgrader/source/w01/w01.ipynb", as_version=4)
    grades = [
        c.metadata["nbgrader"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    ]
    assert len(grades) == sum(len(q.tests) for q in w01.questions)
    assert sum(g["points"] for g in grades) == pytest.approx(w01.max_score)
    assert all(g["locked"] for g in grades)


def test_solution_notebook_has_answers_and_no_tests(w01_release):
    nb = nbformat.read(w01_release / "solution/w01.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "torch.exp(shifted)" in code
    assert "def test_" not in code and "BEGIN SOLUTION" not in code


def test_wrong_week_names_are_clear_errors():
    with pytest.raises(MasterError, match="no exercise named 'w99'; available: .*w01"):
        find_master("w99")
    with pytest.raises(MasterError, match="not a week name"):
        find_master("week1")
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "release", "w99", "--out", "/tmp/never"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "no exercise named 'w99'" in proc.stderr


TINY = '''---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

```{raw-cell}
# ASSIGNMENT CONFIG
name: w98
run_tests: false
tests:
  ok_format: false
  files: false
```

```{raw-cell}
# BEGIN QUESTION
name: q1
points: 2
```

Double a number.

```{raw-cell}
# BEGIN SOLUTION
```

```{code-cell} ipython3
def double(x):
    # BEGIN SOLUTION
    return SOLUTION_BODY
    # END SOLUTION
```

```{raw-cell}
# END SOLUTION
```

```{raw-cell}
# BEGIN TESTS
```

```{code-cell} ipython3
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_public(double):
    assert double(1) == 2
```

```{code-cell} ipython3
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_hidden(double):
    assert double(21) == 42
```

```{raw-cell}
# END TESTS
```

```{raw-cell}
# END QUESTION
```
'''


@pytest.fixture
def tiny_exercises(tmp_path, monkeypatch):
    import autograder.master as master_mod

    def write(solution_body: str, mutant_body: str):
        folder = tmp_path / "w98-tiny"
        (folder / "mutants").mkdir(parents=True, exist_ok=True)
        (folder / "w98.md").write_text(TINY.replace("SOLUTION_BODY", solution_body))
        (folder / "mutants" / "q1_wrong.py").write_text(
            f"# why: a test mutant\ndef double(x):\n    return {mutant_body}\n"
        )
        return load_master("w98")

    monkeypatch.setattr(master_mod, "EXERCISES", tmp_path)
    return write


def test_verify_accepts_a_good_master(tiny_exercises):
    master = tiny_exercises("2 * x", "x + 1")  # x + 1 passes the public test only
    report = verify(master)
    assert report["solution"]["score"] == 2
    assert report["mutants"]["q1_wrong"]["question_score"] == 1


def test_release_refuses_a_surviving_mutant(tiny_exercises):
    master = tiny_exercises("2 * x", "x + x")
    with pytest.raises(ReleaseError, match="mutant q1_wrong keeps all 2 points"):
        verify(master)


def test_release_refuses_a_failing_solution(tiny_exercises):
    master = tiny_exercises("x + 1", "0")
    with pytest.raises(ReleaseError, match="the solution scores 1/2"):
        verify(master)


def test_release_refuses_a_mutant_that_fails_its_public_tests(tiny_exercises):
    # caught, but by the public test a student sees: it proves nothing about the
    # hidden tests, so release calls it a badly written mutant
    master = tiny_exercises("2 * x", "0")
    with pytest.raises(ReleaseError, match="fails the public test test_public"):
        verify(master)


def test_release_refuses_a_mutant_that_breaks_before_the_tests(tiny_exercises):
    master = tiny_exercises("2 * x", "undefined_name")  # NameError in every call
    with pytest.raises(ReleaseError, match="badly written mutant"):
        verify(master)


def test_full_verification_grades_every_question(tiny_exercises):
    master = tiny_exercises("2 * x", "x + 1")
    report = verify(master, full=True)
    assert report["full"] and report["mutants"]["q1_wrong"]["questions"] == {"q1": 1}
