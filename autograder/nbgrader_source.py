"""Turn an otter-format master into an nbgrader source notebook.

One locked grade cell per otter test case (so nbgrader's all-or-nothing scoring
per grade cell gives otter's per-test partial credit), the test function
followed by a call that passes the notebook's names; hidden tests wrapped in
``### BEGIN HIDDEN TESTS`` markers; answers in ``### BEGIN SOLUTION`` blocks.
"""

from __future__ import annotations

import copy
import re
import nbformat

from autograder.master import (
    IN_CELL_MARKER,
    Master,
    _parse_test,
    solution_lines,
    walk,
)
from autograder.runner import TestCase

HIDDEN = re.compile(r"^\s*### (BEGIN|END) HIDDEN TESTS\s*$\n?", re.M)


def _meta(
    grade_id: str,
    *,
    grade: bool,
    solution: bool,
    locked: bool,
    points: float | None = None,
) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def nbgrader_source(master: Master) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(master.notebook.metadata))
    nb.metadata.pop("otter", None)
    answer = tests = 0
    for b in walk(master.notebook):
        cell, question, i = b.cell, b.question, b.index
        in_tests, in_solution = b.in_tests, b.in_solution
        if b.marker is not None:
            if b.marker == "BEGIN QUESTION":
                answer = tests = 0
            continue
        if cell.cell_type == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.source))
        elif in_tests:
            test = _parse_test(cell.source, question, i)
            body = f"{test.code}\n{test.name}({', '.join(test.params)})\n"
            if test.hidden:
                body = f"### BEGIN HIDDEN TESTS\n{body}### END HIDDEN TESTS\n"
            new = nbformat.v4.new_code_cell(body)
            tests += 1  # neutral ids: a hidden test's name must not reach students
            new.metadata.update(
                _meta(
                    f"{question}-test{tests}",
                    grade=True,
                    solution=False,
                    locked=True,
                    points=test.points,
                )
            )
            nb.cells.append(new)
        elif in_solution:
            answer += 1
            source = "\n".join(
                IN_CELL_MARKER.sub(r"\1### \2 SOLUTION", line)
                if kind == "marker"
                else line
                for line, kind in solution_lines(cell.source)
            )
            new = nbformat.v4.new_code_cell(source)
            new.metadata.update(
                _meta(
                    f"{question}-answer-{answer}",
                    grade=False,
                    solution=True,
                    locked=False,
                )
            )
            nb.cells.append(new)
        else:
            nb.cells.append(nbformat.v4.new_code_cell(cell.source))
    return nb


def grade_cells(master: Master) -> list[TestCase]:
    """The grade cells of :func:`nbgrader_source`, ready for the nbgrader engine."""
    cells = []
    for cell in nbgrader_source(master).cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        question, _, number = meta["grade_id"].partition("-test")
        hidden = "### BEGIN HIDDEN TESTS" in cell.source
        failure = master.question(question).tests[int(number) - 1].failure_message
        cells.append(
            TestCase(
                question,
                meta["grade_id"],
                HIDDEN.sub("", cell.source),
                float(meta["points"]),
                hidden,
                failure,
            )
        )
    return cells
