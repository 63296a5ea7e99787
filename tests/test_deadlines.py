"""Deadlines, lateness and resubmissions (issue 13), for both engines."""

import csv
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autograder import deadlines
from autograder.grade import grade
from autograder.runner import Limits
from autograder.submissions import discover, group_attempts
from conftest import write_nb
from tutor_helpers import q1_points, tiny_notebook, wrong_q1

REPO = Path(__file__).resolve().parent.parent
DUE = "2026-01-15 23:59 Europe/Berlin"
LIMITS = Limits(timeout=240, cell_timeout=60, call_timeout=60)


def _stamp(moment: datetime) -> str:
    """nbgrader's timestamp.txt format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


# ------------------------------------------------------------------ parsing, policy
def test_due_dates_parse_with_zones_and_fail_clearly():
    berlin = deadlines.parse_due(DUE)
    assert berlin.utcoffset() == timedelta(hours=1)
    assert deadlines.parse_due("2026-01-15 22:59 UTC") == berlin
    assert deadlines.parse_due("2026-01-15 23:59 +01:00") == berlin
    for bad, why in [
        ("15/01/2026 23:59", "YYYY-MM-DD HH:MM TZ"),
        ("2026-01-15 23:59", "no time zone"),
        ("2026-01-15 23:59 Mars/Olympus", "unknown time zone"),
        ("2026-02-30 10:00 UTC", "day is out of range"),
        ("tomorrow", "--due 'tomorrow'"),
    ]:
        with pytest.raises(ValueError, match=why):
            deadlines.parse_due(bad)


def test_late_policies():
    due = deadlines.parse_due(DUE)
    late = deadlines.Deadline(due, grace_minutes=15, policy="10")
    assert deadlines.penalty(3.0, due + timedelta(minutes=14), late) == 0
    assert deadlines.penalty(3.0, due + timedelta(minutes=16), late) == 0.3
    assert deadlines.penalty(3.0, due + timedelta(hours=26), late) == 0.6
    assert deadlines.penalty(3.0, due + timedelta(days=30), late) == 3.0  # capped
    assert deadlines.penalty(3.0, due - timedelta(days=1), late) == 0
    zero = deadlines.Deadline(due, policy="zero")
    assert deadlines.penalty(2.5, due + timedelta(seconds=61), zero) == 2.5
    none = deadlines.Deadline(due, policy="none")
    assert deadlines.penalty(2.5, due + timedelta(days=3), none) == 0
    assert deadlines.late_minutes(due + timedelta(hours=2), none) == 120
    for bad in ("-5", "150", "half", ""):
        with pytest.raises(ValueError, match="late-policy"):
            deadlines.parse_policy(bad)
    with pytest.raises(ValueError, match="grace"):
        deadlines.Deadline(due, grace_minutes=-1)


def test_time_sources(tmp_path):
    due = deadlines.parse_due(DUE)
    zone = due.tzinfo
    folder = tmp_path / "ana"
    folder.mkdir()
    (folder / "w01.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text(_stamp(due + timedelta(hours=1)) + "\n")
    assert deadlines.submission_time(folder, "w01", zone) == (
        due + timedelta(hours=1),
        "timestamp.txt",
    )
    nested = tmp_path / "nbg" / "w01"  # nbgrader's submitted/<student>/<week>/
    nested.mkdir(parents=True)
    (nested / "w01.ipynb").write_text("{}")
    (nested / "timestamp.txt").write_text("2026-01-15 20:00:00 UTC")
    when, source = deadlines.submission_time(tmp_path / "nbg", "w01", zone)
    assert source == "timestamp.txt" and when == due - timedelta(hours=2, minutes=59)
    named = tmp_path / "w01_2026_01_16T00_10_00_123456.zip"  # otter's export name
    named.write_bytes(b"")
    assert deadlines.submission_time(named, "w01", zone) == (
        due + timedelta(minutes=11),
        "zip-name",
    )
    inner = tmp_path / "ben.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        info = zipfile.ZipInfo("w01.ipynb", date_time=(2026, 1, 15, 23, 0, 0))
        zf.writestr(info, "{}")
    assert deadlines.submission_time(inner, "w01", zone)[1] == "zip-entry"
    plain = tmp_path / "cleo.ipynb"
    plain.write_text("{}")
    os.utime(plain, (due.timestamp() + 60, due.timestamp() + 60))
    assert deadlines.submission_time(plain, "w01", zone) == (
        due + timedelta(minutes=1),
        "file-mtime",
    )
    (tmp_path / "cleo.timestamp.txt").write_text("yesterday-ish")
    with pytest.raises(ValueError, match="cleo.timestamp.txt"):
        deadlines.submission_time(plain, "w01", zone)


def test_resubmissions_group_by_student_and_two_names_for_one_id_fail(tmp_path):
    for name in ("alice.ipynb", "alice-2.ipynb", "bob.ipynb", "bob_2026-01-16T10-00"):
        path = tmp_path / name
        if path.suffix:
            path.write_text("{}")
        else:
            path.mkdir()
            (path / "w01.ipynb").write_text("{}")
    groups = group_attempts(discover([tmp_path], "w01"))
    assert {k: [s.path.name for s in v] for k, v in groups.items()} == {
        "alice": ["alice.ipynb", "alice-2.ipynb"],
        "bob": ["bob.ipynb", "bob_2026-01-16T10-00"],
    }
    (tmp_path / "ana b.ipynb").write_text("{}")
    (tmp_path / "ana_b.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="'ana b' and 'ana_b'"):
        group_attempts(discover([tmp_path], "w01"))


# ------------------------------------------------------------------ graded batches
@pytest.fixture(scope="module")
def late_batch(tmp_path_factory, w01):
    """alice: right on time, then wrong (later, still on time); bob: right, 26 h
    late (timestamp.txt); carol: right, 10 min late in an otter zip."""
    due = deadlines.parse_due(DUE)
    folder = tmp_path_factory.mktemp("late")
    right, wrong = tiny_notebook(w01), tiny_notebook(w01, wrong_q1(w01))
    write_nb(right, folder / "alice.ipynb")
    (folder / "alice.timestamp.txt").write_text(_stamp(due - timedelta(hours=1)))
    write_nb(wrong, folder / "alice-2.ipynb")
    (folder / "alice-2.timestamp.txt").write_text(_stamp(due - timedelta(minutes=9)))
    write_nb(right, folder / "bob" / "w01.ipynb")
    (folder / "bob" / "timestamp.txt").write_text(_stamp(due + timedelta(hours=26)))
    write_nb(right, folder / "zip" / "w01.ipynb")
    with zipfile.ZipFile(folder / "carol.zip", "w") as zf:
        info = zipfile.ZipInfo("w01.ipynb", date_time=(2026, 1, 16, 0, 9, 0))
        zf.writestr(info, (folder / "zip" / "w01.ipynb").read_text())
    (folder / "zip" / "w01.ipynb").unlink()
    (folder / "zip").rmdir()
    return folder


def test_otter_best_attempt_lateness_and_penalty(late_batch, tmp_path, w01):
    out = tmp_path / "out"
    deadline = deadlines.Deadline(deadlines.parse_due(DUE), 15, "10")
    rows = grade(
        "w01",
        [late_batch],
        out,
        engine="otter",
        workers=2,
        limits=LIMITS,
        deadline=deadline,
        resubmission="best",
    )
    by = {r["student"]: r for r in rows}
    full = q1_points(w01)
    assert set(by) == {"alice", "bob", "carol"}
    alice = by["alice"]
    assert alice["counted"] == "alice.ipynb" and alice["attempts"] == 2
    assert alice["score"] == full and alice["penalty"] == 0 and alice["late_by"] == 0
    assert alice["time_source"] == "timestamp.txt"
    bob = by["bob"]
    assert bob["late_by"] == 26 * 60 and bob["time_source"] == "timestamp.txt"
    assert bob["penalty"] == pytest.approx(0.2 * full)  # two started days
    assert bob["score"] == pytest.approx(0.8 * full) and "late" in bob["reason"]
    carol = by["carol"]
    assert carol["time_source"] == "zip-entry" and carol["late_by"] == 10
    assert carol["penalty"] == 0 and carol["score"] == full  # within the grace
    details = json.loads((out / "results" / "alice.json").read_text())
    assert [a["counted"] for a in details["attempts"]] == [True, False]
    with open(out / "grades.csv") as fh:
        header = next(csv.reader(fh))
    assert header[-6:] == [
        "submitted_at",
        "time_source",
        "late_by",
        "penalty",
        "counted",
        "attempts",
    ]
    assert (out / "report.html").is_file()


def test_nbgrader_last_attempt_zero_policy_from_the_command_line(
    late_batch, tmp_path, w01
):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "w01",
            str(late_batch / "alice.ipynb"),
            str(late_batch / "alice-2.ipynb"),
            str(late_batch / "bob"),
            "--out",
            str(out),
            "--engine",
            "nbgrader",
            "--workers",
            "2",
            "--timeout",
            "240",
            "--due",
            DUE,
            "--late-policy",
            "zero",
            "--resubmission",
            "last",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, TML_QUIET="1"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "isolation: " in proc.stdout and "report.html" in proc.stdout
    with open(out / "grades.csv") as fh:
        by = {r["student"]: r for r in csv.DictReader(fh)}
    assert by["alice"]["counted"] == "alice-2.ipynb"  # the last, though worse
    # the wrong q1 keeps at most its public (form) points
    assert float(by["alice"]["q1"]) < q1_points(w01)
    assert by["alice"]["attempts"] == "2"
    assert float(by["bob"]["score"]) == 0 and float(by["bob"]["penalty"]) > 0
    assert by["bob"]["engine"] == "nbgrader"
    details = json.loads((out / "results" / "alice.json").read_text())
    assert len(details["attempts"]) == 1  # only the last attempt was graded


def test_cli_refuses_an_unparseable_due_date(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "w01",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--due",
            "next friday",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "--due 'next friday'" in proc.stderr
