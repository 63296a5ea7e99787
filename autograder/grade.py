"""Grade a batch of submissions: parallel, isolated, and always one row each."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from autograder import feedback
from autograder.master import load_master
from autograder.runner import ENGINES, Limits, grade_cells_of_notebook
from autograder.submissions import Rejected, Submission, discover, read_cells

BASE_COLUMNS = ["student", "week", "engine", "status", "score", "max_score", "reason"]


def columns(question_names: list[str]) -> list[str]:
    return BASE_COLUMNS + list(question_names)


def _empty_row(
    sub: Submission,
    week: str,
    engine: str,
    questions: list[str],
    max_score: float,
    status: str,
    reason: str,
) -> dict:
    row = {
        "student": sub.student,
        "week": week,
        "engine": engine,
        "status": status,
        "score": 0.0,
        "max_score": max_score,
        "reason": reason[:500],
    }
    row.update({q: 0.0 for q in questions})
    return row


def grade_one(
    sub: Submission, week: str, engine: str, limits: Limits
) -> tuple[dict, dict]:
    """Grade one submission.  Never raises: problems become the row's status."""
    master = load_master(week)
    qnames = [q.name for q in master.questions]
    try:
        cells, notes = read_cells(sub, week)
    except Rejected as exc:
        row = _empty_row(
            sub, week, engine, qnames, master.max_score, "rejected", str(exc)
        )
        return row, {
            "status": "rejected",
            "reasons": [str(exc)],
            "units": [],
            "cells": [],
        }
    try:
        outcome = grade_cells_of_notebook(cells, master, engine, limits)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the row
        reason = f"grader error: {type(exc).__name__}: {exc}"
        row = _empty_row(sub, week, engine, qnames, master.max_score, "error", reason)
        return row, {
            "status": "error",
            "reasons": [reason],
            "units": [],
            "cells": [],
            "traceback": traceback.format_exc(),
        }
    reasons = notes + outcome.reasons
    row = {
        "student": sub.student,
        "week": week,
        "engine": engine,
        "status": outcome.status,
        "score": round(outcome.score, 4),
        "max_score": outcome.max_score,
        "reason": "; ".join(reasons)[:500],
    }
    row.update({q: round(v, 4) for q, v in outcome.questions.items()})
    details = asdict(outcome)
    details["reasons"] = reasons
    return row, details


def _task(sub: Submission, week: str, engine: str, limits: Limits):
    return grade_one(sub, week, engine, limits)


def shard_of(items: list, shard: str | None) -> list:
    """The I-th of N deterministic slices (``"I/N"``, 1-based, round robin)."""
    if not shard:
        return items
    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N, got {shard!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {shard}: need 1 <= I <= N")
    return items[i - 1 :: n]


def _run_pool(subs, week, engine, limits, workers, bar) -> dict[str, tuple[dict, dict]]:
    results: dict[str, tuple[dict, dict]] = {}
    pending = list(subs)
    ctx = multiprocessing.get_context("spawn")
    while pending:
        crashed = []
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, max_tasks_per_child=1
        ) as pool:
            futures = {pool.submit(_task, s, week, engine, limits): s for s in pending}
            for future in as_completed(futures):
                sub = futures[future]
                try:
                    results[sub.student] = future.result()
                    bar.update(1)
                except BrokenProcessPool:
                    crashed.append(sub)
                except Exception as exc:  # noqa: BLE001
                    results[sub.student] = _crash_result(sub, week, engine, exc)
                    bar.update(1)
        if crashed and len(crashed) == len(pending) and workers == 1:
            # Alone in its pool and still crashing: this submission kills its grader.
            for sub in crashed:
                results[sub.student] = _crash_result(
                    sub, week, engine, "grader crashed"
                )
                bar.update(1)
            crashed = []
        pending, workers = crashed, 1  # retry the survivors one at a time
        if len(pending) > 1:
            for sub in pending:
                results.update(_run_pool([sub], week, engine, limits, 1, bar))
            pending = []
    return results


def _crash_result(sub, week, engine, exc) -> tuple[dict, dict]:
    master = load_master(week)
    reason = f"grader error: {exc}"
    row = _empty_row(
        sub,
        week,
        engine,
        [q.name for q in master.questions],
        master.max_score,
        "error",
        reason,
    )
    return row, {"status": "error", "reasons": [reason], "units": [], "cells": []}


def grade(
    week: str,
    paths: list[str],
    out: str | Path,
    *,
    engine: str = "otter",
    workers: int = 1,
    limits: Limits | None = None,
    shard: str | None = None,
    progress: bool | None = None,
) -> list[dict]:
    """Grade submissions of ``week``: write grades.csv, results/ and feedback/.

    Returns the rows of ``grades.csv`` (sorted by student).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    master = load_master(week)  # fails early and clearly for a wrong week
    limits = limits or Limits()
    subs = shard_of(discover(paths, week), shard)
    out = Path(out)
    for sub, pattern in (("results", "*.json"), ("feedback", "*.html")):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob(pattern):  # a regrade replaces the last one
            stale.unlink()
    quiet = (
        os.environ.get("TML_QUIET", "") not in ("", "0")
        if progress is None
        else not progress
    )
    bar = tqdm(total=len(subs), desc=f"grading {week}", disable=quiet)
    started = time.monotonic()
    if workers <= 1 and len(subs) == 1:
        results = {subs[0].student: grade_one(subs[0], week, engine, limits)}
        bar.update(1)
    else:
        results = (
            _run_pool(subs, week, engine, limits, max(1, workers), bar) if subs else {}
        )
    bar.close()
    rows = []
    for sub in subs:
        row, details = results[sub.student]
        rows.append(row)
        details = dict(details, student=sub.student, submission=str(sub.path))
        (out / "results" / f"{sub.student}.json").write_text(
            json.dumps(details, indent=1, default=str)
        )
        (out / "feedback" / f"{sub.student}.html").write_text(
            feedback.render(sub.student, week, engine, row, details)
        )
    write_csv(out / "grades.csv", rows, [q.name for q in master.questions])
    (out / "run.json").write_text(
        json.dumps(
            {
                "week": week,
                "engine": engine,
                "workers": workers,
                "shard": shard,
                "submissions": len(subs),
                "seconds": round(time.monotonic() - started, 2),
                "limits": {k: v for k, v in vars(limits).items()},
            },
            indent=1,
        )
    )
    return rows


def write_csv(path: Path, rows: list[dict], questions: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns(questions))
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def summary_table(rows: list[dict]) -> str:
    if not rows:
        return "no submissions"
    width = max(7, *(len(r["student"]) for r in rows))
    lines = [f"{'student':<{width}}  {'status':<8}  {'score':>11}  reason"]
    for r in rows:
        lines.append(
            f"{r['student']:<{width}}  {r['status']:<8}  "
            f"{r['score']:>5g} / {r['max_score']:<3g}  {r['reason'][:60]}"
        )
    return "\n".join(lines)
