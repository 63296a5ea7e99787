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


def student_id(name: str) -> str:
    sid = SAFE_ID.sub("_", name).strip("._") or "unnamed"
    return sid[:80]


def _is_student_folder(path: Path, week: str) -> bool:
    """``<student>/`` holds ``<week>.ipynb``, or one notebook and nothing else."""
    if (path / f"{week}.ipynb").is_file():
        return True
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
            found.append(Submission(student_id(path.stem), path))
        elif _is_student_folder(path, week):
            found.append(Submission(student_id(path.name), path))
        else:
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_dir() or child.suffix in (".ipynb", ".zip"):
                    name = child.name if child.is_dir() else child.stem
                    found.append(Submission(student_id(name), child))
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
