"""L13 -- tmlbook.privacy.

References: scikit-learn (``roc_auc_score``, ``roc_curve``, ``LogisticRegression``),
opacus 1.6 (``GradSampleModule`` for per-sample gradients, ``RDPAccountant`` for
epsilon), scipy (the normal CDF of LiRA), an explicit loop over samples, retraining
from scratch, and closed forms (exposure of rank 1 and rank |R|).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

from tmlbook.data_attribution import binary_digits, fit_logistic
from tmlbook.models import BNMLP, MLP
from tmlbook.privacy import (
    canary_exposure,
    clip_per_sample_gradients,
    dp_epsilon,
    dp_sgd_step,
    dp_sgd_train,
    lira_offline,
    logit_confidence,
    loss_threshold_mia,
    newton_unlearn,
    per_sample_gradients,
    per_sample_loss,
    sisa_fit,
    sisa_forget,
    sisa_predict,
    tpr_at_fpr,
)


def _batch(n=12, d=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    torch.manual_seed(seed)
    return MLP(n_in=d, hidden=(8,), n_out=k), X, y


# ---- membership inference -------------------------------------------------------


def test_loss_threshold_mia_matches_sklearn():
    model, X, y = _batch(n=40)
    r = loss_threshold_mia(model, X[:20], y[:20], X[20:], y[20:])
    loss = F.cross_entropy(model(X).double(), y, reduction="none").detach()
    assert torch.allclose(r["scores"], -loss)
    assert r["membership"].tolist() == [1] * 20 + [0] * 20
    ref = roc_auc_score(r["membership"].numpy(), r["scores"].numpy())
    assert r["auroc"] == pytest.approx(ref, abs=1e-12)


def test_tpr_at_fpr_matches_roc_curve():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.normal(size=500) + y, 1)  # rounded: many ties
    fpr, tpr, _ = roc_curve(y, s)
    for target in (0.01, 0.05, 0.3):
        assert tpr_at_fpr(y, s, target) == pytest.approx(tpr[fpr <= target].max())
    # a perfect score reaches TPR 1 at FPR 0
    assert tpr_at_fpr([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 0.01) == 1.0


def test_logit_confidence_is_the_log_odds():
    model, X, y = _batch()
    p = torch.softmax(model(X).double(), 1).gather(1, y[:, None])[:, 0].detach()
    phi = logit_confidence(model, X, y)
    assert torch.allclose(phi, torch.log(p / (1 - p)), atol=1e-10)
    assert torch.allclose(per_sample_loss(model, X, y), -torch.log(p), atol=1e-6)


def test_lira_offline_matches_the_gaussian_cdf():
    rng = np.random.default_rng(1)
    shadow = rng.normal(size=(8, 30))
    target = rng.normal(size=30) + 1
    mu, sd = shadow.mean(0), shadow.std(0, ddof=1)
    ref = norm.cdf(target, loc=mu, scale=sd)
    assert np.allclose(lira_offline(target, shadow).numpy(), ref, atol=1e-12)
    sd_g = np.sqrt(shadow.var(0, ddof=1).mean())
    ref_g = norm.cdf(target, loc=mu, scale=sd_g)
    out = lira_offline(target, shadow, global_variance=True).numpy()
    assert np.allclose(out, ref_g, atol=1e-12)
    with pytest.raises(ValueError, match="candidates"):
        lira_offline(target[:5], shadow)
    with pytest.raises(ValueError, match="at least 2 shadow"):
        lira_offline(target, shadow[:1])


def test_canary_exposure_closed_forms():
    ref = torch.arange(1.0, 1000.0)  # 999 references: |R| = 1000
    e = canary_exposure(torch.tensor([0.0, 1000.0, 10.5]), ref)
    assert e[0] == pytest.approx(math.log2(1000))  # rank 1
    assert e[1] == pytest.approx(0.0)  # rank |R|
    assert e[2] == pytest.approx(math.log2(1000) - math.log2(11))  # rank 11
    # ties count against the canary
    tie = canary_exposure(torch.tensor([1.0]), torch.tensor([[1.0, 2.0, 3.0]]))
    assert tie[0] == pytest.approx(2 - math.log2(2))
    with pytest.raises(ValueError, match="reference_losses must have shape"):
        canary_exposure(torch.zeros(2), torch.zeros(3, 4))


# ---- per-sample gradients and DP-SGD -------------------------------------------


@pytest.mark.filterwarnings("ignore:Full backward hook")
def test_per_sample_gradients_match_a_loop_and_opacus():
    from opacus import GradSampleModule

    model, X, y = _batch()
    grads = per_sample_gradients(model, X, y)
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(X[i : i + 1]), y[i : i + 1]).backward()
        for k, p in model.named_parameters():
            assert torch.allclose(grads[k][i], p.grad, atol=1e-6), k
    gsm = GradSampleModule(model, loss_reduction="sum")
    gsm.zero_grad()
    F.cross_entropy(gsm(X), y, reduction="sum").backward()
    for k, p in model.named_parameters():
        assert torch.allclose(grads[k], p.grad_sample, atol=1e-6), k
    gsm._close()


def test_clipped_norms_are_at_most_c():
    model, X, y = _batch(n=64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # large gradients: most samples are clipped
    for C in (0.01, 0.5, 1e3):
        clipped, norms = clip_per_sample_gradients(model, X, y, C)
        flat = torch.cat([g.flatten(1) for g in clipped.values()], 1).norm(dim=1)
        assert (flat <= C + 1e-6).all()
        # unclipped samples are unchanged, clipped ones have norm exactly C
        expect = torch.minimum(norms, torch.tensor(C))
        assert torch.allclose(flat, expect, rtol=1e-5)


def test_dp_sgd_step_noise_has_std_sigma_c_over_b():
    model, X, y = _batch(n=16)
    sigma, C, B = 2.0, 0.5, 16
    clipped, _ = clip_per_sample_gradients(model, X, y, C)
    mean = torch.cat([g.sum(0).flatten() for g in clipped.values()]) / B
    before = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(0)
    noisy = dp_sgd_step(model, X, y, 1.0, C, sigma, generator=gen)
    noise = torch.cat([g.flatten() for g in noisy.values()]) - mean
    assert noise.numel() > 50
    sd = float(noise.std())
    se = sigma * C / B / math.sqrt(2 * (noise.numel() - 1))
    assert abs(sd - sigma * C / B) < 4 * se
    assert abs(float(noise.mean())) < 4 * sigma * C / B / math.sqrt(noise.numel())
    # the step applied that gradient with lr 1
    after = list(model.parameters())
    for b, a, g in zip(before, after, noisy.values(), strict=True):
        assert torch.allclose(b - g, a.detach(), atol=1e-6)
    # sigma = 0 gives the mean clipped gradient
    model2, _, _ = _batch(n=16)
    g0 = dp_sgd_step(model2, X, y, 1.0, C, 0.0)
    assert torch.allclose(torch.cat([g.flatten() for g in g0.values()]), mean)


def test_dp_sgd_step_is_seeded():
    outs = []
    for _ in range(2):
        model, X, y = _batch()
        dp_sgd_step(
            model, X, y, 0.1, 1.0, 1.0, generator=torch.Generator().manual_seed(3)
        )
        outs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(*outs)


def test_dp_sgd_train_learns_and_reports_its_sampling():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 4, generator=g)
    y = (X[:, 0] > 0).long()
    torch.manual_seed(0)
    model = MLP(n_in=4, hidden=(8,), n_out=2)
    h = dp_sgd_train(model, X, y, epochs=5, batch_size=20, noise_multiplier=0.5)
    assert h["sample_rate"] == 0.1 and h["steps"] == 50
    acc = float((model(X).argmax(1) == y).float().mean())
    assert acc > 0.8


def test_dp_epsilon_matches_opacus_accountant():
    from opacus.accountants import RDPAccountant

    for sigma, q, steps in [(1.0, 0.05, 300), (0.7, 0.01, 1000), (4.0, 1.0, 10)]:
        acc = RDPAccountant()
        acc.history = [(sigma, q, steps)]
        ref = acc.get_epsilon(delta=1e-5)
        assert dp_epsilon(sigma, q, steps, 1e-5) == pytest.approx(ref, rel=1e-12)
    # more noise, fewer steps or a smaller sample rate: less epsilon
    assert dp_epsilon(2.0, 0.05, 300, 1e-5) < dp_epsilon(1.0, 0.05, 300, 1e-5)
    assert dp_epsilon(1.0, 0.05, 100, 1e-5) < dp_epsilon(1.0, 0.05, 300, 1e-5)


# ---- unlearning ------------------------------------------------------------------


def test_logistic_fit_matches_sklearn():
    d = binary_digits(1, 7, n_train=200)
    lam = 1e-2
    w = fit_logistic(d["X"], d["y"], lam)
    ref = LogisticRegression(
        C=1 / (lam * 200), fit_intercept=False, tol=1e-12, max_iter=10_000
    ).fit(d["X"], d["y"])
    assert np.allclose(w, ref.coef_[0], rtol=1e-4, atol=1e-5)


def test_newton_unlearn_matches_retraining():
    d = binary_digits(1, 7, n_train=200)
    lam = 1e-2
    w = fit_logistic(d["X"], d["y"], lam)
    forget = np.arange(10)
    keep = np.ones(200, dtype=bool)
    keep[forget] = False
    w_retrain = fit_logistic(d["X"][keep], d["y"][keep], lam)
    w_minus = newton_unlearn(w, d["X"], d["y"], forget, lam)
    rel = np.linalg.norm(w_minus - w_retrain) / np.linalg.norm(w_retrain)
    assert rel <= 1e-2
    # the Newton step does better than leaving the model as it is
    assert rel < np.linalg.norm(w - w_retrain) / np.linalg.norm(w_retrain)
    # a boolean mask and the index list agree
    assert np.allclose(newton_unlearn(w, d["X"], d["y"], ~keep, lam), w_minus)
    # forgetting nothing leaves the minimiser where it is
    assert np.allclose(
        newton_unlearn(w, d["X"], d["y"], np.array([], dtype=int), lam), w, atol=1e-6
    )


def test_newton_unlearn_of_one_point_under_strong_regularisation():
    # a strongly convex, nearly quadratic objective and one removed point: the
    # error of the Newton step is second order, a tiny fraction of the change
    d = binary_digits(1, 7, n_train=100)
    lam = 1.0  # strongly convex: the objective is nearly quadratic
    w = fit_logistic(d["X"], d["y"], lam)
    keep = np.arange(100) >= 1
    w_retrain = fit_logistic(d["X"][keep], d["y"][keep], lam)
    w_minus = newton_unlearn(w, d["X"], d["y"], np.array([0]), lam)
    change = np.linalg.norm(w - w_retrain)
    assert np.linalg.norm(w_minus - w_retrain) < 0.01 * change


def test_sisa_forgets_by_retraining_one_shard():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 3, generator=g)
    y = (X[:, 0] > 0).long()
    calls = []

    def train_fn(Xs, ys):
        calls.append(len(ys))
        torch.manual_seed(0)
        m = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(m.parameters(), lr=0.5)
        for _ in range(50):
            opt.zero_grad()
            F.cross_entropy(m(Xs), ys).backward()
            opt.step()
        return m

    models, shard = sisa_fit(X, y, 3, train_fn)
    assert sorted(calls) == [20, 20, 20]
    assert np.bincount(shard).tolist() == [20, 20, 20]
    pred = sisa_predict(models, X, n_classes=2)
    assert float((pred == y).float().mean()) > 0.8
    forget = np.flatnonzero(shard == 1)[:2]
    new, keep, cost = sisa_forget(models, shard, X, y, forget, train_fn)
    assert cost == 18 and keep.sum() == 58
    assert new[0] is models[0] and new[2] is models[2] and new[1] is not models[1]


# ---- bad input -------------------------------------------------------------------


def test_bad_input_raises_naming_the_problem():
    model, X, y = _batch()
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        clip_per_sample_gradients(model, X, y, 0.0)
    with pytest.raises(ValueError, match="labels outside"):
        per_sample_gradients(model, X, y + 5)
    with pytest.raises(ValueError, match="batch-norm"):
        per_sample_gradients(BNMLP(), torch.rand(4, 64), torch.zeros(4).long())
    with pytest.raises(ValueError, match="sample_rate"):
        dp_epsilon(1.0, 1.5, 10, 1e-5)
    with pytest.raises(ValueError, match="delta"):
        dp_epsilon(1.0, 0.1, 10, 0.0)
    with pytest.raises(ValueError, match="noise_multiplier must be > 0"):
        dp_epsilon(0.0, 0.1, 10, 1e-5)
    with pytest.raises(ValueError, match="steps"):
        dp_epsilon(1.0, 0.1, 0, 1e-5)
    with pytest.raises(ValueError, match="noise_multiplier must be finite"):
        dp_sgd_step(model, X, y, 0.1, 1.0, -1.0)
    with pytest.raises(ValueError, match="X_in"):
        loss_threshold_mia(model, X[:0], y[:0], X, y)
    with pytest.raises(ValueError, match="fpr"):
        tpr_at_fpr([0, 1], [0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match="both classes"):
        tpr_at_fpr([1, 1], [0.1, 0.2], 0.1)
    d = binary_digits(1, 7, n_train=50)
    w = fit_logistic(d["X"], d["y"], 0.1)
    with pytest.raises(ValueError, match="outside"):
        newton_unlearn(w, d["X"], d["y"], np.array([50]), 0.1)
    with pytest.raises(ValueError, match="every sample"):
        newton_unlearn(w, d["X"], d["y"], np.arange(50), 0.1)
    with pytest.raises(ValueError, match="w must have shape"):
        newton_unlearn(w[:3], d["X"], d["y"], np.array([0]), 0.1)
    with pytest.raises(ValueError, match="0/1"):
        newton_unlearn(w, d["X"], d["y"] + 2, np.array([0]), 0.1)
