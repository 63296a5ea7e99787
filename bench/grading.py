"""Grading cost: bare notebook execution vs full grading, and batch throughput.

    .venv/bin/python bench/grading.py [--week w01] [--batch 40]

Prints (never asserts):
* per submission: the time to execute the solution notebook's code in a fresh
  Python process (what a student's "Run all" costs, kernel start excluded), the
  time to grade it (sandbox + tests), and their ratio; and the time to run the
  notebook and all its tests in one unprotected process, which is the floor for
  any grader, and how far isolation is above it;
* a batch of N copies of the solution graded with 1 and 2 workers: wall time and
  the peak resident memory of the whole process tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TML_QUIET", "1")
# Heavy imports happen inside main(): the grading pool's processes re-import this
# script, and they should start as light as they do under `python -m autograder`.


def _script_seconds(source: str) -> float:
    """Wall time of running ``source`` as a script in a fresh Python process."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, fh.name],
        check=True,
        capture_output=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    return time.perf_counter() - started


def bare_seconds(nb) -> float:
    code = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return _script_seconds("import os\nos.environ['MPLBACKEND'] = 'Agg'\n" + code)


def in_process_seconds(master, nb) -> float:
    """Notebook *and* its tests in one plain process, no isolation: the least any
    grader must spend (roughly what ``otter run`` does, minus its own overhead)."""
    from autograder.master import strip_solution_markers

    tests = [t for q in master.questions for t in q.tests]
    script = ["import os, inspect", "os.environ['MPLBACKEND'] = 'Agg'"]
    script += [c.source for c in nb.cells if c.cell_type == "code"]
    for t in tests:
        script.append(strip_solution_markers(t.code))
        script.append(
            f"{t.name}(*[globals()[p] for p in inspect.signature({t.name}).parameters])"
        )
    return _script_seconds("\n\n".join(script))


class PeakMemory:  # noqa: D101
    """Samples the resident memory of this process and all its descendants."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> None:
    import nbformat

    from autograder.grade import grade
    from autograder.master import load_master, solution_notebook
    from autograder.runner import Limits

    parser = argparse.ArgumentParser()
    parser.add_argument("--week", default="w01")
    parser.add_argument("--batch", type=int, default=40, help="0 skips the batch")
    args = parser.parse_args()
    master = load_master(args.week)
    nb = solution_notebook(master)
    tmp = Path(tempfile.mkdtemp(prefix="tml-bench-"))
    nbformat.write(nb, tmp / "one.ipynb")
    limits = Limits(timeout=600)

    bare = min(bare_seconds(nb) for _ in range(2))
    started = time.perf_counter()
    grade(args.week, [tmp / "one.ipynb"], tmp / "g1", limits=limits, progress=False)
    full = time.perf_counter() - started
    print(
        f"{args.week} bare execution {bare:.1f} s, full grading {full:.1f} s, "
        f"ratio {full / bare:.2f}"
    )
    plain = min(in_process_seconds(master, nb) for _ in range(2))
    print(
        f"{args.week} notebook + tests in one plain process {plain:.1f} s; "
        f"isolated grading costs {full / plain:.2f}x that"
    )

    batch = tmp / "batch"
    batch.mkdir()
    for i in range(args.batch):
        nbformat.write(nb, batch / f"student{i:03d}.ipynb")
    for workers in (1, 2) if args.batch else ():
        with PeakMemory() as mem:
            started = time.perf_counter()
            rows = grade(
                args.week,
                [batch],
                tmp / f"b{workers}",
                workers=workers,
                limits=limits,
                progress=False,
            )
            wall = time.perf_counter() - started
        ok = sum(r["score"] == r["max_score"] for r in rows)
        print(
            f"batch of {args.batch}, {workers} worker(s): wall {wall:.0f} s "
            f"({wall / args.batch:.1f} s per submission), peak memory "
            f"{mem.peak / 2**30:.2f} GiB, full marks {ok}/{len(rows)}"
        )


if __name__ == "__main__":
    main()
