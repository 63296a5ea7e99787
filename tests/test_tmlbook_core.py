"""tmlbook core: device, seeds, data, models, training, foundations."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tmlbook import get_device, set_seed
from tmlbook.data import add_corner_cue, as_images, load_digits_splits
from tmlbook.foundations import (
    cross_entropy,
    generalisation_gap,
    log_softmax,
    zero_one_risk,
)
from tmlbook.models import MLP, SmallCNN, load_reference_mlp
from tmlbook.training import evaluate, fit, predict_proba


def test_get_device_respects_env(monkeypatch):
    monkeypatch.setenv("TML_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.delenv("TML_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected


def test_get_device_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("TML_DEVICE", "tpu")
    with pytest.raises(ValueError, match="TML_DEVICE"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_get_device_cuda_missing_is_clear(monkeypatch):
    monkeypatch.setenv("TML_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        get_device()


def test_set_seed_reproduces_all_generators():
    set_seed(3)
    a = (torch.rand(3), np.random.rand(3))
    set_seed(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError):
        set_seed(-1)


def test_splits_are_fixed_disjoint_and_scaled():
    s = load_digits_splits()
    assert (len(s.train), len(s.val), len(s.test), len(s.train_full)) == (
        900,
        357,
        540,
        1257,
    )
    for split in (s.train, s.val, s.test):
        assert split.X.dtype == torch.float32 and split.y.dtype == torch.int64
        assert split.X.shape[1] == 64
        assert 0.0 <= float(split.X.min()) and float(split.X.max()) <= 1.0
    # train + val = train_full, and no test image is in train_full
    full = {tuple(r) for r in s.train_full.X.numpy().round(4)}
    parts = {tuple(r) for r in torch.cat([s.train.X, s.val.X]).numpy().round(4)}
    assert full == parts
    again = load_digits_splits()
    assert torch.equal(again.test.X, s.test.X) and torch.equal(again.train.y, s.train.y)
    # stratified: every class in every split
    for split in (s.train, s.val, s.test):
        assert set(split.y.tolist()) == set(range(10))


def test_as_images_and_cue():
    s = load_digits_splits()
    assert as_images(s.test.X).shape == (540, 1, 8, 8)
    assert float(s.train_full.X[:, 0].abs().max()) == 0.0  # pixel 0 is never lit
    cue = (s.test.y >= 5).long()
    X = add_corner_cue(s.test.X, cue, value=0.5)
    assert torch.equal(X[:, 0], 0.5 * cue.float())
    assert torch.equal(X[:, 1:], s.test.X[:, 1:])
    with pytest.raises(ValueError, match="cue must have shape"):
        add_corner_cue(s.test.X, cue[:10])
    with pytest.raises(ValueError, match="64 columns"):
        as_images(torch.zeros(3, 63))


def test_models_shapes_and_errors():
    x = torch.rand(5, 64)
    assert MLP()(x).shape == (5, 10)
    assert MLP(n_in=65, n_out=2)(torch.rand(5, 65)).shape == (5, 2)
    cnn = SmallCNN()
    assert cnn(x).shape == (5, 10) and cnn(x.reshape(5, 1, 8, 8)).shape == (5, 10)
    assert cnn.features(x).shape == (5, 32, 8, 8)
    with pytest.raises(ValueError, match="MLP expects"):
        MLP()(torch.rand(5, 63))
    with pytest.raises(ValueError, match="SmallCNN expects"):
        cnn(torch.rand(5, 3, 8, 8))


def test_fit_is_deterministic_on_cpu():
    s = load_digits_splits()

    def train():
        set_seed(0)
        model = MLP()
        hist = fit(model, *s.train, epochs=2, seed=0, device="cpu", progress=False)
        return model, hist

    (m1, h1), (m2, h2) = train(), train()
    assert h1 == h2
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        fit(MLP(), torch.rand(10), torch.zeros(10, dtype=torch.long), progress=False)
    with pytest.raises(TypeError, match="integer class labels"):
        fit(MLP(), torch.rand(10, 64), torch.zeros(10), progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(MLP(), torch.rand(0, 64), torch.zeros(0, dtype=torch.long), progress=False)


def test_reference_mlp_accuracy_shipped_and_retrained():
    s = load_digits_splits()
    assert evaluate(load_reference_mlp(), *s.test) >= 0.95
    from tmlbook.training import train_reference_mlp

    retrained = train_reference_mlp(progress=False)
    acc = evaluate(retrained, *s.test)
    assert acc >= 0.95
    probs = predict_proba(retrained, s.test.X)
    torch.testing.assert_close(probs.sum(1), torch.ones(540))


def test_reference_bn_mlp_shipped_equals_retrained():
    from tmlbook.models import load_reference_bn_mlp
    from tmlbook.training import train_reference_bn_mlp

    shipped = load_reference_bn_mlp()
    assert not shipped.training
    retrained = train_reference_bn_mlp()  # a few seconds on the CPU
    assert not retrained.training
    state = retrained.state_dict()
    assert set(shipped.state_dict()) == set(state)
    for key, value in shipped.state_dict().items():
        assert torch.equal(value, state[key]), f"{key} differs from a re-training"
    assert evaluate(shipped, *load_digits_splits().test) >= 0.95


def test_cross_entropy_matches_torch_and_is_stable():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 7, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 7, (50,), generator=gen)
    torch.testing.assert_close(
        cross_entropy(logits, y), F.cross_entropy(logits, y), rtol=0, atol=1e-12
    )
    big = 1000.0 * torch.randn(50, 7, generator=gen, dtype=torch.float64)
    out = cross_entropy(big, y)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, F.cross_entropy(big, y), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        log_softmax(big), F.log_softmax(big, dim=1), rtol=0, atol=1e-9
    )


def test_cross_entropy_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"logits must have shape \(n, K\)"):
        cross_entropy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels outside"):
        cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="NaN"):
        cross_entropy(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))


def test_generalisation_gap_is_test_minus_train_risk():
    s = load_digits_splits()
    model = load_reference_mlp()
    gap = generalisation_gap(model, s.train, s.test)
    assert gap == pytest.approx(
        zero_one_risk(model, *s.test) - zero_one_risk(model, *s.train)
    )
    assert gap == pytest.approx(
        (1 - evaluate(model, *s.test)) - (1 - evaluate(model, *s.train))
    )
