"""Claims in the prose are checked by the build.

A sentence that states the direction or size of a computed result is backed by an
``assert`` in a hidden cell (tag ``remove-cell``) whose message starts with
``CLAIM:`` and names the claim.  These tests prove that the mechanism bites (a page
with a false claim fails ``jupyter-book build``, naming the claim) and that the
Part 0/I pages use it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_book

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHAPTERS = REPO / "chapters"

FRONT = """---
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
"""

PAGE = (
    FRONT
    + """
# A page whose prose claims something false

```{code-cell} ipython3
from myst_nb import glue

small, large = 0.2, 0.1
glue("small", small, display=False)
```

The first number, {glue:text}`small:.1f`, is smaller than the second.

```{code-cell} ipython3
:tags: [remove-cell]
assert small < large, "CLAIM: the first number is smaller than the second"
```
"""
)

#: Every page of Part 0 (L1) and Part I (L2-L4) listed in the table of contents.
PART_I = re.findall(r"file:\s*chapters/(l0[1-4]-\S+)", (REPO / "_toc.yml").read_text())


def claim_cells(text):
    """The ``CLAIM:`` assertions in the hidden (remove-cell) cells of a MyST page."""
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S)
    hidden = [c for c in cells if re.search(r"tags:\s*\[[^\]]*remove-cell", c)]
    return [m for c in hidden for m in re.findall(r'assert .*?"CLAIM: ', c, re.S)]


def test_a_false_claim_fails_the_build_and_names_the_claim(tmp_path):
    """The build executes the hidden claim cell; a false claim stops it."""
    tiny_book(tmp_path, PAGE, "claim")
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        TML_QUIET="1",
        TML_DEVICE="cpu",
    )
    proc = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(tmp_path), "-W", "-n"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "CLAIM: the first number is smaller than the second" in output


def test_the_claim_parser_sees_the_false_claim():
    assert len(claim_cells(PAGE)) == 1


@pytest.mark.parametrize("page", PART_I)
def test_every_part_i_page_asserts_its_claims(page):
    text = (CHAPTERS / f"{page}.md").read_text()
    assert claim_cells(text), f"{page}: no hidden CLAIM assertions"


def test_the_book_builds_on_cpu():
    """`make book` pins TML_DEVICE=cpu, so a GPU cannot change the asserted claims."""
    makefile = (REPO / "Makefile").read_text()
    builds = [line for line in makefile.splitlines() if "jupyter-book build" in line]
    assert builds
    assert all("$(BOOK)" in line for line in builds)
    assert re.search(r"^BOOK\s*:=.*TML_DEVICE=cpu", makefile, flags=re.M)
