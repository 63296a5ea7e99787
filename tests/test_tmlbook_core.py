"""tmlbook core: device, seeds, checks, data, models and the training loop."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tmlbook import get_device, set_seed
from tmlbook.checks import (
    check_int,
    check_matrix,
    check_model,
    check_model_labels,
    check_number,
    check_probabilities,
    check_seed,
    n_outputs,
)
from tmlbook.data import add_corner_cue, as_images, load_digits_splits
from tmlbook.models import BNMLP, MLP, DomainAdaptNet, SmallCNN, load_reference_mlp
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
    assert BNMLP().eval()(x).shape == (5, 10)
    net = DomainAdaptNet(2, 8, 3)
    assert net(x[:, :2]).shape == (5, 3)
    assert net.domain_logit(net.features(x[:, :2])).shape == (5,)
    with pytest.raises(ValueError, match="BNMLP expects"):
        BNMLP()(torch.rand(5, 63))
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
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        fit(MLP(), torch.rand(10), torch.zeros(10, dtype=torch.long), progress=False)
    with pytest.raises(TypeError, match="integer class labels"):
        fit(MLP(), torch.rand(10, 64), torch.zeros(10), progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(MLP(), torch.rand(0, 64), torch.zeros(0, dtype=torch.long), progress=False)


def test_fit_equals_a_hand_written_adam_loop():
    """The reference: the textbook loop, written out (seeded order, Adam, mean CE)."""
    s = load_digits_splits()
    X, y = s.train.X[:300], s.train.y[:300]
    set_seed(0)
    model = MLP(hidden=(16,))
    reference = copy.deepcopy(model)
    hist = fit(model, X, y, epochs=2, batch_size=50, lr=1e-2, device="cpu")
    opt = torch.optim.Adam(reference.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(2):
        order, total = torch.randperm(300, generator=gen), 0.0
        for start in range(0, 300, 50):
            idx = order[start : start + 50]
            loss = F.cross_entropy(reference(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / 300)
    assert hist["loss"] == losses
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not model.training


def test_fit_loss_hook_sees_batches_skips_none_and_reports_epochs():
    X = torch.rand(10, 64)
    y = torch.arange(10) % 3
    seen, epochs_done = [], []

    def loss_fn(model, xb, yb, idx):
        assert model.training and len(xb) == len(yb) == len(idx)
        assert torch.equal(xb, X[idx]) and torch.equal(yb, y[idx])
        seen.append(idx.clone())
        if len(idx) < 4:  # the last batch of each epoch (10 = 4 + 4 + 2)
            return None
        return F.cross_entropy(model(xb), yb)

    def on_epoch_end(history):
        epochs_done.append(len(history["loss"]))
        history.setdefault("epoch", []).append(len(epochs_done))

    hist = fit(
        MLP(n_out=3),
        X,
        y,
        loss_fn=loss_fn,
        on_epoch_end=on_epoch_end,
        epochs=2,
        batch_size=4,
        device="cpu",
    )
    assert [len(i) for i in seen] == [4, 4, 2, 4, 4, 2]
    for epoch in (seen[:3], seen[3:]):  # every row once per epoch
        assert sorted(torch.cat(epoch).tolist()) == list(range(10))
    assert epochs_done == [1, 2] and hist["epoch"] == [1, 2]


def test_fit_without_labels_trains_only_parameters_that_require_grad():
    model = MLP(hidden=(8,))
    frozen = model.net[0].weight
    frozen.requires_grad_(False)
    before = [p.detach().clone() for p in model.parameters()]

    def entropy(model, xb, yb, idx):
        assert yb is None
        p = torch.softmax(model(xb), dim=1)
        return -(p * p.log()).sum(1).mean()

    fit(model, torch.rand(20, 64), loss_fn=entropy, epochs=1, device="cpu")
    after = list(model.parameters())
    assert torch.equal(after[0], before[0])  # frozen
    assert not all(
        torch.equal(a, b) for a, b in zip(after[1:], before[1:], strict=True)
    )
    with pytest.raises(ValueError, match="needs labels"):
        fit(MLP(), torch.rand(5, 64), device="cpu")
    with pytest.raises(ValueError, match=r"loss_fn must return a tensor of shape \(\)"):
        fit(MLP(), torch.rand(5, 64), loss_fn=lambda m, xb, yb, i: m(xb), device="cpu")


def test_labels_are_checked_against_the_models_outputs():
    X = torch.rand(6, 64)
    y = torch.tensor([0, 1, 2, 3, 4, 2])
    # y.max() + 1 = 5 would accept these labels; a 3-class model cannot
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\)"):
        fit(MLP(n_out=3), X, y, device="cpu")
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\)"):
        evaluate(MLP(n_out=3), X, y)
    model = MLP(n_out=3).train()
    check_model_labels(model, X, y % 3)  # fine, and the mode is restored
    assert model.training and n_outputs(model, X) == 3
    # labels need not use every class: the model decides K
    fit(MLP(n_out=10), X, torch.zeros(6, dtype=torch.long), epochs=1, device="cpu")


def test_checks_name_the_problem():
    assert check_int(3, "steps") == 3
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            check_int(bad, "steps")
    with pytest.raises(ValueError, match="seed"):
        check_seed(-1)
    assert check_number(0, "eps") == 0.0
    with pytest.raises(TypeError, match="eps must be a number"):
        check_number("0.1", "eps")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="eps must be finite and >= 0"):
            check_number(bad, "eps")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        check_number(0.0, "sigma", positive=True)
    assert check_number(-3, "offset", signed=True) == -3.0
    with pytest.raises(ValueError, match="offset must be finite"):
        check_number(float("nan"), "offset", signed=True)
    with pytest.raises(ValueError, match="did you pass logits"):
        check_probabilities(torch.tensor([[2.0, -1.0], [0.3, 0.3]]).abs())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        check_model(lambda x: x)
    with pytest.raises(ValueError, match="empty"):
        check_matrix(torch.zeros(0, 3))


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
    state, ours = retrained.state_dict(), shipped.state_dict()
    assert set(ours) == set(state)
    # Bit-equality holds on the CPU that trained the weights, not across CPUs
    # (AVX-512 and AVX2 kernels round differently).  The bias of a Linear layer
    # right before a BatchNorm has a gradient that is zero up to rounding, and
    # Adam rescales that rounding noise to steps of size lr, so that bias (and the
    # running mean that tracks it) drifts by ~1e-2 between CPUs, while the
    # difference running_mean - bias, all the network computes with, agrees, the
    # other weights agree to ~1e-3 and the test predictions are the same.
    pre_bn = {"net.0.bias": "net.1", "net.3.bias": "net.4"}
    for key, value in ours.items():
        if key in pre_bn or key.endswith("running_mean"):
            continue
        torch.testing.assert_close(
            value,
            state[key],
            atol=2e-3,
            rtol=0,
        )
    for bias, bn in pre_bn.items():
        torch.testing.assert_close(
            ours[f"{bn}.running_mean"] - ours[bias],
            state[f"{bn}.running_mean"] - state[bias],
            atol=2e-3,
            rtol=0,
        )
    test = load_digits_splits().test
    assert torch.equal(
        predict_proba(shipped, test.X).argmax(1),
        predict_proba(retrained, test.X).argmax(1),
    )
    assert evaluate(shipped, *test) >= 0.95
