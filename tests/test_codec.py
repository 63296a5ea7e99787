"""The plain-data codec between the sandbox and the grader, without a sandbox:
bounds are checked before anything is copied, modules are never imported by a
name the notebook chose, and an argument's state after a call is copied back as
values only."""

import types

import numpy as np
import pytest
import torch

from autograder import codec
from autograder.probes import ProbeError, grad_of, local_source, source_of
from autograder.wire import WireError


def _roundtrip(obj):
    refs = []

    def register(o):
        refs.append(o)
        return len(refs)

    data = codec.load_plain(codec.dump_plain(codec.encode(obj, register)))
    return codec.decode(data, lambda rid, desc: ("ref", rid, desc))


def test_plain_data_round_trips():
    value = {"a": [1, 2.5, "x", None], "t": torch.arange(3.0), "n": np.ones(2)}
    back = _roundtrip(value)
    assert back["a"] == [1, 2.5, "x", None]
    assert torch.equal(back["t"], torch.arange(3.0))
    assert isinstance(back["n"], np.ndarray) and back["n"].tolist() == [1.0, 1.0]
    assert _roundtrip((1, {2}))[1] == {2}


def test_bounds_are_checked_before_copying():
    with pytest.raises(codec.TooLarge, match="larger than the grader accepts"):
        codec.encode(torch.empty(codec.MAX_BYTES + 1, dtype=torch.uint8), id)
    with pytest.raises(codec.TooLarge, match="items"):
        codec.encode([0] * (codec.MAX_ITEMS + 1), id)
    nested = []
    for _ in range(codec.MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(codec.TooLarge, match="nested more than"):
        codec.encode(nested, id)


def test_the_grader_checks_what_arrives_too():
    nested = []
    for _ in range(200):
        nested = [nested]
    with pytest.raises(WireError, match="over the bounds"):
        codec.load_plain(codec.dump_plain(nested))
    with pytest.raises(WireError, match="not plain data"):
        codec.load_plain(b"not a torch file")


def test_modules_decode_only_as_the_graders_own_trusted_ones():
    fake = types.ModuleType("autograder.__main__")
    data = codec.encode(fake, lambda o: 7)
    assert codec.decode(data, lambda rid, desc: ("proxy", rid, desc)) == (
        "proxy",
        7,
        "module autograder.__main__",
    )
    assert codec.decode(codec.encode(np, lambda o: 1), None) is np
    never = codec.encode(types.ModuleType("antigravity"), lambda o: 2)
    assert codec.decode(never, lambda rid, desc: "proxy") == "proxy"


def test_argument_state_is_copied_back_as_values():
    x = torch.zeros(3)
    changed = torch.ones(3)
    codec.apply_state(x, codec.snapshot(changed, codec.Budget()))
    assert torch.equal(x, changed)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    other = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    other.eval()
    other[0].weight.requires_grad_(False)
    codec.apply_state(model, codec.snapshot(other, codec.Budget()))
    assert not model.training and not model[0].weight.requires_grad
    assert torch.equal(model[0].weight, other[0].weight)
    with pytest.raises(ValueError, match="shape"):
        codec.apply_state(np.zeros(2), codec.snapshot(np.zeros(3), codec.Budget()))
    with pytest.raises(ValueError, match="malformed"):
        codec.apply_state(x, ("not", "a", "state"))


def test_probes_in_process():
    def f(x):
        return (x**2).sum()

    value, grad = grad_of(f, torch.tensor([1.0, 2.0]))
    assert value.item() == 5.0 and grad.tolist() == [2.0, 4.0]
    value, grads = grad_of(
        lambda m, x: m(x).sum(), torch.nn.Linear(2, 1), torch.ones(1, 2), wrt=(0,)
    )
    assert set(grads[0]) == {"weight", "bias"}
    with pytest.raises(ProbeError, match="not a function defined in the notebook"):
        source_of(torch.nn.functional.softplus)
    f.__module__ = "__main__"
    cells = {f.__code__.co_filename: "the cell"}
    assert local_source(f, cells) == "the cell"
    with pytest.raises(ProbeError, match="was not defined in a notebook cell"):
        local_source(f, {})


def test_requires_grad_set_by_the_answer_comes_back():
    x = torch.zeros(3)
    flagged = torch.zeros(3).requires_grad_()
    codec.apply_state(x, codec.snapshot(flagged, codec.Budget()))
    assert x.requires_grad


def test_grad_of_a_tuple_output():
    def step(w):
        return (w**2).sum(), w.detach() + 1

    (loss, other), grad = grad_of(step, torch.tensor([1.0, 3.0]), output=0)
    assert loss.item() == 10.0 and grad.tolist() == [2.0, 6.0]
    assert other.tolist() == [2.0, 4.0]
    with pytest.raises(ProbeError, match="no such item"):
        grad_of(step, torch.ones(2), output=5)


def test_unchanged_views_are_left_alone():
    view = torch.ones(1, 3).expand(4, 3)  # elements share memory: not writable
    codec.apply_state(view, codec.snapshot(view.clone(), codec.Budget()))
    assert torch.equal(view, torch.ones(4, 3))
