"""Small notebooks for the tutor-side tests (report, isolation, deadlines).

They keep week 1's setup cell and the answer to q1 only, so that a grading takes
the sandbox's start-up and q1's tests; q2-q4 score 0 because their names are
missing.  That keeps each grading to a few seconds.
"""

from __future__ import annotations

import nbformat

from autograder.master import load_mutants, solution_notebook

WRONG_Q1 = "q1_sum_not_mean"


def tiny_notebook(master, q1: str | None = None, extra: list[str] = ()):
    """Week 1's setup cell, the q1 answer (``q1`` replaces it) and ``extra`` cells."""
    nb = solution_notebook(master)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0]
    answer = next(c for c in code if "def cross_entropy(" in c.source)
    if q1 is not None:
        answer.source = q1
    nb.cells = [setup, answer] + [nbformat.v4.new_code_cell(s) for s in extra]
    return nb


def wrong_q1(master) -> str:
    return next(m.code for m in load_mutants(master) if m.name == WRONG_Q1)


def q1_points(master) -> float:
    return master.question("q1").points
