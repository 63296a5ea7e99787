"""Tests for tmlbook.shift (L2): every method against an independent reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import confusion_matrix

from tmlbook.data import load_digits_splits
from tmlbook.shift import (
    DomainAdaptNet,
    adaptation_loss,
    bbse_target_priors,
    bbse_weights,
    confusion_matrix_joint,
    coral_loss,
    dann_schedule,
    dirichlet_label_shift,
    domain_cue_shift,
    fit_domain_classifier,
    gaussian_covariate_shift,
    gaussian_density_ratio,
    grad_reverse,
    importance_weights,
    lodo_grid,
    parabola_label,
    reweight_posteriors,
    rotate_digits,
    rotated_digits_domains,
    select_by_oracle,
    select_by_training_domain_validation,
    train_domain_adapted,
    train_val_split,
    two_moons_shift,
)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- data


def test_gaussian_shift_is_deterministic_and_has_the_right_moments():
    a = gaussian_covariate_shift(2000, 3000, mean_shift=(1.5, 0.0), seed=3)
    b = gaussian_covariate_shift(2000, 3000, mean_shift=(1.5, 0.0), seed=3)
    assert torch.equal(a.source.X, b.source.X) and torch.equal(a.target.X, b.target.X)
    assert a.source.X.shape == (2000, 2) and a.target.X.shape == (3000, 2)
    np.testing.assert_allclose(a.source.X.mean(0).numpy(), [0, 0], atol=0.08)
    np.testing.assert_allclose(a.target.X.mean(0).numpy(), [1.5, 0], atol=0.08)
    np.testing.assert_allclose(np.cov(a.target.X.numpy().T), np.eye(2), atol=0.1)
    # p(y | x) is the same rule in both domains
    assert torch.equal(a.target.y, parabola_label(a.target.X))
    x = torch.tensor([[0.0, 0.0], [0.0, -1.0], [2.0, 0.6], [2.0, 0.4]])
    assert parabola_label(x).tolist() == [1, 0, 1, 0]


def test_density_ratio_matches_scipy_pdf_ratio():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 2, generator=gen, dtype=torch.float64)
    m = np.array([1.5, -0.5])
    ref = stats.multivariate_normal(m, np.eye(2)).pdf(
        X.numpy()
    ) / stats.multivariate_normal(np.zeros(2), np.eye(2)).pdf(X.numpy())
    np.testing.assert_allclose(gaussian_density_ratio(X, m).numpy(), ref, rtol=1e-10)


def test_dirichlet_label_shift_keeps_images_and_realises_the_priors():
    s = load_digits_splits()
    tgt, priors = dirichlet_label_shift(s.test.X, s.test.y, alpha=1.0, n=700, seed=5)
    assert len(tgt) == 700
    assert priors.dtype == torch.float64
    assert abs(float(priors.sum()) - 1) < 1e-12
    counts = torch.bincount(tgt.y, minlength=10).double()
    torch.testing.assert_close(counts / 700, priors, rtol=0, atol=1e-12)
    # every resampled row is an original image of the same class (pure label shift)
    orig = {
        (tuple(x.tolist()), int(y)) for x, y in zip(s.test.X, s.test.y, strict=True)
    }
    pairs = zip(tgt.X[:100], tgt.y[:100], strict=True)
    assert all((tuple(x.tolist()), int(y)) in orig for x, y in pairs)
    again, priors2 = dirichlet_label_shift(s.test.X, s.test.y, alpha=1.0, n=700, seed=5)
    assert torch.equal(again.X, tgt.X) and torch.equal(priors, priors2)


def test_dirichlet_label_shift_errors():
    s = load_digits_splits()
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_label_shift(s.test.X, s.test.y, alpha=0.0)
    keep = s.test.y != 3
    with pytest.raises(ValueError, match="do not occur"):
        dirichlet_label_shift(s.test.X[keep], s.test.y[keep])


def test_rotation_matches_rot90_and_identity():
    img = torch.rand(3, 64, generator=torch.Generator().manual_seed(1))
    r90 = rotate_digits(img, 90).numpy().reshape(-1, 8, 8)
    ref = np.rot90(img.numpy().reshape(-1, 8, 8), 1, axes=(1, 2))
    np.testing.assert_allclose(r90, ref, atol=1e-6)
    assert torch.equal(rotate_digits(img, 0), img)
    r = rotate_digits(img, 37.0)
    assert r.shape == (3, 64) and float(r.min()) >= 0 and float(r.max()) <= 1
    with pytest.raises(ValueError, match="64 columns"):
        rotate_digits(torch.zeros(2, 63), 10)


def test_rotated_domains_partition_the_digits():
    doms = rotated_digits_domains(seed=0)
    assert len(doms) == 6 and sum(len(d) for d in doms) == 1797
    # the 0-degree domain holds unrotated digits: every row is one of the originals
    s = load_digits_splits()
    originals = {tuple(x.tolist()) for x in torch.cat([s.train_full.X, s.test.X])}
    assert all(tuple(x.tolist()) in originals for x in doms[0].X[:50])
    again = rotated_digits_domains(seed=0)
    assert all(torch.equal(a.X, b.X) for a, b in zip(doms, again, strict=True))
    tr, va = train_val_split(doms[1], 0.2, seed=0)
    assert len(va) == 60 and len(tr) == 240
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(doms[1], 1.0)


def test_two_moons_rotation_preserves_distance_to_centre():
    from sklearn.datasets import make_moons

    dp = two_moons_shift(n_source=200, n_target=300, angle=35.0, seed=2)
    Xt_raw, yt_raw = make_moons(300, noise=0.1, random_state=2 + 10_000)
    centre = np.array([0.5, 0.25])
    np.testing.assert_allclose(
        np.linalg.norm(dp.target.X.numpy() - centre, axis=1),
        np.linalg.norm(Xt_raw - centre, axis=1),
        atol=1e-5,
    )
    assert dp.target.y.tolist() == yt_raw.tolist()
    same = two_moons_shift(n_source=200, n_target=300, angle=0.0, seed=2)
    np.testing.assert_allclose(same.target.X.numpy(), Xt_raw, atol=1e-6)


def test_domain_cue_shift_moments_and_determinism():
    dp = domain_cue_shift(n_source=20_000, n_target=20_000, offset=-3.0, seed=4)
    again = domain_cue_shift(n_source=20_000, n_target=20_000, offset=-3.0, seed=4)
    assert torch.equal(dp.source.X, again.source.X)
    assert torch.equal(dp.target.y, again.target.y)
    for split, o in [(dp.source, 0.0), (dp.target, -3.0)]:
        s = 2.0 * split.y.double() - 1
        r1 = split.X[:, 0].double() - s  # noise of the stable feature
        r2 = split.X[:, 1].double() - 1.5 * s - o  # noise of the cue
        assert abs(float(r1.mean())) < 0.02 and abs(float(r1.std()) - 0.6) < 0.02
        assert abs(float(r2.mean())) < 0.01 and abs(float(r2.std()) - 0.3) < 0.01
        assert abs(float(split.y.double().mean()) - 0.5) < 0.02
    # the Bayes rule on x1 alone, sign(x1), is right with probability Phi(1 / 0.6)
    from scipy.stats import norm

    acc = float(((dp.target.X[:, 0] > 0).long() == dp.target.y).double().mean())
    assert abs(acc - norm.cdf(1 / 0.6)) < 0.01


def test_domain_cue_shift_rejects_bad_offset():
    with pytest.raises(ValueError, match="offset"):
        domain_cue_shift(offset=float("nan"))
    with pytest.raises(TypeError, match="offset"):
        domain_cue_shift(offset="3")


# ------------------------------------------------------------------ covariate shift


def test_importance_weights_equal_the_formula():
    c = np.array([0.01, 0.2, 0.5, 0.73, 0.999])
    for n_s, n_t in [(100, 100), (300, 50), (7, 900)]:
        ref = (n_s / n_t) * c / (1 - c)
        got = importance_weights(torch.tensor(c), n_s, n_t)
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-6)
    assert float(importance_weights(torch.tensor([0.5]), 10, 10)[0]) == 1.0


@pytest.mark.parametrize(
    "bad", [[0.0, 0.5], [0.5, 1.0], [-0.1, 0.5], [0.5, 1.2], [float("nan"), 0.5]]
)
def test_importance_weights_reject_probabilities_outside_the_open_interval(bad):
    with pytest.raises(ValueError):
        importance_weights(torch.tensor(bad), 10, 10)


def test_importance_weights_reject_bad_shapes_and_counts():
    with pytest.raises(ValueError, match=r"\(n,\)"):
        importance_weights(torch.full((3, 2), 0.5), 10, 10)
    with pytest.raises(ValueError, match="n_source"):
        importance_weights(torch.tensor([0.5]), 0, 10)


def test_domain_classifier_recovers_the_true_density_ratio():
    dp = gaussian_covariate_shift(1000, 1000, seed=0)
    clf = fit_domain_classifier(dp.source.X, dp.target.X)
    c = torch.from_numpy(clf.predict_proba(dp.source.X.double().numpy())[:, 1])
    w = importance_weights(c, 1000, 1000)
    true = gaussian_density_ratio(dp.source.X)
    assert stats.spearmanr(w.numpy(), true.numpy()).statistic >= 0.99  # measured 0.998
    # for equal-covariance Gaussians the log-ratio is linear: m.x - |m|^2 / 2
    np.testing.assert_allclose(clf.coef_[0], [1.5, 0.0], atol=0.15)
    np.testing.assert_allclose(clf.intercept_[0], -1.125, atol=0.15)
    with pytest.raises(ValueError, match="features"):
        fit_domain_classifier(torch.zeros(5, 2), torch.zeros(5, 3))


# ---------------------------------------------------------------------- label shift


def test_confusion_matrix_joint_matches_sklearn():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (300,), generator=gen)
    pred = torch.where(
        torch.rand(300, generator=gen) < 0.7,
        y,
        torch.randint(0, 4, (300,), generator=gen),
    )
    ref = confusion_matrix(y.numpy(), pred.numpy(), labels=range(4)).T / 300
    got = confusion_matrix_joint(pred, y, 4).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-15)


def test_bbse_recovers_known_weights_exactly():
    # a known conditional confusion P(yhat | y), source priors and true weights
    cond = torch.tensor(
        [[0.8, 0.1, 0.05], [0.15, 0.7, 0.15], [0.05, 0.2, 0.8]], dtype=torch.float64
    )
    p_s = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q_t = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    C = cond * p_s  # joint: C[i, j] = P(yhat = i | y = j) p_S(j)
    mu = cond @ q_t  # predicted-label distribution on the target
    w = bbse_weights(C, mu)
    torch.testing.assert_close(w, q_t / p_s, rtol=0, atol=1e-12)
    torch.testing.assert_close(bbse_target_priors(w, p_s), q_t, rtol=0, atol=1e-12)


def test_bbse_on_a_finite_sample_with_exact_counts():
    # 10 source points per class, exact predictions -> C diagonal, w = q / p
    y = torch.arange(3).repeat_interleave(10)
    C = confusion_matrix_joint(y, y, 3)
    mu = torch.tensor([0.2, 0.2, 0.6], dtype=torch.float64)
    p_s = torch.full((3,), 1 / 3, dtype=torch.float64)
    torch.testing.assert_close(bbse_target_priors(bbse_weights(C, mu), p_s), mu)


def test_bbse_singular_and_shape_errors():
    C = torch.tensor([[0.5, 0.5], [0.0, 0.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="singular"):
        bbse_weights(C, torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="square"):
        bbse_weights(torch.ones(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match="entries"):
        bbse_weights(torch.eye(3) / 3, torch.ones(2) / 2)


def test_bbse_target_priors_clip_and_renormalise():
    q = bbse_target_priors(
        torch.tensor([2.0, -1.0, 1.0]), torch.tensor([0.25, 0.25, 0.5])
    )
    torch.testing.assert_close(q, torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="sum to 1"):
        bbse_target_priors(torch.ones(2), torch.tensor([0.2, 0.2]))


def test_reweight_posteriors_equals_bayes_rule_under_the_target_priors():
    # 1-D Gaussians per class: p(x | y) fixed, priors change
    x = np.linspace(-3, 3, 11)
    lik = np.stack([stats.norm(-1, 1).pdf(x), stats.norm(1, 1).pdf(x)], axis=1)
    p_s, q_t = np.array([0.7, 0.3]), np.array([0.2, 0.8])
    post_s = lik * p_s / (lik * p_s).sum(1, keepdims=True)
    post_t = lik * q_t / (lik * q_t).sum(1, keepdims=True)
    got = reweight_posteriors(torch.tensor(post_s), torch.tensor(q_t / p_s))
    np.testing.assert_allclose(got.numpy(), post_t, atol=1e-12)
    with pytest.raises(ValueError, match="non-negative"):
        reweight_posteriors(torch.tensor(post_s), torch.tensor([1.0, -0.1]))


# -------------------------------------------------------------------- CORAL and GRL


def _coral_numpy(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    diff = np.cov(a, rowvar=False, ddof=1) - np.cov(b, rowvar=False, ddof=1)
    return float((diff**2).sum() / (4 * d * d))


def test_coral_loss_equals_a_direct_numpy_computation():
    gen = torch.Generator().manual_seed(0)
    for n_s, n_t, d in [(10, 7, 3), (64, 50, 16), (2, 2, 1)]:
        fs = torch.randn(n_s, d, generator=gen, dtype=torch.float64)
        ft = 2 * torch.randn(n_t, d, generator=gen, dtype=torch.float64) + 1
        got = coral_loss(fs, ft)
        assert got.dim() == 0
        assert abs(float(got) - _coral_numpy(fs.numpy(), ft.numpy())) < 1e-12
    f = torch.randn(20, 4, generator=gen)
    assert float(coral_loss(f, f + 3.0)) < 1e-10  # a shift of the mean is invisible


def test_coral_loss_is_differentiable_and_validates():
    fs = torch.randn(8, 3, requires_grad=True)
    coral_loss(fs, torch.randn(9, 3)).backward()
    assert fs.grad is not None and torch.isfinite(fs.grad).all()
    with pytest.raises(ValueError, match="at least 2"):
        coral_loss(torch.randn(1, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="features"):
        coral_loss(torch.randn(4, 3), torch.randn(5, 2))


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 3.0])
def test_grad_reverse_is_identity_forward_and_minus_lambda_backward(lam):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    v = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    out = grad_reverse(x, lam)
    assert torch.equal(out, x)
    (g,) = torch.autograd.grad((out * v).sum(), x)
    assert torch.equal(g, -lam * v)
    # the vector-Jacobian product agrees: J^T v = -lam v
    _, vjp = torch.autograd.functional.vjp(
        lambda z: grad_reverse(z, lam), x.detach(), v
    )
    assert torch.equal(vjp, -lam * v)


def test_grad_reverse_validates():
    with pytest.raises(ValueError, match=">= 0"):
        grad_reverse(torch.ones(2), -1.0)
    with pytest.raises(ValueError, match="finite"):
        grad_reverse(torch.ones(2), float("inf"))
    with pytest.raises(TypeError):
        grad_reverse(np.ones(2), 1.0)


def test_dann_schedule_is_tanh_of_half_gamma_p():
    for p in [0.0, 0.1, 0.5, 1.0]:
        assert abs(dann_schedule(p) - np.tanh(10 * p / 2)) < 1e-12
    with pytest.raises(ValueError):
        dann_schedule(1.5)


def test_adaptation_loss_values_and_reversed_feature_gradient():
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = DomainAdaptNet(2, 8, 2).double()
    xs = torch.randn(6, 2, dtype=torch.float64)
    xt = torch.randn(5, 2, dtype=torch.float64)
    ys = torch.tensor([0, 1, 0, 1, 1, 0])
    fs, ft = model.features(xs), model.features(xt)
    ce = F.cross_entropy(model.label_head(fs), ys)
    d = torch.cat([torch.zeros(6), torch.ones(5)]).double()
    bce = F.binary_cross_entropy_with_logits(model.domain_logit(torch.cat([fs, ft])), d)
    torch.testing.assert_close(adaptation_loss(model, xs, ys, xt, "source", 1.0), ce)
    dann = adaptation_loss(model, xs, ys, xt, "dann", 0.7)
    torch.testing.assert_close(dann, ce + bce)  # the GRL is the identity forward
    torch.testing.assert_close(
        adaptation_loss(model, xs, ys, xt, "coral", 2.0), ce + 2.0 * coral_loss(fs, ft)
    )
    # DANN: the domain head descends on BCE, the features get -lam times its gradient
    first = model.feature_net[0].weight
    g_dann = torch.autograd.grad(dann, first)[0]
    g_ce = torch.autograd.grad(ce, first, retain_graph=True)[0]
    g_bce = torch.autograd.grad(bce, first)[0]
    torch.testing.assert_close(g_dann, g_ce - 0.7 * g_bce)
    with pytest.raises(ValueError, match="method"):
        adaptation_loss(model, xs, ys, xt, "mmd", 1.0)


def _params(model: DomainAdaptNet):
    return [
        p.detach().clone()
        for p in list(model.feature_net.parameters())
        + list(model.label_head.parameters())
    ]


def test_training_is_deterministic_and_zero_weight_equals_source_only():
    dp = two_moons_shift(n_source=100, n_target=100, seed=0)
    args = (dp.source.X, dp.source.y, dp.target.X)
    src = train_domain_adapted(*args, method="source", steps=40, seed=1, device="cpu")
    again = train_domain_adapted(*args, method="source", steps=40, seed=1, device="cpu")
    for a, b in zip(_params(src), _params(again), strict=True):
        assert torch.equal(a, b)
    # with weight 0, no adaptation gradient reaches the features: same network
    for method in ("dann", "coral"):
        m = train_domain_adapted(
            *args, method=method, weight=0.0, steps=40, seed=1, device="cpu"
        )
        for a, b in zip(_params(src), _params(m), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    dann = train_domain_adapted(
        *args, method="dann", weight=1.0, steps=40, seed=1, device="cpu"
    )
    assert any(
        not torch.equal(a, b) for a, b in zip(_params(src), _params(dann), strict=True)
    )
    with pytest.raises(ValueError, match="method"):
        train_domain_adapted(*args, method="irm")


@pytest.mark.gpu
def test_coral_and_grl_on_cuda_match_cpu():
    fs, ft = torch.randn(16, 4), torch.randn(12, 4)
    on_gpu = coral_loss(fs.cuda(), ft.cuda()).cpu()
    torch.testing.assert_close(on_gpu, coral_loss(fs, ft))
    x = torch.randn(3, 3, device="cuda", requires_grad=True)
    (g,) = torch.autograd.grad(grad_reverse(x, 2.0).sum(), x)
    assert torch.equal(g.cpu(), torch.full((3, 3), -2.0))


# --------------------------------------------------------------------- DG selection


def _grid():
    # H = 3 settings, T = 3 domains; val_acc[h, t, d], test_acc[h, t]
    val = np.zeros((3, 3, 3))
    val[:, 0] = [[0.9, 0.8, 0.8], [0.1, 0.9, 0.9], [0.99, 0.7, 0.7]]
    val[:, 1] = [[0.6, 0.5, 0.6], [0.7, 0.1, 0.7], [0.7, 0.9, 0.7]]
    val[:, 2] = [[0.8, 0.8, 0.2], [0.8, 0.6, 0.9], [0.5, 0.5, 0.5]]
    test = np.array([[0.6, 0.5, 0.4], [0.7, 0.55, 0.45], [0.65, 0.52, 0.3]])
    return val, test


def test_training_domain_validation_never_uses_the_test_domain():
    val, test = _grid()
    choice, acc = select_by_training_domain_validation(val, test)
    # t=0: means over d=1,2 -> 0.8, 0.9, 0.7; t=1: ties 0.6/0.7/0.7 -> first max (1)
    # t=2: means over d=0,1 -> 0.8, 0.7, 0.5
    assert choice.tolist() == [1, 1, 0]
    np.testing.assert_allclose(acc, [0.7, 0.55, 0.4])
    # changing test-domain numbers (diagonal and test_acc order) changes nothing
    poisoned = val.copy()
    for t in range(3):
        poisoned[:, t, t] = [0.0, 0.0, 1.0]
    choice2, _ = select_by_training_domain_validation(poisoned, test[::-1].copy())
    assert choice2.tolist() == choice.tolist()


def test_oracle_selects_on_the_test_domain():
    val, test = _grid()
    choice, acc = select_by_oracle(val, test)
    assert choice.tolist() == [2, 2, 1]
    np.testing.assert_allclose(acc, [0.65, 0.52, 0.45])


def test_selection_validates_shapes():
    with pytest.raises(ValueError, match=r"\(H, T, T\)"):
        select_by_oracle(np.zeros((2, 3, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="test_acc"):
        select_by_training_domain_validation(np.zeros((2, 3, 3)), np.zeros((3, 2)))


class _Constant(torch.nn.Module):
    """Predicts class ``k`` for every input; remembers how many rows trained it."""

    def __init__(self, k: int, n_rows: int):
        super().__init__()
        self.k, self.n_rows = k, n_rows
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.zeros(x.shape[0], 10)
        out[:, self.k] = 1.0
        return out


def test_lodo_grid_trains_without_the_held_out_domain():
    doms = rotated_digits_domains(angles=(0, 30, 60), seed=0)
    rows = []

    def train_fn(X, y, k):
        rows.append(len(X))
        return _Constant(k, len(X))

    val, test = lodo_grid(doms, [0, 1], train_fn, val_fraction=0.2, seed=0)
    assert val.shape == (2, 3, 3) and test.shape == (2, 3)
    parts = [train_val_split(d, 0.2, k) for k, d in enumerate(doms)]
    for t in range(3):
        expected = sum(len(parts[d][0]) for d in range(3) if d != t)
        assert rows[2 * t] == rows[2 * t + 1] == expected
        # a constant predictor of class k scores the share of class k
        for k in (0, 1):
            share = float((parts[t][0].y == k).double().mean())
            assert abs(test[k, t] - share) < 1e-12
