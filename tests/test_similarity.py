"""The similarity report finds copied answers despite renaming and comments."""

import csv

from autograder.master import solution_notebook
from autograder.similarity import normalise, similarity
from conftest import solution_with, write_nb

DISGUISED = """def cross_entropy(z, labels):
    # my own work, honestly
    top = z.max(dim=1, keepdim=True).values
    centred = z - top
    norm = torch.log(torch.exp(centred).sum(dim=1, keepdim=True))
    lp = centred - norm
    return -lp.gather(1, labels.long().view(-1, 1)).mean()
"""

OWN = """def cross_entropy(logits, y):
    n = logits.shape[0]
    total = 0.0
    for i in range(n):
        row = logits[i]
        m = torch.max(row)
        total = total + (m + torch.log(torch.sum(torch.exp(row - m))) - row[y[i]])
    return total / n
"""


def test_normalise_ignores_names_comments_and_layout():
    a = normalise("def f(x):\n    # hi\n    return x + 1\n")
    b = normalise("def g(value):\n\n    return value+1  # other\n")
    assert a == b
    assert normalise("x.mean()") == normalise("y.mean()")
    assert normalise("x.mean()") != normalise("x.sum()")


def test_similarity_ranks_the_copied_pair_first(tmp_path, w01):
    sol = solution_notebook(w01)
    write_nb(sol, tmp_path / "subs" / "alice.ipynb")
    write_nb(
        solution_with(w01, replace={"cross_entropy": DISGUISED}),
        tmp_path / "subs" / "bob.ipynb",
    )
    write_nb(
        solution_with(w01, replace={"cross_entropy": OWN}),
        tmp_path / "subs" / "carl.ipynb",
    )
    pairs = similarity("w01", [tmp_path / "subs"], tmp_path / "out")
    assert (pairs[0]["student_a"], pairs[0]["student_b"]) == ("alice", "bob")
    assert pairs[0]["score"] == 1.0
    carl = [p for p in pairs if "carl" in (p["student_a"], p["student_b"])]
    assert all(float(p["questions"].split("q1:")[1].split()[0]) < 0.8 for p in carl)
    with open(tmp_path / "out" / "similarity.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["student_a"] == "alice" and "q1" in rows[0]["cells"]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "alice" in report and "&amp;" in report


def test_unanswered_template_cells_are_not_compared(tmp_path, w01, w01_release):
    import shutil

    for name in ("dan", "eve"):
        shutil.copy(w01_release / "student" / "w01.ipynb", tmp_path / f"{name}.ipynb")
    pairs = similarity(
        "w01", [tmp_path / "dan.ipynb", tmp_path / "eve.ipynb"], tmp_path / "o"
    )
    assert pairs == []
