"""The tutors' grading report: one self-contained HTML page per graded batch.

``python -m autograder report GRADES_DIR [--similarity SIM_DIR] --out DIR``
(``grade`` writes ``GRADES_DIR/report.html`` itself) reads ``grades.csv``,
``results/*.json`` and ``run.json`` and shows

* the score distribution (a histogram) and each question's mean and spread,
* the hidden tests failed most often, with their authors' failure messages,
* how many rows have each status, with the reasons,
* each submission's grading time and peak memory, and how it was isolated,
* the late submissions, and the most similar pairs of the similarity report.

The page is for tutors only: it names hidden tests, so it lives with the
grades and never goes to students.  It holds no student's code: only scores,
statuses, reasons written by the grader, test names and messages, times.
Figures are PNG images embedded as base64, so the page needs no network.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import statistics
from collections import Counter
from html import escape
from pathlib import Path

STYLE = """body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;
color:#222;padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}.muted{color:#666;font-size:.9em}
figure{margin:0 0 1.5rem}img{max-width:100%}.warn{color:#b3261e}"""


def _read(grades_dir: Path):
    path = grades_dir / "grades.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: grade the batch first")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = reader.fieldnames or []
    results = {}
    for row in rows:
        p = grades_dir / "results" / f"{row['student']}.json"
        results[row["student"]] = json.loads(p.read_text()) if p.is_file() else {}
    run_path = grades_dir / "run.json"
    run = json.loads(run_path.read_text()) if run_path.is_file() else {}
    return rows, fields, results, run


def _num(value, default=0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='figure' class='figure' src='data:image/png;base64,{data}'>"


def _figures(rows, questions, maxima) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {}
    scores = [_num(r["score"]) for r in rows]
    top = max([_num(r["max_score"]) for r in rows] + [1.0])
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4c72b0")
    ax.set_xlabel("score")
    ax.set_ylabel("submissions")
    ax.set_title("score distribution")
    figs["histogram"] = _png(fig)
    plt.close(fig)
    if questions:
        fig, ax = plt.subplots(figsize=(6, 2.8))
        data = [
            [_num(r.get(q)) / maxima[q] if maxima[q] else 0.0 for r in rows]
            for q in questions
        ]
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(questions) + 1), questions)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("fraction of the points")
        ax.set_title("per question: spread (box) and mean (triangle)")
        figs["questions"] = _png(fig)
        plt.close(fig)
    return figs


def _table(header: list[str], body: list[list], numeric=()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    for line in body:
        cells = []
        for i, value in enumerate(line):
            css = " class='n'" if i in numeric else ""
            cells.append(f"<td{css}>{escape(str(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _failed_hidden(results: dict, tests: dict) -> list[list]:
    counts: Counter = Counter()
    messages: dict[tuple, Counter] = {}
    for details in results.values():
        for unit in details.get("units", []):
            if unit.get("hidden") and not unit.get("passed"):
                key = (unit["question"], unit["name"])
                counts[key] += 1
                messages.setdefault(key, Counter())[unit.get("message", "")] += 1
    body = []
    for (question, name), n in counts.most_common(10):
        seen = messages[(question, name)].most_common(1)[0][0]
        author = tests.get(name, {}).get("failure_message", "")
        body.append([question, name, n, author[:200], seen[:200]])
    return body


def _similar(sim_dir: Path | None, top: int = 10) -> tuple[list[list], str]:
    if sim_dir is None:
        return [], "no similarity report given (run `similarity`, pass --similarity)"
    path = Path(sim_dir) / "similarity.csv"
    if not path.is_file():
        return [], f"{path} not found"
    with open(path, newline="") as fh:
        pairs = list(csv.DictReader(fh))[:top]
    return [
        [p["student_a"], p["student_b"], p["score"], p["questions"]] for p in pairs
    ], ""


def render(grades_dir: str | Path, similarity_dir: str | Path | None = None) -> str:
    """The report of the batch graded into ``grades_dir``, as an HTML string."""
    grades_dir = Path(grades_dir)
    rows, fields, results, run = _read(grades_dir)
    base = ["student", "week", "engine", "status", "score", "max_score", "reason"]
    extra = {"submitted_at", "time_source", "late_by", "penalty", "counted", "attempts"}
    questions = [f for f in fields if f not in base and f not in extra]
    maxima = {q: 0.0 for q in questions}
    for details in results.values():  # every graded row lists every test unit
        if details.get("units"):
            for unit in details["units"]:
                if unit["question"] in maxima:
                    maxima[unit["question"]] += unit["max_points"]
            break
    week = run.get("week") or (rows[0]["week"] if rows else "?")
    engine = run.get("engine") or (rows[0]["engine"] if rows else "?")
    html = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{escape(week)} grading report</title><style>{STYLE}</style>",
        "</head><body>",
        f"<h1>{escape(week)}: grading report</h1>",
        "<p class='muted'>For tutors only: this page names hidden tests and their "
        "messages. It shows no student's code.</p>",
    ]
    facts = [
        ["submissions", len(rows)],
        ["engine", engine],
        ["isolation", run.get("isolation_note") or run.get("isolation", "?")],
        ["grading time (batch)", f"{run.get('seconds', '?')} s"],
    ]
    if run.get("due"):
        facts.append(["due", run["due"]])
        facts.append(["grace", f"{run.get('grace_minutes', 0):g} min"])
        facts.append(["late policy", run.get("late_policy", "none")])
    if run.get("resubmission", "all") != "all":
        facts.append(["resubmissions", f"{run['resubmission']} attempt counts"])
    html.append(_table(["", ""], facts))
    if not rows:
        html.append("<p>No submissions.</p></body></html>")
        return "\n".join(html)

    figs = _figures(rows, questions, maxima)
    scores = [_num(r["score"]) for r in rows]
    html.append("<h2>Scores</h2>")
    html.append(f"<figure id='histogram'>{figs['histogram']}</figure>")
    html.append(
        _table(
            ["mean", "median", "sd", "min", "max", "max possible"],
            [
                [
                    f"{statistics.fmean(scores):.2f}",
                    f"{statistics.median(scores):g}",
                    f"{statistics.pstdev(scores):.2f}",
                    f"{min(scores):g}",
                    f"{max(scores):g}",
                    rows[0]["max_score"],
                ]
            ],
            numeric=range(6),
        )
    )
    if questions:
        html.append("<h2>Questions</h2>")
        html.append(f"<figure id='questions'>{figs['questions']}</figure>")
        body = []
        for q in questions:
            values = [_num(r.get(q)) for r in rows]
            full = sum(1 for v in values if maxima[q] and v >= maxima[q])
            body.append(
                [
                    q,
                    f"{maxima[q]:g}",
                    f"{statistics.fmean(values):.2f}",
                    f"{statistics.pstdev(values):.2f}",
                    f"{full} / {len(values)}",
                ]
            )
        html.append(
            _table(["question", "points", "mean", "sd", "full marks"], body, (1, 2, 3))
        )

    html.append("<h2>Hidden tests failed most often</h2>")
    failed = _failed_hidden(results, run.get("tests", {}))
    if failed:
        header = ["question", "hidden test", "failed by", "author's message"]
        html.append(_table(header + ["most common result"], failed))
    else:
        html.append("<p>No hidden test failed.</p>")

    html.append("<h2>Status</h2>")
    statuses = Counter(r["status"] for r in rows)
    html.append(_table(["status", "rows"], sorted(statuses.items()), numeric=(1,)))
    reasons = [[r["student"], r["status"], r["reason"]] for r in rows if r["reason"]]
    if reasons:
        html.append(_table(["student", "status", "reason"], reasons))

    html.append("<h2>Time and memory per submission</h2>")
    body = []
    for r in rows:
        d = results.get(r["student"], {})
        body.append(
            [
                r["student"],
                r["status"],
                r["score"],
                d.get("seconds", ""),
                d.get("peak_mb", ""),
                d.get("isolation", ""),
            ]
        )
    html.append(
        _table(
            ["student", "status", "score", "seconds", "peak MB", "isolation"],
            body,
            numeric=(2, 3, 4),
        )
    )

    html.append("<h2>Late submissions</h2>")
    if "late_by" not in fields:
        html.append("<p class='muted'>No due date was given (grade with --due).</p>")
    else:
        late = [
            [
                r["student"],
                r["submitted_at"],
                r["time_source"],
                r["late_by"],
                r["penalty"],
                r.get("counted", ""),
            ]
            for r in rows
            if _num(r["late_by"]) > 0
        ]
        if late:
            html.append(
                _table(
                    [
                        "student",
                        "submitted at",
                        "time from",
                        "late by (min)",
                        "penalty",
                        "counted",
                    ],
                    late,
                    numeric=(3, 4),
                )
            )
        else:
            html.append("<p>None.</p>")

    html.append("<h2>Most similar pairs</h2>")
    pairs, note = _similar(similarity_dir)
    if pairs:
        html.append(_table(["student", "student", "score", "per question"], pairs))
    else:
        html.append(f"<p class='muted'>{escape(note or 'No pairs.')}</p>")
    html.append("</body></html>")
    return "\n".join(html)


def write_report(
    grades_dir: str | Path,
    out: str | Path | None = None,
    similarity_dir: str | Path | None = None,
) -> Path:
    """Write ``report.html`` into ``out`` (default: ``grades_dir``)."""
    out = Path(out) if out is not None else Path(grades_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render(grades_dir, similarity_dir))
    return path
