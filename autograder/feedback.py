"""Feedback a student may see: scores, public-test messages, never hidden tests.

Hidden tests appear only as "hidden test k of qN: passed/failed" with the
author's failure message; their names, code, inputs, expected values and
tracebacks never reach this page.
"""

from __future__ import annotations

from html import escape

STYLE = """body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;
color:#222}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}.pass{color:#1a7f37}.fail{color:#b3261e}
.muted{color:#666;font-size:.9em}"""


def render(student: str, week: str, engine: str, row: dict, outcome: dict) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(week)} feedback for {escape(student)}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(week)}: feedback for {escape(student)}</h1>",
        f"<p><b>Score: {row['score']:g} / {row['max_score']:g}</b> "
        f"<span class='muted'>(status: {escape(row['status'])}, graded with "
        f"{escape(engine)} tests)</span></p>",
    ]
    if outcome.get("variant") is not None:
        out.append(
            f"<p>Graded as exam variant {int(outcome['variant'])}: your own numbers."
            "</p>"
        )
    if row.get("reason"):
        out.append(f"<p>Notes: {escape(row['reason'])}</p>")
    hidden_seen: dict[str, int] = {}
    out.append(
        "<table><tr><th>question</th><th>check</th><th>points</th><th>result</th></tr>"
    )
    for unit in outcome.get("units", []):
        q = unit["question"]
        if unit["hidden"]:
            hidden_seen[q] = hidden_seen.get(q, 0) + 1
            label = f"hidden test {hidden_seen[q]}"
        else:
            label = f"public test <code>{escape(unit['name'])}</code>"
        css = "pass" if unit["passed"] else "fail"
        verdict = "passed" if unit["passed"] else "failed"
        message = "" if unit["passed"] else escape(unit["message"])
        out.append(
            f"<tr><td>{escape(q)}</td><td>{label}</td>"
            f"<td>{unit['points']:g} / {unit['max_points']:g}</td>"
            f"<td class='{css}'>{verdict} {message}</td></tr>"
        )
    out.append("</table>")
    problems = [c for c in outcome.get("cells", []) if c.get("status") != "ok"]
    if problems:
        out.append("<h2>Cells that did not run cleanly</h2><ul>")
        for cell in problems:
            out.append(f"<li>cell {cell['index']}: {escape(cell['error'])}</li>")
        out.append("</ul>")
    out.append(
        "<p class='muted'>Public tests are the ones in your notebook. Hidden tests "
        "decide most of the grade; their content is not shown.</p></body></html>"
    )
    return "\n".join(out)
