"""Grade a batch of submissions: parallel, isolated, and always one row each.

The parent reads the week's master once and hands each worker a :class:`Plan`
(plain data).  Every submission gets a fresh grading process, which starts the
student's sandbox first and loads torch while the notebook boots, so one
student's tests can never see state left behind by another's.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import resource
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, replace
from pathlib import Path

from tqdm.auto import tqdm

from autograder import deadlines, feedback, isolation
from autograder.runner import ENGINES, Limits, Plan, run_plan
from autograder.submissions import (
    Rejected,
    Submission,
    discover,
    group_attempts,
    read_cells,
)
from autograder.variants import variant_seed

BASE_COLUMNS = ["student", "week", "engine", "status", "score", "max_score", "reason"]
TIME_COLUMNS = ["submitted_at", "time_source", "late_by", "penalty"]
ATTEMPT_COLUMNS = ["counted", "attempts"]
RESUBMISSION = ("all", "last", "best")


def columns(question_names: list[str], extra: list[str] = ()) -> list[str]:
    return BASE_COLUMNS + list(question_names) + list(extra)


def _failed(
    sub: Submission, plan: Plan, status: str, reason: str, **extra
) -> tuple[dict, dict]:
    """The row and details of a submission that could not be graded normally."""
    row = {
        "student": sub.student,
        "week": plan.week,
        "engine": plan.engine,
        "status": status,
        "score": 0.0,
        "max_score": plan.max_score,
        "reason": reason[:500],
    }
    row.update({q: 0.0 for q, _ in plan.questions})
    details = {"status": status, "reasons": [reason], "units": [], "cells": [], **extra}
    return row, details


def _limit_own_memory(megabytes: int) -> None:
    """Bound this grading process's heap: whatever an answer makes the tests hold
    fails with MemoryError here instead of growing until the OOM killer ends the
    batch (the sandbox has limits of its own)."""
    if megabytes > 0:
        limit = megabytes * 2**20
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def grade_isolated(sub: Submission, plan: Plan, limits: Limits) -> tuple[dict, dict]:
    """:func:`grade_one` in a worker process of its own, with its memory bounded."""
    _limit_own_memory(limits.grader_memory_mb)
    return grade_one(sub, plan, limits)


def grade_one(sub: Submission, plan: Plan, limits: Limits) -> tuple[dict, dict]:
    """Grade one submission.  Never raises: problems become the row's status."""
    try:
        cells, notes = read_cells(sub, plan.week)
    except Rejected as exc:
        return _failed(sub, plan, "rejected", str(exc))
    if plan.variants:  # an exam: grade against this student's own numbers
        plan = replace(plan, variant=variant_seed(plan.week, sub.student))
    try:
        outcome = run_plan(cells, plan, limits)
    except MemoryError:
        return _failed(
            sub,
            plan,
            "error",
            "the tests ran out of memory in the grading process "
            f"({limits.grader_memory_mb} MB): the answers are too large",
        )
    except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the row
        return _failed(
            sub,
            plan,
            "error",
            f"grader error: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    reasons = notes + outcome.reasons
    row = {
        "student": sub.student,
        "week": plan.week,
        "engine": plan.engine,
        "status": outcome.status,
        "score": round(outcome.score, 4),
        "max_score": outcome.max_score,
        "reason": "; ".join(reasons)[:500],
    }
    row.update({q: round(v, 4) for q, v in outcome.questions.items()})
    details = asdict(outcome)
    details["reasons"] = reasons
    if plan.variant is not None:
        details["variant"] = plan.variant
    return row, details


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


def _run_pool(subs, plan, limits, workers, bar) -> dict[str, tuple[dict, dict]]:
    """Grade ``subs`` in fresh processes.  A grading process that dies takes no other
    student's row with it: the survivors are retried one at a time."""
    results: dict[str, tuple[dict, dict]] = {}
    crashed = []
    # Each submission gets a process of its own, forked from a server that has
    # imported torch and the grader once (not ~3 s of imports per submission).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["autograder.grade"])
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, max_tasks_per_child=1
    ) as pool:
        futures = {pool.submit(grade_isolated, s, plan, limits): s for s in subs}
        for future in as_completed(futures):
            sub = futures[future]
            try:
                results[sub.student] = future.result()
                bar.update(1)
            except BrokenProcessPool:
                crashed.append(sub)
            except Exception as exc:  # noqa: BLE001
                results[sub.student] = _failed(
                    sub, plan, "error", f"grader error: {exc}"
                )
                bar.update(1)
    for sub in crashed:
        if len(subs) == 1:  # alone in its pool and it still crashed
            results[sub.student] = _failed(
                sub, plan, "error", "grader error: the grading process crashed"
            )
            bar.update(1)
        else:
            results.update(_run_pool([sub], plan, limits, 1, bar))
    return results


def grade(
    week: str,
    paths: list,
    out: str | Path,
    *,
    engine: str = "otter",
    workers: int = 1,
    limits: Limits | None = None,
    shard: str | None = None,
    progress: bool | None = None,
    deadline: deadlines.Deadline | None = None,
    resubmission: str = "all",
    report: bool = True,
    similarity_dir: str | Path | None = None,
) -> list[dict]:
    """Grade submissions of ``week``: write grades.csv, results/, feedback/ and
    report.html.

    ``deadline`` adds the columns ``submitted_at, time_source, late_by,
    penalty`` and takes the penalty off ``score``.  ``resubmission`` is
    ``"all"`` (every file its own row), ``"last"`` (the latest attempt of each
    student counts) or ``"best"`` (every attempt is graded, the highest score
    after penalty counts); the last two add ``counted, attempts``.

    Returns the rows of ``grades.csv`` (sorted by student).
    """
    from autograder.master import load_master
    from autograder.runner import plan_for

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if resubmission not in RESUBMISSION:
        raise ValueError(
            f"unknown resubmission rule {resubmission!r}: use {', '.join(RESUBMISSION)}"
        )
    master = load_master(week)  # fails early for a wrong week
    week = master.week
    plan = plan_for(master, engine)
    limits = limits or Limits()
    iso_mode, iso_note = isolation.mode_for(limits.isolation, limits.device)
    found = discover(paths, week)
    if resubmission == "all":
        groups = {s.student: [s] for s in found}
    else:
        groups = group_attempts(found)
    groups = dict(shard_of(sorted(groups.items()), shard))
    timed = deadline is not None or resubmission != "all"
    deadline = deadline or deadlines.Deadline()
    times = {}
    if timed:
        for attempts in groups.values():
            for s in attempts:
                times[id(s)] = deadlines.submission_time(s.path, week, deadline.zone)
    if resubmission == "last":  # only the latest attempt is graded
        for student, attempts in groups.items():
            order = sorted(
                enumerate(attempts), key=lambda p: (times[id(p[1])][0], p[0])
            )
            groups[student] = [s for _, s in reversed(order)]
    subs = []
    for student, attempts in groups.items():
        todo = attempts[:1] if resubmission == "last" else attempts
        for k, s in enumerate(todo):
            key = student if len(todo) == 1 else f"{student}#{k + 1}"
            subs.append(Submission(key, s.path, s.name))
            times[key] = times.get(id(s))
    out = Path(out)
    for sub, pattern in (("results", "*.json"), ("feedback", "*.html")):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob(pattern):  # a regrade replaces the last one
            stale.unlink()
    if progress is None:
        progress = os.environ.get("TML_QUIET", "") in ("", "0")
    bar = tqdm(total=len(subs), desc=f"grading {week}", disable=not progress)
    started = time.monotonic()
    # Always in worker processes: the answers a batch brings back never reach the
    # memory of the process that writes grades.csv.
    results = _run_pool(subs, plan, limits, max(1, workers), bar) if subs else {}
    bar.close()
    rows = []
    by_key = {s.student: s for s in subs}
    for student, attempts in groups.items():
        graded = [k for k in by_key if k == student or k.startswith(student + "#")]
        candidates = []
        for key in graded:
            row, details = results[key]
            row, details = dict(row, student=student), dict(details)
            details.setdefault("isolation", iso_mode)
            if timed:
                _add_time(row, details, times[key], deadline)
            candidates.append((key, row, details))
        # best: the highest score after penalty; ties go to the later attempt
        key, row, details = candidates[0]
        if resubmission == "best":
            key, row, details = max(
                candidates, key=lambda c: (c[1]["score"], times[c[0]][0])
            )
        if resubmission != "all":
            row["counted"] = by_key[key].path.name
            row["attempts"] = len(attempts)
            details["attempts"] = [
                {
                    "submission": str(by_key[k].path),
                    "score": r["score"],
                    "submitted_at": r.get("submitted_at", ""),
                    "counted": k == key,
                }
                for k, r, _ in candidates
            ]
        rows.append(row)
        details = dict(details, student=student, submission=str(by_key[key].path))
        (out / "results" / f"{student}.json").write_text(
            json.dumps(details, indent=1, default=str)
        )
        (out / "feedback" / f"{student}.html").write_text(
            feedback.render(student, week, engine, row, details)
        )
    extra = (TIME_COLUMNS if timed else []) + (
        ATTEMPT_COLUMNS if resubmission != "all" else []
    )
    write_csv(out / "grades.csv", rows, [q for q, _ in plan.questions], extra)
    (out / "run.json").write_text(
        json.dumps(
            {
                "week": week,
                "engine": engine,
                "workers": workers,
                "shard": shard,
                "submissions": len(subs),
                "seconds": round(time.monotonic() - started, 2),
                "limits": dict(vars(limits)),
                "isolation": iso_mode,
                "isolation_note": iso_note,
                "due": deadlines.format_time(deadline.due) if deadline.due else None,
                "grace_minutes": deadline.grace_minutes,
                "late_policy": deadline.policy,
                "resubmission": resubmission,
                "tests": {  # tutor-only, for the report
                    u.name: {
                        "question": u.question,
                        "hidden": u.hidden,
                        "failure_message": u.failure_message,
                    }
                    for u in plan.units
                },
            },
            indent=1,
        )
    )
    if report:
        from autograder import report as report_mod

        report_mod.write_report(out, similarity_dir=similarity_dir)
    return rows


def _add_time(row: dict, details: dict, when, deadline) -> None:
    """The lateness columns of a row; the penalty comes off its score."""
    moment, source = when
    late = deadlines.late_minutes(moment, deadline)
    lost = deadlines.penalty(row["score"], moment, deadline)
    row["submitted_at"] = deadlines.format_time(moment)
    row["time_source"] = source
    row["late_by"] = round(late, 1)
    row["penalty"] = lost
    if lost:
        row["score"] = round(row["score"] - lost, 4)
        rule = deadline.policy
        rule = f"{rule:g}% per started day" if isinstance(rule, float) else rule
        note = f"{late:.0f} min late: -{lost:g} points ({rule})"
        row["reason"] = "; ".join(r for r in (row["reason"], note) if r)[:500]
    details.update(
        submitted_at=row["submitted_at"],
        time_source=source,
        late_by_minutes=row["late_by"],
        penalty=lost,
    )


def write_csv(
    path: Path, rows: list[dict], questions: list[str], extra: list[str] = ()
) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns(questions, extra))
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
