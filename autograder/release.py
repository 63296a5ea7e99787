"""Release a week: every artefact tutors and students need, from the one master.

``DIR/<week>/``
    ``student/<week>.ipynb``            for students (otter assign; no solutions, public
                                        tests only)
    ``autograder/<week>-autograder.zip`` otter / Gradescope autograder (hidden tests)
    ``solution/<week>.ipynb``           tutors only: the worked solution
    ``nbgrader/source/<week>/<week>.ipynb``  nbgrader source (tutors only)
    ``nbgrader/release/<week>/<week>.ipynb`` nbgrader student version
    ``verification.json``               how the solution and each mutant scored

Before anything is written the master is verified: its solution must score full
marks and every mutant must lose points on its own question.  A release whose
student files would contain solution code or hidden-test code is refused too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

from autograder.master import (
    _raw_config,
    Master,
    load_master,
    load_mutants,
    mutant_notebook,
    solution_notebook,
    strip_solution_markers,
)
from autograder.nbgrader_source import nbgrader_source
from autograder.runner import Limits, grade_cells_of_notebook


class ReleaseError(RuntimeError):
    """The master is not fit to release; the message says why."""


def _code_cells(nb) -> list[tuple[int, str]]:
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def verify(master: Master, engine: str = "otter", limits: Limits | None = None) -> dict:
    """Grade the solution and every mutant; raise :class:`ReleaseError` on a failure."""
    limits = limits or Limits(timeout=600)
    report = {"engine": engine, "solution": None, "mutants": {}}
    sol = grade_cells_of_notebook(
        _code_cells(solution_notebook(master)), master, engine, limits
    )
    report["solution"] = {
        "score": sol.score,
        "max_score": sol.max_score,
        "status": sol.status,
        "seconds": sol.seconds,
    }
    problems = []
    if sol.status != "graded" or abs(sol.score - sol.max_score) > 1e-9:
        failed = [u.name for u in sol.units if not u.passed]
        problems.append(
            f"the solution scores {sol.score:g}/{sol.max_score:g} "
            f"(status {sol.status}; failing: {', '.join(failed) or '-'}; "
            f"{'; '.join(sol.reasons)})"
        )
    mutants = load_mutants(master)
    if not mutants:
        problems.append(
            "no mutants: every question needs at least one known-wrong answer"
        )
    covered = {m.question for m in mutants}
    for q in master.questions:
        if q.name not in covered:
            problems.append(f"question {q.name} has no mutant")
    for mutant in mutants:
        out = grade_cells_of_notebook(
            _code_cells(mutant_notebook(master, mutant)), master, engine, limits
        )
        own = out.questions[mutant.question]
        full = master.question(mutant.question).points
        report["mutants"][mutant.name] = {
            "question": mutant.question,
            "score": out.score,
            "question_score": own,
            "seconds": out.seconds,
        }
        if own >= full - 1e-9:
            problems.append(
                f"mutant {mutant.name} keeps all {full:g} points of "
                f"{mutant.question}: the hidden tests do not catch it"
            )
    if problems:
        raise ReleaseError(
            f"{master.week} is not fit to release:\n  - " + "\n  - ".join(problems)
        )
    return report


def leaks(master: Master, text: str) -> list[str]:
    """Solution lines or hidden-test code that appear in ``text`` (a student file)."""
    found = []
    in_solution = False
    # Lines that the master shows outside solution blocks (the prompts quote some
    # calls) are public and cannot leak.
    public = "\n".join(strip_solution_blocks(c.source) for c in master.notebook.cells)
    for cell in master.notebook.cells:
        raw = _raw_config(cell)
        if raw:
            in_solution = {"BEGIN SOLUTION": True, "END SOLUTION": False}.get(
                raw[0], in_solution
            )
            continue
        if cell.cell_type != "code" or not in_solution:
            continue
        body, inside = [], False
        for line in cell.source.splitlines():
            if "# BEGIN SOLUTION" in line:
                inside = True
            elif "# END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                body.append(line.strip())
        found += [
            f"solution line: {line}"
            for line in body
            if line in text and line not in public
        ]
    for q in master.questions:
        for t in q.tests:
            if t.hidden and (t.name in text or "BEGIN HIDDEN TESTS" in text):
                found.append(f"hidden test {t.name}")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        if marker in text:
            found.append(f"marker {marker}")
    return found


def strip_solution_blocks(source: str) -> str:
    """``source`` without the lines between ``# BEGIN/END SOLUTION`` markers."""
    kept, inside = [], False
    for line in source.splitlines():
        if "# BEGIN SOLUTION" in line:
            inside = True
        elif "# END SOLUTION" in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _run(cmd: list[str], cwd: Path) -> None:
    env = dict(
        os.environ,
        TML_QUIET="1",
        MPLBACKEND="Agg",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(
            f"{' '.join(cmd[:3])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


# issue 12: a student notebook ends with otter's export cell and says what to submit.
SUBMIT_INSTRUCTIONS = (
    "**What to submit:** the zip file that the cell below writes next to this notebook "
    "(or, if your course says so, this `.ipynb` itself, unrenamed). Restart the kernel "
    "and run all cells first: hidden tests run on exactly what you submit."
)


def with_export_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose ASSIGNMENT CONFIG asks otter for an export cell."""
    import yaml

    nb = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith(
            "# ASSIGNMENT CONFIG"
        ):
            config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            config["export_cell"] = {"pdf": False, "instructions": SUBMIT_INSTRUCTIONS}
            cell.source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(
                config, sort_keys=False
            )
    return nb


def student_notebook(master: Master, workdir: Path) -> tuple[Path, Path]:
    """Run ``otter assign``; return (student notebook, autograder zip)."""
    src = workdir / f"{master.week}.ipynb"
    jupytext.write(with_export_cell(master.notebook), src, fmt="ipynb")  # issue 12
    _run([_bin("otter"), "assign", src.name, "dist"], workdir)
    student = workdir / "dist" / "student" / f"{master.week}.ipynb"
    zips = sorted((workdir / "dist" / "autograder").glob("*-autograder_*.zip"))
    if not student.is_file() or len(zips) != 1:
        raise ReleaseError(
            "otter assign did not write the student notebook and one zip"
        )
    nb = nbformat.read(student, as_version=4)
    while nb.cells and not nb.cells[-1].source.strip():  # issue 12: end on export
        nb.cells.pop()
    nb.metadata["tmlbook"] = {"week": master.week, "kind": "student"}
    nbformat.write(nb, student)
    return student, zips[0]


def release(
    week: str, out: str | Path, *, check: bool = True, limits: Limits | None = None
) -> Path:
    """Write the release of ``week`` under ``out/<week>``; return that folder."""
    master = load_master(week)
    report = verify(master, limits=limits) if check else {"skipped": True}
    target = Path(out) / week
    with tempfile.TemporaryDirectory(prefix=f"tml-release-{week}-") as tmp:
        tmp = Path(tmp)
        student, zip_path = student_notebook(master, tmp)
        course = tmp / "course"
        (course / "source" / week).mkdir(parents=True)
        nbformat.write(
            nbgrader_source(master), course / "source" / week / f"{week}.ipynb"
        )
        (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
        _run([_bin("nbgrader"), "generate_assignment", week, "--force"], course)
        nbg_release = course / "release" / week / f"{week}.ipynb"
        for path in (student, nbg_release):
            found = leaks(master, path.read_text())
            if found:
                raise ReleaseError(f"{path} would leak: {found[:5]}")
        if target.exists():
            shutil.rmtree(target)
        for sub in (
            "student",
            "autograder",
            "solution",
            f"nbgrader/source/{week}",
            f"nbgrader/release/{week}",
        ):
            (target / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(student, target / "student" / f"{week}.ipynb")
        shutil.copy(zip_path, target / "autograder" / f"{week}-autograder.zip")
        nbformat.write(solution_notebook(master), target / "solution" / f"{week}.ipynb")
        shutil.copy(
            course / "source" / week / f"{week}.ipynb",
            target / "nbgrader" / "source" / week / f"{week}.ipynb",
        )
        shutil.copy(
            nbg_release, target / "nbgrader" / "release" / week / f"{week}.ipynb"
        )
        (target / "nbgrader" / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
    (target / "verification.json").write_text(json.dumps(report, indent=1))
    return target


def publish(out: str | Path, weeks: list[str]) -> list[Path]:
    """Student notebooks only (for the book's download links): ``out/<week>.ipynb``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for week in weeks:
        master = load_master(week)
        with tempfile.TemporaryDirectory(prefix=f"tml-publish-{week}-") as tmp:
            student, _ = student_notebook(master, Path(tmp))
            found = leaks(master, student.read_text())
            if found:
                raise ReleaseError(
                    f"{week}: the student notebook would leak {found[:5]}"
                )
            shutil.copy(student, out / f"{week}.ipynb")
        written.append(out / f"{week}.ipynb")
    return written


NBGRADER_CONFIG = """\
# nbgrader course configuration written by `python -m autograder release`.
c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
"""

__all__ = [
    "release",
    "publish",
    "verify",
    "leaks",
    "ReleaseError",
    "strip_solution_markers",
]
