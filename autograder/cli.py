"""``python -m autograder``: release, grade, merge and compare weekly exercises."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.master import MasterError, available_weeks
from autograder.runner import ENGINES, Limits

EPILOG = """\
examples:
  python -m autograder release w01 --out release/
  python -m autograder release w08 --out release/ --variant alice --variant bob
  python -m autograder release w08 --out release/ --roster students.txt
  python -m autograder grade w01 submissions/* --out grades/w01 --workers 2
  python -m autograder grade w01 submissions/* --out part1 --shard 1/2
  python -m autograder merge part1 part2 --out grades/w01
  python -m autograder similarity w01 submissions/* --out similarity/w01
  python -m autograder grade w01 submissions/ --out grades/w01 \
      --due "2026-01-15 23:59 Europe/Berlin" --grace 15 --late-policy 10 \
      --resubmission last
  python -m autograder report grades/w01 --similarity similarity/w01 --out grades/w01
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autograder",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Release and grade the book's weekly exercises.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "release", help="write student, solution, otter and nbgrader files"
    )
    r.add_argument("week", nargs="?", help="w01, w02, ... (or use --all)")
    r.add_argument("--all", action="store_true", help="release every week")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument(
        "--no-verify",
        action="store_true",
        help="skip grading the solution and the mutants first",
    )
    r.add_argument(
        "--full",
        action="store_true",
        help="verify each mutant on the whole notebook, not its question alone",
    )
    r.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="STUDENT_ID",
        help="an exam (w08, w16): also write this student's seeded variant "
        "(student/variants/WEEK-ID.ipynb); repeat for more students",
    )
    r.add_argument(
        "--roster",
        default=None,
        metavar="FILE",
        help="an exam: one student id per line, each gets its variant",
    )
    r.add_argument(
        "--check-otter",
        action="store_true",
        help="also grade solution and mutants with `otter run` and both engines, "
        "and require the same per-question scores",
    )

    pub = sub.add_parser("publish", help="student notebooks only, for the book")
    pub.add_argument("--out", required=True)

    g = sub.add_parser("grade", help="grade submissions into grades.csv and feedback")
    g.add_argument("week", help="w01, w02, ... or the path of a master .md file")
    g.add_argument(
        "submissions",
        nargs="+",
        help=".ipynb files, otter .zip exports, <student>/ folders",
    )
    g.add_argument("--out", required=True)
    g.add_argument("--engine", choices=ENGINES, default="otter")
    g.add_argument("--workers", type=int, default=1)
    g.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds per submission (default 600)",
    )
    g.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        help="seconds per notebook cell (default: min(120, timeout))",
    )
    g.add_argument("--memory", type=int, default=4096, help="MB per submission")
    g.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default=None,
        help="default: TML_DEVICE, else cpu",
    )
    g.add_argument(
        "--threads", type=int, default=1, help="torch threads per submission"
    )
    g.add_argument("--shard", default=None, help="I/N: grade the I-th of N slices")
    g.add_argument(
        "--due",
        default=None,
        help='due date, "YYYY-MM-DD HH:MM TZ" (TZ: UTC, +01:00, Europe/Berlin)',
    )
    g.add_argument(
        "--grace", type=float, default=0.0, help="minutes late without penalty"
    )
    g.add_argument(
        "--late-policy",
        default="none",
        help="none (report only), zero, or PERCENT lost per started day late",
    )
    g.add_argument(
        "--resubmission",
        choices=("all", "last", "best"),
        default="all",
        help="alice.ipynb, alice-2.ipynb...: every file a row (all, default), "
        "the latest counts (last) or the best after penalty (best)",
    )
    g.add_argument(
        "--isolation",
        choices=("auto", "namespaces", "audit-hook"),
        default="auto",
        help="auto: OS namespaces (bubblewrap) where available, else the audit hook",
    )
    g.add_argument("--similarity", default=None, help="similarity folder for report")
    g.add_argument("--no-report", action="store_true", help="do not write report.html")

    rp = sub.add_parser("report", help="the tutors' HTML report of a graded batch")
    rp.add_argument("grades", help="the folder that grade wrote")
    rp.add_argument("--similarity", default=None, help="the similarity folder")
    rp.add_argument("--out", required=True)

    m = sub.add_parser("merge", help="merge the grades.csv of several shards")
    m.add_argument("dirs", nargs="+")
    m.add_argument("--out", required=True)

    s = sub.add_parser(
        "similarity", help="report pairs of suspiciously similar answers"
    )
    s.add_argument("week")
    s.add_argument("submissions", nargs="+")
    s.add_argument("--out", required=True)
    s.add_argument("--top", type=int, default=20)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (MasterError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # ReleaseError and friends
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _roster(path: str | None) -> list[str]:
    """Student ids from a roster file: one per line; blank lines and # comments
    are skipped."""
    if path is None:
        return []
    lines = Path(path).read_text().splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


def _dispatch(args) -> int:
    import os

    if args.command == "release":
        from autograder.release import release

        if args.all == bool(args.week):
            raise ValueError("give one week or --all")
        weeks = available_weeks() if args.all else [args.week]
        for week in weeks:
            target = release(
                week,
                args.out,
                check=not args.no_verify,
                full=args.full,
                check_otter=args.check_otter,
                variants=args.variant + _roster(args.roster),
            )
            print(f"released {week} -> {target}")
        return 0
    if args.command == "publish":
        from autograder.release import publish

        for path in publish(args.out, available_weeks()):
            print(f"published {path}")
        return 0
    if args.command == "grade":
        from autograder.grade import grade, summary_table

        device = args.device or os.environ.get("TML_DEVICE", "cpu") or "cpu"
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(
                    "--device cuda but CUDA is not available on this machine"
                )
        if args.timeout <= 0 or args.memory <= 0 or args.workers < 1:
            raise ValueError("--timeout, --memory and --workers must be positive")
        cell = args.cell_timeout or min(120.0, args.timeout)
        limits = Limits(
            timeout=args.timeout,
            cell_timeout=cell,
            call_timeout=cell,
            memory_mb=args.memory,
            device=device,
            threads=args.threads,
            isolation=args.isolation,
        )
        from autograder import deadlines, isolation

        deadline = None
        if args.due is not None or args.late_policy != "none" or args.grace:
            if args.due is None:
                raise ValueError("--grace and --late-policy need --due")
            deadline = deadlines.Deadline(
                deadlines.parse_due(args.due), args.grace, args.late_policy
            )
        mode, note = isolation.mode_for(args.isolation, device)
        rows = grade(
            args.week,
            args.submissions,
            args.out,
            engine=args.engine,
            workers=args.workers,
            limits=limits,
            shard=args.shard,
            deadline=deadline,
            resubmission=args.resubmission,
            report=not args.no_report,
            similarity_dir=args.similarity,
        )
        print(summary_table(rows))
        print(f"isolation: {mode} ({note})")
        print(f"wrote {Path(args.out) / 'grades.csv'}")
        if not args.no_report:
            print(f"wrote {Path(args.out) / 'report.html'}")
        return 0
    if args.command == "report":
        from autograder.report import write_report

        path = write_report(args.grades, args.out, similarity_dir=args.similarity)
        print(f"wrote {path}")
        return 0
    if args.command == "merge":
        from autograder.merge import merge

        rows = merge(args.dirs, args.out)
        print(f"merged {len(rows)} rows into {Path(args.out) / 'grades.csv'}")
        return 0
    if args.command == "similarity":
        from autograder.similarity import similarity

        pairs = similarity(args.week, args.submissions, args.out, top=args.top)
        print(f"compared {len(pairs)} pairs; wrote {Path(args.out) / 'similarity.csv'}")
        return 0
    raise ValueError(f"unknown command {args.command}")
