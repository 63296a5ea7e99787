"""The otter autograder zip works with otter's own runner (the Gradescope path)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import student_with_answers


def test_otter_run_gives_the_solution_full_marks(tmp_path, w01, w01_release):
    nb = student_with_answers(w01, w01_release)
    sub = tmp_path / "w01.ipynb"
    nbformat.write(nb, sub)
    bindir = Path(sys.executable).parent
    env = dict(
        os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", TML_QUIET="1"
    )
    proc = subprocess.run(
        [
            str(bindir / "otter"),
            "run",
            "-a",
            str(w01_release / "autograder" / "w01-autograder.zip"),
            "-o",
            str(tmp_path),
            str(sub),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    score = sum(t.get("score", 0) for t in results["tests"])
    assert score == pytest.approx(w01.max_score), results["tests"]
