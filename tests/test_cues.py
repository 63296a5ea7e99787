"""L3 -- tmlbook.cues: D-cue / D-group, diagnostics, Group DRO, JTT, IRM, GCE, HSIC.

References: numpy closed forms written independently of the torch code,
finite differences, scipy (pairwise distances, scalar minimisation) and
hand-computed examples.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar
from scipy.spatial.distance import pdist
from torch import nn

from tmlbook import set_seed
from tmlbook.cues import (
    METHODS,
    cue_accuracies,
    gce_loss,
    gradient_diversity_penalty,
    group_accuracies,
    group_dro_step,
    group_loss_fn,
    group_weights,
    hsic,
    irm_penalty,
    jtt_upweight,
    lff_weights,
    make_cue_conflict_digits,
    make_group_digits,
    train_group_robust,
    worst_group_accuracy,
)
from tmlbook.models import MLP

torch.set_num_threads(1)


def linear_model(weight, bias=None, dtype=torch.float32):
    """A bias-free (unless given) linear model with fixed weights."""
    weight = torch.as_tensor(weight, dtype=dtype)
    model = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    model = model.to(dtype)
    with torch.no_grad():
        model.weight.copy_(weight)
        if bias is not None:
            model.bias.copy_(torch.as_tensor(bias, dtype=dtype))
    return model


# ---------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dcue():
    return make_cue_conflict_digits()


@pytest.fixture(scope="module")
def dgroup():
    return make_group_digits()


def test_cue_digits_shapes_and_structure(dcue):
    from tmlbook.data import load_digits_splits

    tr, te = dcue.train, dcue.test
    assert tuple(tr.X.shape) == (375, 67) and tuple(te.X.shape) == (162, 67)
    assert tr.X.dtype == torch.float32 and tr.shape.dtype == torch.int64
    # diagonal in training, off-diagonal everywhere at test time
    assert torch.equal(tr.colour, tr.shape)
    assert (te.colour != te.shape).all()
    for split in (tr, te):
        onehot = F.one_hot(split.colour, 3).float() * 3.0
        assert torch.equal(split.X[:, 64:], onehot)
        assert set(split.shape.tolist()) == {0, 1, 2}
    # pixels are the untouched digits 0/1/2 of the fixed splits
    full = load_digits_splits().train_full
    keep = full.y <= 2
    assert torch.equal(tr.X[:, :64], full.X[keep])
    assert torch.equal(tr.shape, full.y[keep])
    assert set(dcue.test.labels_by_cue()) == {"shape", "colour"}


def test_cue_digits_rho_and_relabelling():
    d = make_cue_conflict_digits(strength=1.5, rho=0.05, digits=(7, 3), seed=4)
    tr = d.train
    assert tuple(tr.X.shape[1:]) == (66,)
    assert int((tr.colour != tr.shape).sum()) == round(0.05 * len(tr))
    assert set(tr.shape.tolist()) == {0, 1}
    assert (d.test.colour == 1 - d.test.shape).all()  # two classes: the other one
    assert float(tr.X[:, 64:].max()) == 1.5


def test_cue_digits_deterministic():
    a = make_cue_conflict_digits(rho=0.1, seed=3)
    b = make_cue_conflict_digits(rho=0.1, seed=3)
    c = make_cue_conflict_digits(rho=0.1, seed=4)
    assert torch.equal(a.train.X, b.train.X) and torch.equal(a.test.X, b.test.X)
    assert not torch.equal(a.test.colour, c.test.colour)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(strength=0.0), "strength"),
        (dict(rho=1.0), "rho"),
        (dict(rho=-0.1), "rho"),
        (dict(digits=(1,)), "digits"),
        (dict(digits=(1, 1)), "digits"),
        (dict(digits=(1, 10)), "digits"),
    ],
)
def test_cue_digits_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_cue_conflict_digits(**kwargs)


def test_group_digits_shapes_and_structure(dgroup):
    from tmlbook.data import load_digits_splits

    tr, te = dgroup.train, dgroup.test
    assert tuple(tr.X.shape) == (1000, 72) and tuple(te.X.shape) == (540, 72)
    for split in (tr, te):
        assert torch.equal(split.g, 2 * split.y + split.a)
        spur = split.X[:, 64:]
        resid = spur - (2 * split.a - 1).float().unsqueeze(1)
        assert abs(float(resid.mean())) < 0.01
        assert abs(float(resid.std()) - 0.1) < 0.01
    # P(a = y) = 0.95 in training: 950 +- 3 binomial standard deviations
    agree = int((tr.a == tr.y).sum())
    assert abs(agree - 950) <= 3 * (1000 * 0.95 * 0.05) ** 0.5
    # test: pixels are the test split, groups balanced within each class
    test = load_digits_splits().test
    assert torch.equal(te.X[:, :64], test.X)
    assert torch.equal(te.y, (test.y >= 5).long())
    for c in (0, 1):
        n_c = int((te.y == c).sum())
        assert int(((te.y == c) & (te.a == 1)).sum()) == n_c // 2


def test_group_digits_deterministic_and_errors():
    a = make_group_digits(seed=1, n_train=200)
    b = make_group_digits(seed=1, n_train=200)
    assert torch.equal(a.train.X, b.train.X) and torch.equal(a.test.a, b.test.a)
    assert tuple(make_group_digits(n_spurious=2, n_train=50).train.X.shape) == (50, 66)
    for kwargs in (
        dict(p_agree=1.5),
        dict(n_train=0),
        dict(n_train=2000),
        dict(n_spurious=0),
        dict(noise=-1.0),
    ):
        with pytest.raises(ValueError):
            make_group_digits(**kwargs)


# ---------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------


def test_cue_accuracies_hand_computed():
    # identity model: the prediction is the argmax of the input
    model = linear_model(np.eye(3))
    X = torch.tensor([[5.0, 0, 0], [0, 5, 0], [0, 0, 5], [5, 0, 0]])
    # predictions 0, 1, 2, 0
    labels = {
        "shape": torch.tensor([0, 2, 2, 1]),  # hits: 1, 0, 1, 0 -> 0.5
        "colour": torch.tensor([1, 1, 0, 0]),
    }  # hits: 0, 1, 0, 1 -> 0.5
    out = cue_accuracies(model, X, labels)
    assert out == {"shape": 0.5, "colour": 0.5}
    out = cue_accuracies(model, X, {"all": torch.tensor([0, 1, 2, 0])})
    assert out == {"all": 1.0}


def test_cue_accuracies_errors():
    model = linear_model(np.eye(3))
    X = torch.eye(3)
    with pytest.raises(TypeError):
        cue_accuracies(model, X, {})
    with pytest.raises(ValueError):
        cue_accuracies(model, X, {"shape": torch.tensor([0, 1])})
    with pytest.raises(TypeError):
        cue_accuracies(model, X, {"shape": torch.tensor([0.0, 1.0, 2.0])})


def test_group_accuracies_hand_computed():
    model = linear_model(np.eye(2))
    X = torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1], [0, 1]])
    y = torch.tensor([0, 1, 1, 1, 0])  # predictions 0, 1, 0, 1, 1
    groups = torch.tensor([0, 0, 1, 1, 3])  # group 2 is empty
    accs = group_accuracies(model, X, y, groups, n_groups=4)
    assert accs[0] == 1.0 and accs[1] == 0.5 and accs[3] == 0.0
    assert torch.isnan(accs[2])
    assert worst_group_accuracy(model, X, y, groups, n_groups=4) == 0.0
    assert worst_group_accuracy(model, X[:4], y[:4], groups[:4]) == 0.5
    with pytest.raises(ValueError, match="groups"):
        group_accuracies(model, X, y, torch.tensor([0, 0, 1, 1, 4]), n_groups=4)


# ---------------------------------------------------------------------------
# Scenario 1
# ---------------------------------------------------------------------------


def numpy_group_dro(losses, groups, q, eta):
    """Algorithm 1 of Sagawa et al. (2020), written out in numpy."""
    G = len(q)
    means = np.zeros(G)
    for g in range(G):
        members = losses[groups == g]
        means[g] = members.mean() if len(members) else 0.0
    q_new = q * np.exp(eta * means)
    q_new = q_new / q_new.sum()
    return float(q_new @ means), q_new


@pytest.mark.parametrize("eta", [0.0, 0.1, 1.0, 5.0])
def test_group_dro_step_matches_numpy(eta):
    rng = np.random.default_rng(0)
    for trial in range(5):
        n, G = 50, 4
        losses = rng.exponential(size=n)
        groups = rng.integers(0, G, size=n)
        if trial == 0:
            groups[groups == 2] = 1  # one empty group
        q = rng.dirichlet(np.ones(G))
        ref_loss, ref_q = numpy_group_dro(losses, groups, q, eta)
        loss, q_new = group_dro_step(
            torch.tensor(losses), torch.tensor(groups), torch.tensor(q), eta
        )
        assert abs(float(loss) - ref_loss) < 1e-7
        np.testing.assert_allclose(q_new.numpy(), ref_q, rtol=0, atol=1e-7)
        assert abs(float(q_new.sum()) - 1.0) < 1e-12


def test_group_dro_step_gradient_and_empty_group():
    losses = torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64, requires_grad=True)
    groups = torch.tensor([0, 0, 2])
    q = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    loss, q_new = group_dro_step(losses, groups, q, eta=0.5)
    # group 1 is empty: l_1 = 0, so its weight changes only through normalisation
    unnorm = np.array([0.25 * np.exp(0.5 * 2.0), 0.5, 0.25 * np.exp(0.5 * 2.0)])
    np.testing.assert_allclose(q_new.numpy(), unnorm / unnorm.sum(), atol=1e-12)
    loss.backward()
    # d loss / d l_i = q_g / n_g (q is a constant of the step)
    expected = [q_new[0] / 2, q_new[0] / 2, q_new[2] / 1]
    np.testing.assert_allclose(
        losses.grad.numpy(), [float(e) for e in expected], atol=1e-12
    )
    assert not q_new.requires_grad


def test_group_dro_step_errors():
    losses, groups = torch.ones(3), torch.tensor([0, 1, 1])
    q = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match="sums to 1"):
        group_dro_step(losses, groups, torch.tensor([0.5, 0.6]), 0.1)
    with pytest.raises(ValueError, match="groups"):
        group_dro_step(losses, torch.tensor([0, 1, 2]), q, 0.1)
    with pytest.raises(ValueError, match="eta"):
        group_dro_step(losses, groups, q, -1.0)
    with pytest.raises(ValueError, match="empty"):
        group_dro_step(torch.ones(0), torch.zeros(0, dtype=torch.long), q, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        group_dro_step(torch.tensor([1.0, float("nan"), 1.0]), groups, q, 0.1)


def test_group_weights_closed_form():
    groups = torch.tensor([0, 0, 0, 1, 3, 3])
    w = group_weights(groups, n_groups=4)  # group 2 empty: 3 present groups
    expected = 6 / (3 * np.array([3, 3, 3, 1, 2, 2]))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    totals = [float(w[groups == g].sum()) for g in (0, 1, 3)]
    np.testing.assert_allclose(totals, [2.0, 2.0, 2.0], rtol=1e-6)
    assert abs(float(w.mean()) - 1.0) < 1e-6
    with pytest.raises(ValueError):
        group_weights(torch.zeros(0, dtype=torch.long))


def test_jtt_upweight():
    w = jtt_upweight(torch.tensor([True, False, True, False]), lambda_up=20)
    assert w.tolist() == [1.0, 20.0, 1.0, 20.0]
    with pytest.raises(TypeError):
        jtt_upweight(torch.tensor([1, 0]), 5)
    with pytest.raises(ValueError):
        jtt_upweight(torch.tensor([True]), 0.5)


def value(t):
    """A float from a 0-d tensor that may carry a graph."""
    return t.detach().item()


def irm_ce_closed_form(z, y):
    """d/ds mean CE(s z, y) at s = 1 = mean_i (sum_k p_ik z_ik - z_iy), squared."""
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    grad = np.mean((p * z).sum(axis=1) - z[np.arange(len(y)), y])
    return grad**2


def test_irm_penalty_ce_closed_form_and_finite_difference():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=3.0, size=(40, 5))
    y = rng.integers(0, 5, size=40)
    pen = irm_penalty(torch.tensor(z), torch.tensor(y))
    assert abs(pen.item() - irm_ce_closed_form(z, y)) < 1e-10

    def risk(s):
        return float(F.cross_entropy(torch.tensor(s * z), torch.tensor(y)))

    h = 1e-5
    fd = (risk(1 + h) - risk(1 - h)) / (2 * h)
    assert abs(pen.item() - fd**2) < 1e-6


def test_irm_penalty_mse_closed_form():
    rng = np.random.default_rng(2)
    f = rng.normal(size=30)
    y = rng.normal(size=30)
    pen = irm_penalty(torch.tensor(f), torch.tensor(y), loss="mse")
    assert abs(pen.item() - np.mean(2 * (f - y) * f) ** 2) < 1e-12
    # at the optimal scale s* = <f, y> / <f, f> the penalty vanishes
    s_star = (f @ y) / (f @ f)
    assert value(irm_penalty(torch.tensor(s_star * f), torch.tensor(y), "mse")) < 1e-24


def test_irm_penalty_zero_at_stationary_scale_ce():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, size=60)
    res = minimize_scalar(
        lambda s: float(F.cross_entropy(torch.tensor(s * z), torch.tensor(y))),
        bounds=(1e-3, 20),
        method="bounded",
        options={"xatol": 1e-12},
    )
    pen_opt = value(irm_penalty(torch.tensor(res.x * z), torch.tensor(y)))
    pen_raw = value(irm_penalty(torch.tensor(z), torch.tensor(y)))
    assert pen_opt < 1e-10 < pen_raw


def test_irm_penalty_differentiable_and_errors():
    z = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 3, (8,))
    irm_penalty(z, y).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="loss"):
        irm_penalty(z, y, loss="hinge")
    with pytest.raises(ValueError):
        irm_penalty(z.detach()[:, 0], y)  # ce needs (n, K)
    with pytest.raises(TypeError):
        long = torch.long
        irm_penalty(torch.zeros(3, 2, dtype=long), torch.zeros(3, dtype=long))


def test_train_group_robust_deterministic_and_history():
    d = make_group_digits(n_train=200)
    tr = d.train
    for method in METHODS:
        weights = []
        for _ in range(2):
            set_seed(0)
            model = MLP(n_in=72, hidden=(32,), n_out=2)
            hist = train_group_robust(
                model, tr.X, tr.y, tr.g, method, epochs=3, device="cpu", progress=False
            )
            flat = [p.detach().flatten() for p in model.parameters()]
            weights.append(torch.cat(flat))
        assert torch.equal(weights[0], weights[1]), method
        assert len(hist["loss"]) == 3
        assert all(abs(sum(q) - 1) < 1e-9 for q in hist["q"])
    assert "error_set" in hist and hist["error_set"].dtype == torch.int64


def test_group_loss_fn_combines_per_sample_losses():
    model = linear_model([[1.0, -1.0], [0.5, 2.0]])
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    y = torch.tensor([0, 1, 1, 0])
    groups = torch.tensor([0, 1, 1, 2])
    idx = torch.tensor([3, 0, 2])  # a batch, out of order
    per_sample = F.cross_entropy(model(X[idx]), y[idx], reduction="none")
    erm, _ = group_loss_fn("erm", groups, 3)
    torch.testing.assert_close(erm(model, X[idx], y[idx], idx), per_sample.mean())
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    rw, _ = group_loss_fn("reweight", groups, 3, weights=w)
    torch.testing.assert_close(
        rw(model, X[idx], y[idx], idx), (w[idx] * per_sample).mean()
    )
    dro, q = group_loss_fn("group_dro", groups, 3, eta=0.5)
    expected, q_new = group_dro_step(
        per_sample, groups[idx], torch.full((3,), 1 / 3, dtype=torch.float64), 0.5
    )
    torch.testing.assert_close(dro(model, X[idx], y[idx], idx), expected)
    torch.testing.assert_close(q, q_new)  # carried to the next batch, in place


def test_train_group_robust_errors():
    d = make_group_digits(n_train=50)
    model = MLP(n_in=72, hidden=(8,), n_out=2)
    with pytest.raises(ValueError, match="method"):
        train_group_robust(model, d.train.X, d.train.y, d.train.g, "dro")
    with pytest.raises(ValueError, match="groups"):
        train_group_robust(model, d.train.X, d.train.y, None, "group_dro")


def test_group_dro_with_regularisation_beats_erm(dgroup):
    """Sagawa et al.'s finding at our scale: strong weight decay + Group DRO."""
    tr, te = dgroup.train, dgroup.test
    worst = {}
    for method in ("erm", "group_dro"):
        set_seed(0)
        model = MLP(n_in=72, n_out=2)
        train_group_robust(
            model,
            tr.X,
            tr.y,
            tr.g,
            method,
            weight_decay=1e-2,
            device="cpu",
            progress=False,
        )
        worst[method] = worst_group_accuracy(model, te.X, te.y, te.g, 4)
    assert worst["group_dro"] >= worst["erm"] + 0.15, worst


# ---------------------------------------------------------------------------
# Scenario 2
# ---------------------------------------------------------------------------


def test_gce_limits_and_closed_form():
    rng = np.random.default_rng(4)
    z = rng.normal(scale=2.0, size=(20, 4))
    y = rng.integers(0, 4, size=20)
    zt, yt = torch.tensor(z), torch.tensor(y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    py = p[np.arange(20), y]
    # q -> 0: cross-entropy
    ce = F.cross_entropy(zt, yt)
    assert abs(float(gce_loss(zt, yt, q=1e-8)) - float(ce)) < 1e-6
    # q = 1: 1 - p_y = half the L1 distance to the one-hot label (MAE)
    mae = 0.5 * np.abs(np.eye(4)[y] - p).sum(axis=1)
    np.testing.assert_allclose(
        gce_loss(zt, yt, q=1.0, reduction="none").numpy(), 1 - py, atol=1e-12
    )
    np.testing.assert_allclose(
        gce_loss(zt, yt, q=1.0, reduction="none").numpy(), mae, atol=1e-12
    )
    # q = 0.7: the definition
    assert abs(float(gce_loss(zt, yt)) - np.mean((1 - py**0.7) / 0.7)) < 1e-12
    for q in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="q"):
            gce_loss(zt, yt, q=q)
    with pytest.raises(ValueError, match="reduction"):
        gce_loss(zt, yt, reduction="sum")


def test_lff_weights():
    lb = torch.tensor([1.0, 0.0, 3.0, 0.0])
    ld = torch.tensor([1.0, 2.0, 1.0, 0.0])
    assert lff_weights(lb, ld).tolist() == [0.5, 0.0, 0.75, 0.5]
    with pytest.raises(ValueError, match="non-negative"):
        lff_weights(torch.tensor([-1.0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="shape"):
        lff_weights(torch.ones(2), torch.ones(3))


def numpy_hsic(X, Y, sx=None, sy=None):
    """(1/(n-1)^2) [sum K*L - (2/n) sum_i K_i. L_i. + (1/n^2) sum K sum L]."""
    X = X.reshape(len(X), -1)
    Y = Y.reshape(len(Y), -1)
    n = len(X)

    def gram(Z, s):
        d = pdist(Z)
        if s is None:
            s = np.median(d[d > 0])
        sq = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
        return np.exp(-sq / (2 * s**2))

    K, L = gram(X, sx), gram(Y, sy)
    tr = (
        (K * L).sum() - 2.0 / n * (K.sum(1) * L.sum(1)).sum() + K.sum() * L.sum() / n**2
    )
    return tr / (n - 1) ** 2


def test_hsic_matches_numpy_formula():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    Y = X[:, :1] ** 2 + 0.3 * rng.normal(size=(40, 1))
    assert abs(float(hsic(torch.tensor(X), torch.tensor(Y))) - numpy_hsic(X, Y)) < 1e-12
    got = float(hsic(torch.tensor(X), torch.tensor(Y), sigma_x=0.7, sigma_y=2.0))
    assert abs(got - numpy_hsic(X, Y, 0.7, 2.0)) < 1e-12
    # 1-D inputs, symmetric in its arguments
    a, b = torch.tensor(X[:, 0]), torch.tensor(Y[:, 0])
    assert abs(float(hsic(a, b)) - float(hsic(b, a))) < 1e-12


def test_hsic_independence_and_dependence():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, generator=gen, dtype=torch.float64)
    indep = torch.randn(200, 1, generator=gen, dtype=torch.float64)
    dep = x**2 + 0.1 * torch.randn(200, 1, generator=gen, dtype=torch.float64)
    # measured over seeds 0-2: independent 0.0006-0.0023, dependent 0.027-0.034
    assert float(hsic(x, indep)) < 0.005
    assert float(hsic(x, dep)) > 0.02
    # the dependence is invisible to the correlation coefficient
    assert abs(float(torch.corrcoef(torch.cat([x, dep], 1).T)[0, 1])) < 0.2


def test_hsic_gradient_and_errors():
    x = torch.randn(10, 2, dtype=torch.float64, requires_grad=True)
    hsic(x, x.detach() ** 2).backward()
    assert torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="rows"):
        hsic(torch.randn(5), torch.randn(6))
    with pytest.raises(ValueError, match="2 samples"):
        hsic(torch.randn(1), torch.randn(1))
    with pytest.raises(ValueError, match="bandwidth"):
        hsic(torch.randn(5), torch.randn(5), sigma_x=0.0)
    # identical points: bandwidth falls back to 1 and HSIC is 0
    assert float(hsic(torch.ones(5), torch.randn(5))) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------
# Scenario 3
# ---------------------------------------------------------------------------


def test_gradient_diversity_penalty_linear_closed_form():
    rng = np.random.default_rng(6)
    Wa, Wb = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    X = torch.tensor(rng.normal(size=(12, 5)))
    y = torch.tensor(rng.integers(0, 3, size=12))
    # the input gradient of logit y of a linear model is row y of its weight
    ga, gb = Wa[y.numpy()], Wb[y.numpy()]
    cos = (ga * gb).sum(1) / (np.linalg.norm(ga, axis=1) * np.linalg.norm(gb, axis=1))
    f64 = torch.float64
    pen = gradient_diversity_penalty(
        linear_model(Wa, np.zeros(3), f64), linear_model(Wb, np.zeros(3), f64), X, y
    )
    assert abs(value(pen) - np.mean(cos**2)) < 1e-12
    # identical models are maximally similar
    same = gradient_diversity_penalty(
        linear_model(Wa, dtype=f64), linear_model(Wa, dtype=f64), X, y
    )
    assert abs(value(same) - 1.0) < 1e-12


def test_gradient_diversity_penalty_trains_parameters():
    set_seed(0)
    a, b = MLP(n_in=4, hidden=(8,), n_out=2), MLP(n_in=4, hidden=(8,), n_out=2)
    pen = gradient_diversity_penalty(a, b, torch.randn(6, 4), torch.randint(0, 2, (6,)))
    pen.backward()
    # every weight matrix gets a gradient (output biases do not affect input gradients)
    for model in (a, b):
        linears = [m for m in model.net if isinstance(m, nn.Linear)]
        assert all(m.weight.grad is not None for m in linears)
    assert 0.0 <= value(pen) <= 1.0


# ---------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------


@pytest.mark.gpu
def test_group_dro_step_and_hsic_on_cuda_match_cpu():
    rng = np.random.default_rng(7)
    losses = torch.tensor(rng.exponential(size=30))
    groups = torch.tensor(rng.integers(0, 3, size=30))
    q = torch.full((3,), 1 / 3, dtype=torch.float64)
    loss_cpu, q_cpu = group_dro_step(losses, groups, q, 0.3)
    loss_gpu, q_gpu = group_dro_step(losses.cuda(), groups.cuda(), q.cuda(), 0.3)
    assert abs(float(loss_cpu) - float(loss_gpu)) < 1e-10
    torch.testing.assert_close(q_cpu, q_gpu.cpu(), atol=1e-12, rtol=0)
    X = torch.tensor(rng.normal(size=(20, 2)))
    torch.testing.assert_close(hsic(X, X**2), hsic(X.cuda(), X.cuda() ** 2).cpu())
