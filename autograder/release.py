"""Release a week: every artefact tutors and students need, from the one master.

``DIR/<week>/``
    ``student/<week>.ipynb``            for students (otter assign; no solutions, public
                                        tests only)
    ``autograder/<week>-autograder.zip`` otter / Gradescope autograder (hidden tests)
    ``solution/<week>.ipynb``           tutors only: the worked solution
    ``nbgrader/source/<week>/<week>.ipynb``  nbgrader source (tutors only)
    ``nbgrader/release/<week>/<week>.ipynb`` nbgrader student version
    ``verification.json``               how the solution and each mutant scored
    ``student/variants/<week>-<ID>.ipynb`` an exam's notebook for student ``ID``
                                        (``variants``; see autograder.variants)

Before anything is written the master is verified: its solution must score full
marks and every mutant must lose points on its own question.  A release whose
student files would contain solution code or hidden-test code is refused too.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import jupytext
import nbformat

from autograder.master import (
    Master,
    independent_questions,
    load_master,
    load_mutants,
    mutant_notebook,
    mutants_notebook,
    solution_lines,
    solution_notebook,
    strip_solution_blocks,
    strip_solution_markers,
    walk,
)
from autograder.nbgrader_source import nbgrader_source
from autograder.runner import Limits, plan_for, run_plan
from autograder.submissions import student_id
from autograder.variants import is_variant_master, variant_seed, with_variant

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ReleaseError(RuntimeError):
    """The master is not fit to release; the message says why."""


def _code_cells(nb) -> list[tuple[int, str]]:
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _run_all(jobs: list, limits: Limits, workers: int) -> list:
    """``run_plan`` on each (cells, plan), ``workers`` at a time (our own notebooks:
    worker processes are reused; each notebook still gets a fresh sandbox)."""
    if workers <= 1 or len(jobs) <= 1:
        return [run_plan(cells, plan, limits) for cells, plan in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_plan, c, p, limits) for c, p in jobs]
        return [f.result() for f in futures]


def verify(
    master: Master,
    engine: str = "otter",
    limits: Limits | None = None,
    full: bool = False,
    workers: int = 2,
) -> dict:
    """Grade the solution and every mutant; raise :class:`ReleaseError` on a failure.

    The solution must score full marks.  Each mutant is graded on the setup cells
    and its own question (``full``: on the whole notebook, every question's tests)
    and must pass every public test of its question yet lose points there, through
    its hidden tests; with ``full`` it must also keep every other question's points.
    """
    limits = limits or Limits(timeout=600)
    report = {"engine": engine, "solution": None, "mutants": {}, "full": full}
    mutants = load_mutants(master)
    rounds = [[m] for m in mutants] if full else mutant_rounds(master, mutants)
    jobs = [(_code_cells(solution_notebook(master)), plan_for(master, engine))]
    for group in rounds:
        nb = mutants_notebook(master, group, alone=not full)
        plan = plan_for(master, engine, None if full else [m.question for m in group])
        jobs.append((_code_cells(nb), plan))
    sol, *outs = _run_all(jobs, limits, workers)
    graded = {}
    retry = []
    for group, out in zip(rounds, outs, strict=True):
        for mutant in group:
            own = _own_part(out, mutant.question) if len(group) > 1 else out
            if len(group) > 1 and mutant_problems(master, mutant, own):
                retry.append(mutant)  # decide on the mutant alone, as documented
            else:
                graded[mutant.name] = own
    if retry:
        jobs = [
            (
                _code_cells(mutant_notebook(master, m, alone=True)),
                plan_for(master, engine, [m.question]),
            )
            for m in retry
        ]
        for mutant, out in zip(retry, _run_all(jobs, limits, workers), strict=True):
            graded[mutant.name] = out
    graded = [graded[m.name] for m in mutants]
    report["solution"] = {
        "score": sol.score,
        "max_score": sol.max_score,
        "status": sol.status,
        "seconds": sol.seconds,
        "questions": sol.questions,
    }
    problems = []
    if sol.status != "graded" or abs(sol.score - sol.max_score) > 1e-9:
        failed = [u.name for u in sol.units if not u.passed]
        problems.append(
            f"the solution scores {sol.score:g}/{sol.max_score:g} "
            f"(status {sol.status}; failing: {', '.join(failed) or '-'}; "
            f"{'; '.join(sol.reasons)})"
        )
    if not mutants:
        problems.append(
            "no mutants: every question needs at least one known-wrong answer"
        )
    covered = {m.question for m in mutants}
    for q in master.questions:
        if q.name not in covered:
            problems.append(f"question {q.name} has no mutant")
    for mutant, out in zip(mutants, graded, strict=True):
        report["mutants"][mutant.name] = {
            "question": mutant.question,
            "questions": out.questions,
            "question_score": out.questions[mutant.question],
            "seconds": out.seconds,
            "units": {u.name: u.passed for u in out.units},
        }
        problems += mutant_problems(master, mutant, out)
    if problems:
        raise ReleaseError(
            f"{master.week} is not fit to release:\n  - " + "\n  - ".join(problems)
        )
    return report


def mutant_rounds(master: Master, mutants: list) -> list[list]:
    """Mutants in groups graded together: at most one mutant per question in a
    group, and a question that uses another question's answer always alone.

    Questions do not depend on each other, so grading the k-th mutant of every
    question in one notebook gives each question the score it gets alone, with one
    sandbox (and its ~4 s start, and one run of the setup cells) instead of one per
    mutant.  A mutant whose group result would reject it is graded again alone.  The
    one thing grouping assumes is that an answer does not change state that another
    question reads (say, a setup tensor modified in place); ``--full`` grades every
    mutant on its own notebook and checks the other questions too.
    """
    free = independent_questions(master)
    rounds: list[list] = []
    for m in mutants:
        if m.question not in free:
            rounds.append([m])
            continue
        for group in rounds:
            if (
                len(group)
                and group[0].question in free
                and all(g.question != m.question for g in group)
            ):
                group.append(m)
                break
        else:
            rounds.append([m])
    return rounds


def _own_part(out, question: str):
    """The part of a group's outcome that belongs to ``question``."""
    return replace(
        out,
        units=[u for u in out.units if u.question == question],
        questions={question: out.questions[question]},
        score=out.questions[question],
    )


def mutant_problems(master: Master, mutant, out) -> list[str]:
    """Why a graded mutant does not prove its question's hidden tests (or [])."""
    problems = []
    question = master.question(mutant.question)
    if out.status != "graded":
        problems.append(
            f"mutant {mutant.name} did not run ({out.status}: {'; '.join(out.reasons)})"
        )
    for unit in out.units:
        if unit.question == mutant.question and not unit.hidden and not unit.passed:
            problems.append(
                f"mutant {mutant.name} fails the public test {unit.name} "
                f"({unit.message[:120]}): a badly written mutant, since a student "
                "would see that failure; make the mistake pass the public tests"
            )
    own = out.questions[mutant.question]
    if own >= question.points - 1e-9:
        problems.append(
            f"mutant {mutant.name} keeps all {question.points:g} points of "
            f"{mutant.question}: the hidden tests do not catch it"
        )
    for q in master.questions:
        if q.name != mutant.question and q.name in out.questions:
            if out.questions[q.name] < q.points - 1e-9:
                problems.append(
                    f"mutant {mutant.name} of {mutant.question} loses points on "
                    f"{q.name} too: questions must not depend on each other"
                )
    return problems


def leaks(master: Master, text: str) -> list[str]:
    """Solution lines or hidden-test code that appear in ``text`` (a student file)."""
    found = []
    # Lines that the master shows outside solution blocks (the prompts quote some
    # calls) are public and cannot leak.
    public = "\n".join(strip_solution_blocks(c.source) for c in master.notebook.cells)
    for b in walk(master.notebook):
        cell = b.cell
        if b.marker is not None or cell.cell_type != "code" or not b.in_solution:
            continue
        body = [
            line.strip()
            for line, kind in solution_lines(cell.source)
            if kind == "solution" and len(line.strip()) > 12
        ]
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
    week: str,
    out: str | Path,
    *,
    check: bool = True,
    limits: Limits | None = None,
    full: bool = False,
    check_otter: bool = False,
    variants: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write the release of ``week`` under ``out/<week>``; return that folder.

    ``check``: verify the solution and the mutants first (:func:`verify`; ``full``
    grades each mutant on the whole notebook).  ``check_otter``: verify with both
    engines, then grade the solution and every mutant with the released otter zip
    under ``otter run`` (the Gradescope path) and require the same score on every
    question from all three.  ``variants``: student ids of an exam; each gets its
    own notebook, and (with ``check``) the solution of each variant must score full
    marks when graded as that student.
    """
    master = load_master(week)
    week = master.week
    seeds = variant_seeds(master, variants)
    report: dict = {"skipped": True}
    if check or check_otter:
        report = verify(master, limits=limits, full=full)
    if check and seeds:
        report = dict(report, variants=verify_variants(master, seeds, limits))
    if check_otter:
        report = {
            "otter": report,
            "nbgrader": verify(master, "nbgrader", limits=limits, full=full),
        }
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
        if seeds:
            (target / "student" / "variants").mkdir()
            released = nbformat.read(student, as_version=4)
        for sid, seed in seeds.items():
            nb = with_variant(released, seed)
            nb.metadata["tmlbook"] = dict(nb.metadata["tmlbook"], variant=seed)
            nbformat.write(nb, target / "student" / "variants" / f"{week}-{sid}.ipynb")
    if check_otter:
        report["otter_run"] = compare_with_otter_run(master, target, report)
    (target / "verification.json").write_text(json.dumps(report, indent=1))
    return target


def variant_seeds(master: Master, students) -> dict[str, int]:
    """``{student id: seed}`` for an exam's variants; clear errors otherwise."""
    students = list(dict.fromkeys(str(s).strip() for s in students))
    if students and not is_variant_master(master.notebook):
        raise ReleaseError(
            f"{master.week} has no `VARIANT = 0` setup line: it has no variants"
        )
    bad = [s for s in students if not STUDENT_ID.match(s) or student_id(s) != s]
    if bad:
        raise ReleaseError(
            "student ids must be as the grader names submissions (letters, digits, "
            f"'.', '_' or '-'; the submission's file or folder name): {bad[:5]}"
        )
    return {s: variant_seed(master.week, s) for s in students}


def verify_variants(master: Master, seeds: dict[str, int], limits=None) -> dict:
    """Grade each variant's solution as its student: every one must score full
    marks against its own numbers."""
    limits = limits or Limits(timeout=600)
    plan = plan_for(master, "otter")
    jobs = [
        (
            _code_cells(with_variant(solution_notebook(master), seed)),
            replace(plan, variant=seed),
        )
        for seed in seeds.values()
    ]
    report, problems = {}, []
    for (sid, seed), out in zip(seeds.items(), _run_all(jobs, limits, 2), strict=True):
        report[sid] = {"variant": seed, "score": out.score, "seconds": out.seconds}
        if out.status != "graded" or abs(out.score - out.max_score) > 1e-9:
            failed = [u.name for u in out.units if not u.passed]
            problems.append(
                f"variant {seed} ({sid}): the solution scores {out.score:g}/"
                f"{out.max_score:g} ({out.status}; failing: {', '.join(failed)})"
            )
    if problems:
        raise ReleaseError(
            f"{master.week}'s variants are not fit to release:\n  - "
            + "\n  - ".join(problems)
        )
    return report


def otter_run(master: Master, nb, zip_path: Path, workdir: Path) -> dict[str, float]:
    """Per-question scores that otter's own runner gives notebook ``nb``."""
    workdir.mkdir(parents=True)
    student = nbformat.read(
        zip_path.parent.parent / "student" / f"{master.week}.ipynb", 4
    )
    nb = copy.deepcopy(nb)
    nb.metadata["otter"] = student.metadata["otter"]  # otter checks the assignment
    sub = workdir / f"{master.week}.ipynb"
    nbformat.write(nb, sub)
    (workdir / "out").mkdir()
    _run([_bin("otter"), "run", "-a", str(zip_path), "-o", "out", sub.name], workdir)
    results = json.loads((workdir / "out" / "results.json").read_text())
    names = {q.name for q in master.questions}
    return {
        t["name"]: float(t.get("score") or 0.0)
        for t in results["tests"]
        if t.get("name") in names
    }


def compare_with_otter_run(master: Master, target: Path, report: dict) -> dict:
    """Grade the solution and each mutant with ``otter run``; raise
    :class:`ReleaseError` where a question's score differs from either engine's."""
    zip_path = target / "autograder" / f"{master.week}-autograder.zip"
    full = {q.name: q.points for q in master.questions}
    expected = {"solution": dict(full)}
    notebooks = {"solution": solution_notebook(master)}
    for mutant in load_mutants(master):
        scores = {
            engine: report[engine]["mutants"][mutant.name]["questions"]
            for engine in ("otter", "nbgrader")
        }
        expected[mutant.name] = dict(full, **scores["otter"])
        if scores["otter"] != scores["nbgrader"]:
            raise ReleaseError(f"mutant {mutant.name}: the engines disagree: {scores}")
        notebooks[mutant.name] = mutant_notebook(master, mutant)
    with tempfile.TemporaryDirectory(prefix="tml-otter-run-") as tmp:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                name: pool.submit(otter_run, master, nb, zip_path, Path(tmp) / name)
                for name, nb in notebooks.items()
            }
            got = {name: f.result() for name, f in futures.items()}
    problems = [
        f"{name}: otter run gives {got[name]}, the grader {expected[name]}"
        for name in notebooks
        if any(abs(got[name].get(q, 0.0) - p) > 1e-9 for q, p in expected[name].items())
    ]
    if problems:
        raise ReleaseError(
            f"{master.week}: otter run and the grader disagree:\n  - "
            + "\n  - ".join(problems)
        )
    return got


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
