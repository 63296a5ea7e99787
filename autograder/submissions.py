"""Find submissions and read their notebooks, refusing what cannot be graded."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_BYTES = 50 * 2**20
SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


class Rejected(ValueError):
    """A submission that cannot be graded; the message is the reason."""


@dataclass
class Submission:
    student: str
    path: Path
    name: str = ""  # the name as handed in (file stem or folder name)


def student_id(name: str) -> str:
    sid = SAFE_ID.sub("_", name).strip("._") or "unnamed"
    return sid[:80]


def _is_student_folder(path: Path, week: str) -> bool:
    """``<student>/`` holds ``<week>.ipynb``, or one notebook and nothing else."""
    if (path / f"{week}.ipynb").is_file() or (path / week).is_dir():
        return True  # <student>/<week>.ipynb, or nbgrader's <student>/<week>/
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    notebooks = [p for p in entries if p.is_file() and p.suffix == ".ipynb"]
    others = [p for p in entries if p.is_dir() or p.suffix == ".zip"]
    return len(notebooks) == 1 and not others


def discover(paths: list[str | Path], week: str) -> list[Submission]:
    """Each path is a ``.ipynb``, an otter ``.zip``, a ``<student>/`` folder holding
    a notebook, or a folder of such submissions.  Sorted by student id; repeated
    ids get a ``-2``, ``-3``... suffix."""
    found: list[Submission] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"submission {path} does not exist")
        if path.is_file():
            found.append(Submission(student_id(path.stem), path, path.stem))
        elif _is_student_folder(path, week):
            found.append(Submission(student_id(path.name), path, path.name))
        else:
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_dir() or child.suffix in (".ipynb", ".zip"):
                    name = child.name if child.is_dir() else child.stem
                    found.append(Submission(student_id(name), child, name))
    found.sort(key=lambda s: (s.student, str(s.path)))
    seen: dict[str, int] = {}
    for sub in found:
        seen[sub.student] = seen.get(sub.student, 0) + 1
        if seen[sub.student] > 1:
            sub.student = f"{sub.student}-{seen[sub.student]}"
    return found


def _notebook_bytes(sub: Submission, week: str) -> tuple[bytes, list[str]]:
    notes: list[str] = []
    path = sub.path
    if path.is_dir() and (path / week).is_dir():  # nbgrader: <student>/<week>/
        path = path / week
    if path.is_dir():
        wanted = path / f"{week}.ipynb"
        if wanted.is_file():
            path = wanted
        else:
            nbs = sorted(p for p in path.glob("*.ipynb") if p.is_file())
            if len(nbs) != 1:
                raise Rejected(f"folder holds {len(nbs)} notebooks and no {week}.ipynb")
            path = nbs[0]
            notes.append(f"graded {path.name} (expected {week}.ipynb)")
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                members = [
                    m
                    for m in zf.infolist()
                    if m.filename.endswith(".ipynb")
                    and not m.filename.startswith("__MACOSX")
                ]
                if not members:
                    raise Rejected("the zip file holds no notebook")
                members.sort(
                    key=lambda m: (Path(m.filename).name != f"{week}.ipynb", m.filename)
                )
                member = members[0]
                if member.file_size > MAX_NOTEBOOK_BYTES:
                    raise Rejected("the notebook in the zip is larger than 50 MB")
                with zf.open(member) as fh:
                    data = fh.read(MAX_NOTEBOOK_BYTES + 1)
        except zipfile.BadZipFile:
            raise Rejected("not a readable zip file") from None
        return data, notes
    if path.suffix != ".ipynb":
        raise Rejected(
            f"{path.name} is not a notebook (.ipynb) or an otter export (.zip)"
        )
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise Rejected("the notebook is larger than 50 MB")
    return path.read_bytes(), notes


def notebook_week(nb: dict) -> str | None:
    meta = nb.get("metadata", {})
    otter = meta.get("otter") if isinstance(meta.get("otter"), dict) else {}
    ours = meta.get("tmlbook") if isinstance(meta.get("tmlbook"), dict) else {}
    for value in (otter.get("assignment_name"), ours.get("week")):
        if value:
            return str(value)
    return None


def read_cells(sub: Submission, week: str) -> tuple[list[tuple[int, str]], list[str]]:
    """The code cells ``[(index, source)]`` of a submission, and notes for the tutor.

    Raises
    ------
    Rejected
        Not a notebook, unreadable, or a notebook of another week.
    """
    data, notes = _notebook_bytes(sub, week)
    try:
        nb = json.loads(data.decode("utf-8"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        if not isinstance(nb.get("metadata", {}), dict):
            raise ValueError("metadata is not a mapping")
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(f"not a valid notebook ({type(exc).__name__})") from None
    other = notebook_week(nb)
    if other is not None and other != week:
        raise Rejected(f"this is a notebook for {other}, not {week}")
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        cells.append((i + 1, str(source)))  # numbered from 1, as people count
    return cells, notes


# A resubmission: ``alice-2``, ``alice-3`` ... or a name ending in a time
# (``alice_2026-01-15T13-01``, ``alice 20260115 1301``).
RESUBMISSION = re.compile(
    r"^(?P<base>.+?)(?:-(?P<n>\d{1,3})"
    r"|[-_ ](?P<ts>\d{4}[-_]?\d{2}[-_]?\d{2}"
    r"(?:[T_ -]?\d{2}[-_:]?\d{2}(?:[-_:]?\d{2}(?:[-_.]\d+)?)?)?))$"
)


def attempt_base(name: str) -> tuple[str, int]:
    """``("alice", 2)`` for ``alice-2``; ``("alice", 1)`` for ``alice``; a name
    ending in a time keeps attempt number 1 (its time orders it)."""
    match = RESUBMISSION.match(name)
    if not match:
        return name, 1
    return match.group("base"), int(match.group("n") or 1)


def group_attempts(subs: list[Submission]) -> dict[str, list[Submission]]:
    """Submissions grouped by student: ``{student id: [attempts]}``.

    Raises
    ------
    ValueError
        Two different names hand in under one student id (``"ana b"`` and
        ``"ana_b"`` both become ``ana_b``): which is which cannot be decided.
    """
    groups: dict[str, list[Submission]] = {}
    names: dict[str, str] = {}
    for sub in subs:
        base, _ = attempt_base(sub.name or sub.student)
        sid = student_id(base)
        if sid in names and names[sid] != base:
            raise ValueError(
                f"student id {sid!r} stands for two different names, "
                f"{names[sid]!r} and {base!r} ({sub.path}): rename one of them"
            )
        names[sid] = base
        groups.setdefault(sid, []).append(sub)
    for attempts in groups.values():
        attempts.sort(key=lambda s: (attempt_base(s.name or s.student)[1], s.name))
    return dict(sorted(groups.items()))
