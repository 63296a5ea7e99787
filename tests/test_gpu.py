"""CUDA paths.  Marked ``gpu``: skipped on machines without CUDA (CI, laptops)."""

import pytest
import torch

from autograder.grade import grade
from autograder.master import solution_notebook
from autograder.runner import Limits
from conftest import write_nb
from tmlbook.data import load_digits_splits
from tmlbook.models import MLP, load_reference_mlp
from tmlbook.training import evaluate, fit


@pytest.mark.gpu
def test_training_and_evaluation_on_cuda():
    s = load_digits_splits()
    torch.manual_seed(0)
    model = MLP()
    fit(model, *s.train_full, epochs=30, seed=0, device="cuda", progress=False)
    assert next(model.parameters()).is_cuda
    assert evaluate(model, *s.test) >= 0.95
    assert evaluate(load_reference_mlp("cuda"), *s.test) >= 0.95


@pytest.mark.gpu
@pytest.mark.parametrize("engine", ["otter", "nbgrader"])
def test_grading_with_device_cuda(tmp_path, w01, engine):
    write_nb(solution_notebook(w01), tmp_path / "gpu_student.ipynb")
    rows = grade(
        "w01",
        [tmp_path / "gpu_student.ipynb"],
        tmp_path / "out",
        engine=engine,
        limits=Limits(timeout=600, device="cuda"),
    )
    assert rows[0]["status"] == "graded" and rows[0]["score"] == w01.max_score, rows
