"""Grading time per submission with and without OS namespaces, in one run.

    .venv/bin/python bench/isolation.py [--rounds 3] [--solution]

Grades the same notebook (week 1's setup and q1 answer, or with ``--solution``
the whole solution) alternately with ``isolation="namespaces"`` (bubblewrap) and
``isolation="audit-hook"``, one submission at a time, and prints the per-round
seconds (results JSON ``seconds``: sandbox start, notebook, tests), their means
and the ratio namespaces / audit-hook.  Also prints the size of the report that
``grade`` wrote.  Prints, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TML_QUIET", "1")


def main() -> None:
    import nbformat

    from autograder import isolation
    from autograder.grade import grade
    from autograder.master import load_master, solution_notebook
    from autograder.runner import Limits

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--solution", action="store_true")
    args = parser.parse_args()
    ok, why = isolation.probe()
    if not ok:
        print(f"namespaces unavailable here: {why}")
        return
    master = load_master("w01")
    nb = solution_notebook(master)
    if not args.solution:
        code = [c for c in nb.cells if c.cell_type == "code"]
        nb.cells = [code[0], next(c for c in code if "def cross_entropy(" in c.source)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-isolation-"))
    nbformat.write(nb, tmp / "sub.ipynb")
    seconds: dict[str, list[float]] = {"namespaces": [], "audit-hook": []}
    peak: dict[str, list[float]] = {"namespaces": [], "audit-hook": []}
    for r in range(args.rounds):
        for mode in ("namespaces", "audit-hook"):
            out = tmp / f"{mode}-{r}"
            grade("w01", [tmp / "sub.ipynb"], out, limits=Limits(isolation=mode))
            details = json.loads((out / "results" / "sub.json").read_text())
            assert details["isolation"] == mode
            seconds[mode].append(details["seconds"])
            peak[mode].append(details["peak_mb"])
            print(
                f"round {r + 1} {mode:<11} {details['seconds']:6.2f} s  "
                f"peak {details['peak_mb']:.0f} MB  score {details['score']:g}"
            )
    ns = statistics.fmean(seconds["namespaces"])
    ah = statistics.fmean(seconds["audit-hook"])
    print(
        f"mean per submission: namespaces {ns:.2f} s, audit-hook {ah:.2f} s, "
        f"ratio {ns / ah:.3f}"
    )
    size = (tmp / "namespaces-0" / "report.html").stat().st_size
    print(f"report.html of one submission: {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
