"""House style: ``ruff check`` and ``ruff format --check`` are clean, and lines of
code (also in chapters and exercise masters) have at most 88 characters."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PY_DIRS = ("tmlbook", "autograder", "tests", "bench")
PY = sorted(p for d in PY_DIRS for p in (REPO / d).rglob("*.py"))


def _ruff(*args: str) -> subprocess.CompletedProcess:
    """Run the pinned ruff of this environment (settings from pyproject.toml)."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ruff_is_installed():
    out = _ruff("--version")
    assert out.returncode == 0, "ruff is missing: pip install -r requirements.txt"


@pytest.mark.parametrize("folder", PY_DIRS)
def test_ruff_check_is_clean(folder):
    out = _ruff("check", "--no-cache", "--output-format", "concise", folder)
    assert out.returncode == 0, f"ruff check {folder}:\n{out.stdout}{out.stderr}"


@pytest.mark.parametrize("folder", PY_DIRS)
def test_ruff_format_is_clean(folder):
    out = _ruff("format", "--no-cache", "--check", folder)
    assert out.returncode == 0, (
        f"ruff format --check {folder} (run `ruff format {folder}`):\n"
        f"{out.stdout}{out.stderr}"
    )


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
    long = [
        i
        for i, line in _code_cell_lines(path.read_text())
        if len(line) > 88
        and not line.startswith(("failure_message:", "success_message:"))
    ]
    assert not long, f"{path.name}: code lines {long} are longer than 88 characters"
