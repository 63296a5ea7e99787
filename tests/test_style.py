"""House style that a reader notices: lines of at most 88 characters in code."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PY = sorted(p for d in ("tmlbook", "autograder", "tests", "bench")
            for p in (REPO / d).rglob("*.py"))


@pytest.mark.parametrize("path", PY, ids=lambda p: str(p.relative_to(REPO)))
def test_python_lines_fit_88_columns(path):
    lines = path.read_text().splitlines()
    long = [i for i, line in enumerate(lines, 1) if len(line) > 88]
    assert not long, f"{path.name}: lines {long} are longer than 88 characters"


def _code_cell_lines(text: str):
    inside = False
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("```{code-cell}"):
            inside = True
        elif line.startswith("```") and inside:
            inside = False
        elif inside:
            yield i, line


MD = sorted([*(REPO / "chapters").glob("*.md"), *(REPO / "exercises").glob("w*/w*.md")])


@pytest.mark.parametrize("path", MD, ids=lambda p: str(p.relative_to(REPO)))
def test_code_cells_fit_88_columns(path):
    # test-config messages are YAML strings shown to students, not code
    long = [i for i, line in _code_cell_lines(path.read_text())
            if len(line) > 88 and not line.startswith(("failure_message:",
                                                       "success_message:"))]
    assert not long, f"{path.name}: code lines {long} are longer than 88 characters"
