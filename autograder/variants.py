"""Seeded exam variants: the same questions with different numbers per student.

An exam master (the midterm ``w08`` and the final ``w16``) says, in one of its
setup cells, exactly::

    VARIANT = 0  # your exam variant: the release sets it; do not edit

Every per-student input is generated from ``VARIANT`` in the notebook.  The hidden
tests that check a student's numbers take a parameter named ``VARIANT`` and
regenerate the same inputs.  ``release wNN --variant ID`` writes student ``ID``'s
notebook with ``VARIANT = variant_seed(week, ID)``; when the grader grades ``ID``'s
submission it supplies that same seed to the tests itself, *never* the notebook's
value, so a notebook copied from another student is graded against the copier's
own numbers and loses those points.  Without a student id (the release's own
verification), ``VARIANT`` is read from the notebook: the practice variant 0.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the grading processes do not import the notebook libraries
    import nbformat

NAME = "VARIANT"
LINE = re.compile(r"^VARIANT = (\d+)\b(.*)$", re.M)
__all__ = ["NAME", "is_variant_master", "variant_seed", "with_variant"]


def is_variant_master(notebook: nbformat.NotebookNode) -> bool:
    """Whether a master (or any notebook) has the ``VARIANT = 0`` setup line."""
    return any(c.cell_type == "code" and LINE.search(c.source) for c in notebook.cells)


def variant_seed(week: str, student: str) -> int:
    """The variant of ``student`` in ``week``: a number in 1 .. 999999, never 0.

    It depends on the week and the student id only (SHA-256), so the release and
    the grader agree without sharing a table, and two weeks give one student
    different numbers.
    """
    student = str(student).strip()
    if not student:
        raise ValueError("a variant needs a non-empty student id")
    digest = hashlib.sha256(f"{week}:{student}".encode()).hexdigest()
    return int(digest[:12], 16) % 999_999 + 1


def with_variant(notebook: nbformat.NotebookNode, seed: int) -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose ``VARIANT = ...`` line says ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"a variant is a non-negative integer, not {seed!r}")
    nb = copy.deepcopy(notebook)
    found = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source, n = LINE.subn(
            lambda m: f"{NAME} = {seed}{m.group(2)}", cell.source
        )
        found += n
    if found != 1:
        raise ValueError(
            f"the notebook has {found} lines `VARIANT = <n>`: it needs exactly one"
        )
    return nb
