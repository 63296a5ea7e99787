"""L7 -- tmlbook.data_attribution against closed forms, numpy/scipy and retraining."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

from tmlbook import set_seed
from tmlbook.data_attribution import (
    binary_digits,
    detection_auroc,
    fit_logistic,
    influence_scores,
    lanczos_top_eigen,
    leave_one_out,
    linear_datamodeling_score,
    lissa_inverse_hvp,
    logistic_grads,
    logistic_hessian,
    logistic_loss,
    low_rank_inverse_hvp,
    mislabel_ranking,
    per_sample_grads,
    tracin_scores,
    tracin_self_influence,
    train_sgd_checkpoints,
)
from tmlbook.models import MLP

torch.set_num_threads(1)
LAM = 1e-2


@pytest.fixture(scope="module")
def setup():
    d = binary_digits(1, 7, n_train=200, seed=0)
    w = fit_logistic(d["X"], d["y"], LAM)
    H = logistic_hessian(w, d["X"], LAM)
    return d, w, H


def test_fit_is_a_stationary_point_and_hessian_matches_finite_differences(setup):
    d, w, H = setup
    g = logistic_grads(w, d["X"], d["y"]).mean(0) + LAM * w
    assert np.abs(g).max() < 1e-7
    # Hessian vs central differences of the analytic gradient
    eps = 1e-5
    e = np.zeros_like(w)
    e[10] = eps

    def grad(v):
        return logistic_grads(v, d["X"], d["y"]).mean(0) + LAM * v

    fd = (grad(w + e) - grad(w - e)) / (2 * eps)
    np.testing.assert_allclose(H[:, 10], fd, atol=1e-6)
    # per-sample gradients vs torch autograd
    Xt = torch.tensor(d["X"][:5])
    wt = torch.tensor(w, requires_grad=True)
    for i in range(5):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            Xt[i] @ wt, torch.tensor(d["y"][i])
        )
        (gi,) = torch.autograd.grad(loss, wt)
        np.testing.assert_allclose(
            logistic_grads(w, d["X"][i : i + 1], d["y"][i : i + 1])[0],
            gi.numpy(),
            atol=1e-12,
        )


def test_influence_predicts_leave_one_out(setup):
    """Curriculum L7: Pearson(IF, LOO) >= 0.95 on the top-40 |IF| points."""
    d, w, H = setup
    losses = logistic_loss(w, d["X_test"], d["y_test"])
    t = int(np.argmax(losses))  # the hardest test point
    G = logistic_grads(w, d["X"], d["y"])
    g_t = logistic_grads(w, d["X_test"][t : t + 1], d["y_test"][t : t + 1])[0]
    infl = influence_scores(G, g_t, H)
    assert infl.shape == (200,)
    predicted = -infl / len(G)
    top = np.argsort(-np.abs(infl))[:40]
    actual = leave_one_out(
        d["X"], d["y"], LAM, top, d["X_test"][t : t + 1], d["y_test"][t : t + 1], w=w
    )
    assert pearsonr(predicted[top], actual).statistic >= 0.95
    # several test points at once
    I2 = influence_scores(G, np.stack([g_t, g_t]), H)
    np.testing.assert_allclose(I2[1], infl)


def test_lissa_matches_solve_and_scale_matters(setup):
    _, _w, H = setup
    v = np.random.default_rng(0).standard_normal(H.shape[0])
    exact = np.linalg.solve(H, v)
    top = np.linalg.eigvalsh(H).max()
    s = float(np.ceil(top)) + 1.0
    # convergence is governed by lambda_min/s: run enough steps
    steps = int(np.ceil(s / np.linalg.eigvalsh(H).min() * 20))
    approx = lissa_inverse_hvp(H, v, steps=steps, scale=s)
    assert np.linalg.norm(approx - exact) / np.linalg.norm(exact) <= 1e-3
    # damping: solves (H + delta I)^{-1} v
    damped = lissa_inverse_hvp(lambda u: H @ u, v, steps=steps, scale=s, damping=0.5)
    ref = np.linalg.solve(H + 0.5 * np.eye(len(v)), v)
    assert np.linalg.norm(damped - ref) / np.linalg.norm(ref) <= 1e-3
    with pytest.raises(ValueError, match="diverged"):
        lissa_inverse_hvp(H, v, steps=5000, scale=top / 4)


def test_lanczos_top_eigen_matches_eigh(setup):
    _, _, H = setup
    vals, vecs = lanczos_top_eigen(H, H.shape[0], k=5, n_iter=40, seed=0)
    ref_vals, ref_vecs = np.linalg.eigh(H)
    np.testing.assert_allclose(vals, ref_vals[::-1][:5], rtol=0, atol=1e-6)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(5), atol=1e-8)
    for j in range(5):
        assert abs(abs(vecs[:, j] @ ref_vecs[:, -1 - j]) - 1) < 1e-5
    # full Krylov space: the low-rank inverse is the exact inverse
    p = H.shape[0]
    vals, vecs = lanczos_top_eigen(lambda u: H @ u, p, k=p, n_iter=p, seed=1)
    v = np.ones(p)
    np.testing.assert_allclose(
        low_rank_inverse_hvp(vals, vecs, v), np.linalg.solve(H, v), rtol=1e-6, atol=1e-6
    )


def test_low_rank_influence_correlates_with_exact(setup):
    d, w, H = setup
    G = logistic_grads(w, d["X"], d["y"])
    g_t = logistic_grads(w, d["X_test"][:1], d["y_test"][:1])[0]
    exact = influence_scores(G, g_t, H)
    vals, vecs = lanczos_top_eigen(H, H.shape[0], k=20, seed=0)
    approx = -G @ low_rank_inverse_hvp(vals, vecs, g_t)
    assert np.isfinite(approx).all()
    assert spearmanr(approx, exact).statistic > 0


@pytest.fixture(scope="module")
def tracin_run():
    set_seed(0)
    from tmlbook.data import load_digits_splits

    X, y = load_digits_splits().train
    X, y = X[:300], y[:300].clone()
    gen = torch.Generator().manual_seed(0)
    flipped = torch.zeros(300, dtype=torch.bool)
    flipped[torch.randperm(300, generator=gen)[:30]] = True
    y[flipped] = (y[flipped] + 1 + torch.randint(0, 9, (30,), generator=gen)) % 10
    model = MLP(hidden=(64,))
    ckpts = train_sgd_checkpoints(model, X, y, epochs=30, lr=0.2, every=5, seed=0)
    assert len(ckpts) == 6
    return model, ckpts, X, y, flipped


def test_per_sample_grads_match_a_loop(tracin_run):
    model, ckpts, X, y, _ = tracin_run
    model.load_state_dict(ckpts[-1])
    g = per_sample_grads(model, X[:4], y[:4])
    for i in range(4):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(X[i : i + 1]), y[i : i + 1]).backward()
        ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        torch.testing.assert_close(g[i], ref, atol=1e-6, rtol=1e-5)


def test_tracin_equals_hand_computed_checkpoint_dot_products(tracin_run):
    model, ckpts, X, y, _ = tracin_run
    lrs = [0.2] * len(ckpts)
    scores = tracin_scores(model, ckpts, lrs, X[:10], y[:10], X[10:13], y[10:13])
    assert scores.shape == (3, 10)
    ref = torch.zeros(3, 10)
    for state, eta in zip(ckpts, lrs, strict=True):
        model.load_state_dict(state)
        grads = []
        for i in range(13):
            model.zero_grad()
            torch.nn.functional.cross_entropy(
                model(X[i : i + 1]), y[i : i + 1]
            ).backward()
            grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
        G = torch.stack(grads)
        ref += eta * G[10:] @ G[:10].T
    torch.testing.assert_close(scores, ref, atol=1e-5, rtol=1e-4)
    self_inf = tracin_self_influence(model, ckpts, 0.2, X[:10], y[:10])
    full = tracin_scores(model, ckpts, lrs, X[:10], y[:10], X[:10], y[:10])
    torch.testing.assert_close(self_inf, torch.diagonal(full), atol=1e-5, rtol=1e-4)
    # one checkpoint is not the sum over checkpoints
    one = tracin_self_influence(model, ckpts[-1:], 0.2, X[:10], y[:10])
    assert not torch.allclose(one, self_inf)


def test_self_influence_finds_flipped_labels(tracin_run):
    model, ckpts, X, y, flipped = tracin_run
    si = tracin_self_influence(model, ckpts, 0.2, X, y)
    assert detection_auroc(si.numpy(), flipped.numpy()) >= 0.9
    ranking = mislabel_ranking(si.numpy())
    assert flipped[torch.from_numpy(ranking[:30])].sum() >= 15


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, size=200).astype(float)
    lab = rng.random(200) < 0.3
    assert abs(detection_auroc(s, lab) - roc_auc_score(lab, s)) < 1e-12
    assert list(mislabel_ranking([0.1, 0.5, 0.5, 0.2])) == [1, 2, 3, 0]


def test_linear_datamodeling_score_reference():
    rng = np.random.default_rng(0)
    tau = rng.standard_normal((3, 20))
    masks = rng.random((15, 20)) < 0.5
    out = masks @ tau.T + 0.01 * rng.standard_normal((15, 3))
    lds = linear_datamodeling_score(tau, masks, out)
    ref = np.mean([spearmanr(masks @ tau[t], out[:, t]).statistic for t in range(3)])
    assert abs(lds - ref) < 1e-12 and lds > 0.9
    with pytest.raises(ValueError, match="shapes"):
        linear_datamodeling_score(tau, masks[:, :5], out)


def test_errors(setup):
    d, _w, _H = setup
    with pytest.raises(ValueError, match="lam"):
        fit_logistic(d["X"], d["y"], 0.0)
    with pytest.raises(ValueError, match="0/1"):
        fit_logistic(d["X"], d["y"] * 2, LAM)
    with pytest.raises(ValueError, match="shapes"):
        influence_scores(np.zeros((3, 4)), np.zeros(5), np.eye(4))
    with pytest.raises(ValueError, match="one learning rate"):
        tracin_self_influence(
            MLP(),
            [MLP().state_dict()],
            [0.1, 0.2],
            torch.zeros(1, 64),
            torch.zeros(1, dtype=torch.int64),
        )
