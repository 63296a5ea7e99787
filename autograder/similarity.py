"""Which students handed in (nearly) the same answers?

For every submission we keep only the answer cells (cells that define a question's
names and differ from the released template), normalise their code (comments,
whitespace, docstrings and string contents dropped; every variable renamed to
``v1, v2, ...`` in order of first use; attribute and builtin names kept) and
compare each pair of students question by question with
:class:`difflib.SequenceMatcher` on the token sequences.  A pair's score is the
mean over the questions that both answered; 1.0 means identical up to renaming.

The report is a lead for a human, never a verdict: short answers to short questions
can coincide honestly.
"""

from __future__ import annotations

import ast
import builtins
import csv
import io
import keyword
import tokenize
from difflib import SequenceMatcher
from html import escape
from itertools import combinations
from pathlib import Path

from autograder.master import (
    Master,
    defined_names,
    load_master,
    strip_solution_blocks,
    walk,
)
from autograder.submissions import Rejected, discover, read_cells

MIN_TOKENS = 12  # answers shorter than this are too short to compare meaningfully
KEEP = set(dir(builtins)) | set(keyword.kwlist) | {"self", "torch", "np", "F", "nn"}


def normalise(source: str) -> list[str]:
    """Tokens of ``source`` with names renamed, comments and layout removed."""
    names: dict[str, str] = {}
    out: list[str] = []
    previous = ""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source.split()
    for tok in tokens:
        kind, text = tok.type, tok.string
        if kind in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            continue
        if kind == tokenize.STRING:
            out.append("STR")
        elif kind == tokenize.NAME and text not in KEEP and previous != ".":
            names.setdefault(text, f"v{len(names) + 1}")
            out.append(names[text])
        else:
            out.append(text)
        previous = text
    return out


def _template(master: Master) -> set[str]:
    """Normalised code of every cell students receive before answering."""
    cells = set()
    for b in walk(master.notebook):
        if b.marker is None and b.cell.cell_type == "code" and not b.in_tests:
            code = strip_solution_blocks(b.cell.source)
            cells.add(" ".join(normalise(code)))
            cells.add(" ".join(normalise(code + "\n    ...")))
    return cells


def answers_by_question(master: Master, cells: list[tuple[int, str]]) -> dict:
    """``{question: (cell numbers, tokens)}`` for the answer cells of one submission."""
    template = _template(master)
    owner = {name: q.name for q in master.questions for name in q.solution_names}
    found: dict[str, tuple[list[int], list[str]]] = {}
    for index, source in cells:
        tokens = normalise(source)
        if " ".join(tokens) in template:
            continue
        try:
            defined = defined_names(ast.parse(source))
        except SyntaxError:
            continue
        questions = {owner[d] for d in defined if d in owner}
        for q in questions:
            nums, toks = found.get(q, ([], []))
            found[q] = (nums + [index], toks + tokens)
    return {q: v for q, v in found.items() if len(v[1]) >= MIN_TOKENS}


def similarity(week: str, paths, out, top: int = 20) -> list[dict]:
    """Write ``out/similarity.csv`` (every pair, most similar first) and
    ``out/report.html`` (the ``top`` pairs, with the code side by side)."""
    master = load_master(week)
    subs = discover(paths, week)
    answers: dict[str, dict] = {}
    sources: dict[str, dict[int, str]] = {}
    for sub in subs:
        try:
            cells, _ = read_cells(sub, week)
        except Rejected:
            continue
        answers[sub.student] = answers_by_question(master, cells)
        sources[sub.student] = dict(cells)
    pairs = []
    for a, b in combinations(sorted(answers), 2):
        shared = sorted(set(answers[a]) & set(answers[b]))
        if not shared:
            continue
        per_q = {
            q: SequenceMatcher(
                None, answers[a][q][1], answers[b][q][1], autojunk=False
            ).ratio()
            for q in shared
        }
        pairs.append(
            {
                "student_a": a,
                "student_b": b,
                "score": round(sum(per_q.values()) / len(per_q), 4),
                "questions": " ".join(f"{q}:{s:.2f}" for q, s in per_q.items()),
                "cells": "; ".join(
                    f"{q}: {a} cell {answers[a][q][0]}, {b} cell {answers[b][q][0]}"
                    for q in shared
                ),
                "_per_q": per_q,
            }
        )
    pairs.sort(key=lambda p: (-p["score"], p["student_a"], p["student_b"]))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fields = ["student_a", "student_b", "score", "questions", "cells"]
    with open(out / "similarity.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(pairs)
    (out / "report.html").write_text(_report(week, pairs[:top], answers, sources))
    return pairs


def _report(week, pairs, answers, sources) -> str:
    html = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>{escape(week)} similarity</title>",
        "<style>body{font-family:system-ui;margin:2rem}pre{background:#f6f6f6;"
        "padding:.5rem;overflow:auto;font-size:.85em}td{vertical-align:top;"
        "width:50%}</style>",
        f"<h1>{escape(week)}: most similar pairs of answers</h1>",
        "<p>Scores compare answer cells after removing comments, layout and variable "
        "names (1.00 = identical up to renaming). A lead for a human, not a verdict."
        "</p>",
    ]
    for p in pairs:
        html.append(
            f"<h2>{escape(p['student_a'])} &amp; {escape(p['student_b'])}: "
            f"{p['score']:.2f}</h2><p>{escape(p['questions'])}</p>"
        )
        q = max(p["_per_q"], key=p["_per_q"].get)
        left = "\n\n".join(
            sources[p["student_a"]][i] for i in answers[p["student_a"]][q][0]
        )
        right = "\n\n".join(
            sources[p["student_b"]][i] for i in answers[p["student_b"]][q][0]
        )
        html.append(
            f"<table><tr><td><b>{escape(p['student_a'])}, {escape(q)}</b>"
            f"<pre>{escape(left)}</pre></td><td><b>{escape(p['student_b'])}, "
            f"{escape(q)}</b><pre>{escape(right)}</pre></td></tr></table>"
        )
    return "\n".join(html)
