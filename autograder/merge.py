"""Merge the ``grades.csv`` of grading shards; refuse duplicates and gaps."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from autograder.grade import BASE_COLUMNS


def merge(dirs: list[str | Path], out: str | Path) -> list[dict]:
    rows: list[dict] = []
    header = None
    owner: dict[str, str] = {}
    shards = set()
    for d in dirs:
        d = Path(d)
        path = d / "grades.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: was that shard graded?")
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if header is None:
                header = reader.fieldnames
            elif reader.fieldnames != header:
                raise ValueError(f"{path} has other columns than the first shard")
            for row in reader:
                if row["student"] in owner:
                    raise ValueError(
                        f"student {row['student']} is graded twice "
                        f"({owner[row['student']]} and {d})"
                    )
                owner[row["student"]] = str(d)
                rows.append(row)
        run = d / "run.json"
        if run.is_file():
            shards.add(json.loads(run.read_text()).get("shard"))
    if header is None or header[: len(BASE_COLUMNS)] != BASE_COLUMNS:
        raise ValueError("no grades to merge")
    shards.discard(None)
    if shards:
        n = {int(s.split("/")[1]) for s in shards}
        got = {int(s.split("/")[0]) for s in shards}
        if len(n) != 1 or got != set(range(1, n.pop() + 1)):
            raise ValueError(f"shards {sorted(shards)} do not cover every slice: a gap")
    rows.sort(key=lambda r: r["student"])
    out = Path(out)
    for sub in ("results", "feedback"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for d in dirs:
        for sub in ("results", "feedback"):
            for f in (Path(d) / sub).glob("*"):
                shutil.copy(f, out / sub / f.name)
    with open(out / "grades.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return rows
