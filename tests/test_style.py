"""House style: ``ruff check`` and ``ruff format --check`` are clean, and lines of
code (also in chapters and exercise masters) have at most 88 characters."""

import re
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


FIGURE = re.compile(r"plt\.\w+\(|\.subplots\(|(?<!def )\bplot_\w+\(")
CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)\n```", re.S)


@pytest.mark.parametrize(
    "path", sorted((REPO / "chapters").glob("*.md")), ids=lambda p: p.name
)
def test_figures_have_alt_text_caption_and_name(path):
    """Every code cell that draws a figure gives it alt text for screen readers, a
    caption and a name (so that it is numbered and can be cited with numref)."""
    import yaml

    missing = []
    for m in CELL.finditer(path.read_text()):
        body = m.group(1)
        if not FIGURE.search(body):
            continue
        front = {}
        if body.startswith("---\n"):
            front = yaml.safe_load(body.split("---\n")[1]) or {}
        nb = front.get("mystnb") or {}
        alt = (nb.get("image") or {}).get("alt", "")
        figure = nb.get("figure") or {}
        if len(str(alt)) < 20 or not figure.get("caption") or not figure.get("name"):
            line = path.read_text()[: m.start()].count("\n") + 1
            missing.append(f"line {line}")
    assert not missing, f"figure cells without alt text, caption or name: {missing}"


def test_bibliography_parses_with_unique_keys():
    """references.bib is read by pybtex (as sphinxcontrib-bibtex does) and no key
    is defined twice: a merge that drops a closing brace fails here, in a second,
    rather than in the book build."""
    from pybtex.database import parse_file

    text = (REPO / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,\s]+),", text, re.M)
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    assert len(parse_file(str(REPO / "references.bib")).entries) == len(keys)
