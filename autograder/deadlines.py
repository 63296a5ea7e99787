"""Deadlines, lateness and resubmissions.

* :func:`parse_due` reads ``"YYYY-MM-DD HH:MM TZ"`` (``TZ``: ``UTC``, an offset
  such as ``+01:00`` or an IANA name such as ``Europe/Berlin``).
* :func:`submission_time` finds when a submission was handed in, and says from
  where: a ``timestamp.txt`` beside the notebook (nbgrader's convention), the
  time in an otter export zip's name or, failing that, of the notebook inside
  the zip, else the file's modification time.
* :func:`penalty` applies a late policy: ``none`` (lateness is reported only),
  ``zero`` (a late submission scores 0) or a number, the percent of the score
  lost per started day late.  Within the grace period nothing is lost; the days
  are counted from the due time.
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STAMP = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"\s*(\S+)?\s*$"
)
OTTER_ZIP_TIME = re.compile(
    r"(\d{4})_(\d{2})_(\d{2})T(\d{2})_(\d{2})_(\d{2})(?:_\d+)?$"
)


def _zone(name: str):
    if name in ("Z", "UTC", "GMT", "utc"):
        return UTC
    offset = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?", name)
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
        return timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def parse_time(text: str, default_tz=None) -> datetime:
    """``YYYY-MM-DD HH:MM[:SS[.ffffff]] [TZ]`` as an aware datetime.

    Raises
    ------
    ValueError
        The text is not such a time, or names an unknown zone, or has no zone
        and ``default_tz`` is None.
    """
    match = STAMP.match(text or "")
    if not match:
        raise ValueError(f"cannot read {text!r} as a time: use 'YYYY-MM-DD HH:MM TZ'")
    y, mo, d, h, mi, s, frac, tz = match.groups()
    if tz is None and default_tz is None:
        raise ValueError(f"{text!r} names no time zone: add one, e.g. 'UTC'")
    zone = _zone(tz) if tz else default_tz
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        naive = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro)
    except ValueError as exc:
        raise ValueError(f"cannot read {text!r} as a time: {exc}") from None
    return naive.replace(tzinfo=zone)


def parse_due(text: str) -> datetime:
    """The due date of ``--due``: ``"YYYY-MM-DD HH:MM TZ"``, the zone required."""
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ValueError(f"--due {text!r}: {exc}") from None


def parse_policy(text: str) -> str | float:
    """``none``, ``zero`` or a percent per day (a number in (0, 100])."""
    if text in ("none", "zero"):
        return text
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value <= 100:
        raise ValueError(
            f"--late-policy {text!r}: use none, zero or a percent per day in (0, 100]"
        )
    return value


@dataclass
class Deadline:
    due: datetime | None = None
    grace_minutes: float = 0.0
    policy: str | float = "none"

    def __post_init__(self):
        if self.grace_minutes < 0:
            raise ValueError("--grace must not be negative")
        if isinstance(self.policy, str):
            self.policy = parse_policy(self.policy)

    @property
    def zone(self):
        return self.due.tzinfo if self.due is not None else UTC


def notebook_folder(path: Path, week: str) -> Path | None:
    """The folder that holds a folder submission's notebook (nbgrader's
    ``<student>/<week>/`` layout included)."""
    if not path.is_dir():
        return None
    nested = path / week
    return nested if nested.is_dir() else path


def submission_time(path: Path, week: str, zone=UTC) -> tuple[datetime, str]:
    """When ``path`` was handed in and the source of that time.

    Sources, in order: ``timestamp.txt`` (in the submission's folder, or
    ``<name>.timestamp.txt`` beside a file), the otter zip's name
    (``..._YYYY_MM_DDTHH_MM_SS_ffffff.zip``), the notebook's time inside the zip,
    the file's modification time.  Times without a zone are read in ``zone``.
    """
    path = Path(path)
    folder = notebook_folder(path, week)
    stamp = (
        folder / "timestamp.txt"
        if folder is not None
        else path.with_name(path.stem + ".timestamp.txt")
    )
    if stamp.is_file():
        text = stamp.read_text(errors="replace").strip().splitlines()
        try:
            return parse_time(text[0] if text else "", zone), "timestamp.txt"
        except ValueError as exc:
            raise ValueError(f"{stamp}: {exc}") from None
    if path.suffix == ".zip":
        match = OTTER_ZIP_TIME.search(path.stem)
        if match:
            return datetime(*map(int, match.groups()), tzinfo=zone), "zip-name"
        try:
            with zipfile.ZipFile(path) as zf:
                times = [
                    m.date_time for m in zf.infolist() if m.filename.endswith(".ipynb")
                ]
            if times:
                return datetime(*max(times), tzinfo=zone), "zip-entry"
        except (zipfile.BadZipFile, OSError, ValueError):
            pass
    target = path
    if folder is not None:
        notebooks = sorted(folder.glob("*.ipynb"))
        target = notebooks[0] if notebooks else folder
    mtime = datetime.fromtimestamp(target.stat().st_mtime, tz=UTC)
    return mtime.astimezone(zone), "file-mtime"


def late_minutes(submitted: datetime, deadline: Deadline) -> float:
    """Minutes after the due time (0 when on time)."""
    if deadline.due is None:
        return 0.0
    return max(0.0, (submitted - deadline.due).total_seconds() / 60)


def penalty(score: float, submitted: datetime, deadline: Deadline) -> float:
    """Points lost for lateness under the deadline's policy."""
    late = late_minutes(submitted, deadline)
    if late <= deadline.grace_minutes or deadline.policy == "none" or score <= 0:
        return 0.0
    if deadline.policy == "zero":
        return float(score)
    days = math.ceil(late / (24 * 60))
    return round(min(1.0, deadline.policy / 100 * days) * score, 4)


def format_time(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")
