"""Shared fixtures.  GPU tests carry ``@pytest.mark.gpu`` and skip without CUDA."""

from __future__ import annotations

import copy
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.master import solution_notebook

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TML_QUIET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


# ``make test`` runs two pytest workers (pytest-xdist, ``--dist loadgroup``): the
# tests of a module that share an expensive session fixture (a graded batch, the
# built book, a release) stay on one worker, so the fixture is made once; the
# per-week and per-module tests spread over both.  The groups are given to xdist's
# scheduler here: xdist 3.8 marks a group by editing ``item._nodeid``, which pytest
# 9 no longer reads, so ``xdist_group`` marks would be silently ignored.
SHARED = {
    "test_hostile": "hostile",
    "test_grading": "grading",
    "test_book": "book",
    "test_browser": "book",
    "test_release": "w01-release",
    "test_otter_zip": "w01-release",
    "test_similarity": "w01-release",
}


def group_of(nodeid: str) -> str:
    """The scheduling unit of a test: its module's group, else the test alone."""
    module = nodeid.partition("::")[0].rpartition("/")[2].removesuffix(".py")
    return SHARED.get(module, nodeid)


@pytest.hookimpl(optionalhook=True)  # absent under -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        """One unit per group of :data:`SHARED`, largest first; other tests alone."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


TINY = REPO / "tests" / "fixtures" / "w00-tiny" / "w00.md"


@pytest.fixture(scope="session")
def w01():
    from autograder.master import load_master

    return load_master("w01")


@pytest.fixture(scope="session")
def w01_release(tmp_path_factory, w01):
    """One release of week 1 (verification is tested on its own)."""
    from autograder.release import release

    out = tmp_path_factory.mktemp("release")
    return release("w01", out, check=False)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The whole book, built once per session (``--all -W -n``), exercises published.

    Returns ``_build/html`` of the build; test_book.py and test_browser.py share it.
    ``TML_BOOK_HTML=<dir>`` checks an existing build instead (the publish workflow
    tests the very site it deploys).
    """
    given = os.environ.get("TML_BOOK_HTML")
    if given:
        return Path(given).resolve()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Two workers share one build: the first builds, the other waits for it.
        shared = tmp_path_factory.getbasetemp().parent  # this run's, for all workers
        with open(shared / "book.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done, failed = shared / "book.done", shared / "book.failed"
            if not done.exists() and not failed.exists():
                try:
                    html = _build_book(shared / "book")
                    done.write_text(str(html))
                except AssertionError as exc:
                    failed.write_text(str(exc))
            if failed.exists():
                raise AssertionError(failed.read_text())
            return Path(done.read_text())
    return _build_book(tmp_path_factory.mktemp("book"))


def _build_book(out: Path) -> Path:
    """Build the whole book into ``out`` and publish the exercises; ``_build/html``."""
    out.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    env = dict(
        os.environ,
        PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
        TML_QUIET="1",
        TML_DEVICE="cpu",  # the prose's claims are asserted on CPU
    )
    env.pop("MPLBACKEND", None)
    proc = subprocess.run(
        [
            str(bindir / "jupyter-book"),
            "build",
            str(REPO),
            "--path-output",
            str(out),
            "--all",
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = out / "_build" / "html"
    pub = subprocess.run(
        [sys.executable, "-m", "autograder", "publish", "--out", html / "exercises"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert pub.returncode == 0, pub.stderr
    return html


@pytest.fixture(scope="session")
def w00():
    """The tiny master that the grader's own tests use: three questions, graded in
    seconds, with a source rule, an in-place edit and a gradient to check."""
    from autograder.master import load_master

    return load_master(TINY)


@pytest.fixture(scope="session")
def w00_release(tmp_path_factory, w00):
    from autograder.release import release

    return release(TINY, tmp_path_factory.mktemp("release-w00"), check=False)


def solution_with(
    master,
    replace: dict[str, str] | None = None,
    append: list[str] | None = None,
    prepend: list[str] | None = None,
):
    """The solution notebook of ``master`` with answer cells replaced and cells added.

    ``replace`` maps a function name defined by an answer cell to new cell source.
    """

    nb = solution_notebook(master)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name, source in (replace or {}).items():
            if f"def {name}(" in cell.source:
                cell.source = source
    for source in reversed(prepend or []):
        nb.cells.insert(1, nbformat.v4.new_code_cell(source))
    for source in append or []:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def student_with_answers(master, release_dir):
    """The released student notebook with the solution pasted into its answer cells."""
    nb = nbformat.read(release_dir / "student" / f"{master.week}.ipynb", as_version=4)
    answers = [
        c.source
        for c in solution_notebook(master).cells
        if c.cell_type == "code"
        and any(
            f"def {n}(" in c.source for q in master.questions for n in q.solution_names
        )
    ]
    k = 0
    for cell in nb.cells:
        if (
            "otter_answer_cell" in cell.metadata.get("tags", [])
            and cell.cell_type == "code"
        ):
            cell.source = answers[k]
            k += 1
    assert k == len(answers)
    return nb


def write_nb(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy.deepcopy(nb), path)
    return path


def tiny_book(folder: Path, page: str, name: str = "page") -> Path:
    """A one-page book in ``folder`` with the repository's configuration (and the
    extension and static files it names), for tests of what a build refuses."""
    shutil.copy(REPO / "_config.yml", folder / "_config.yml")
    for sub in ("_ext", "_static"):
        shutil.copytree(REPO / "chapters" / sub, folder / "chapters" / sub)
    (folder / "references.bib").write_text("")
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: {name}\n")
    (folder / f"{name}.md").write_text(page)
    return folder
