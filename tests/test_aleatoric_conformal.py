"""L12 -- tmlbook.aleatoric, tmlbook.conformal, tmlbook.llm_uncertainty.

References: scipy (normal log density, CRPS by numerical integration), mapie
1.6 (LAC quantile and sets), a brute-force APS loop, the finite-sample
coverage bounds of split conformal, closed forms.
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from tmlbook.aleatoric import (
    crps_gaussian,
    fit_gaussian_regressor,
    gaussian_nll,
    mdn_nll,
    winner_takes_all_loss,
)
from tmlbook.conformal import (
    aps_scores,
    aps_sets,
    conformal_quantile,
    coverage,
    lac_scores,
    lac_sets,
)
from tmlbook.llm_uncertainty import (
    auarc,
    lexical_entropy,
    make_qa_dataset,
    parse_confidence,
    semantic_clusters,
    semantic_entropy,
)
from tmlbook.scoring import aurc


def test_gaussian_nll_and_crps_against_scipy():
    mu = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    sigma = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    y = torch.tensor([0.3, 2.0, -2.5], dtype=torch.float64)
    ref = -norm.logpdf(y.numpy(), mu.numpy(), sigma.numpy())
    np.testing.assert_allclose(gaussian_nll(mu, sigma, y).numpy(), ref, rtol=1e-12)
    for m, s, t, c in zip(mu, sigma, y, crps_gaussian(mu, sigma, y), strict=True):
        m, s, t = float(m), float(s), float(t)

        def f(x, m=m, s=s, t=t):
            return (norm.cdf(x, m, s) - (x >= t)) ** 2

        val = integrate.quad(f, m - 12 * s, t)[0] + integrate.quad(f, t, m + 12 * s)[0]
        assert float(c) == pytest.approx(val, rel=1e-7)
    with pytest.raises(ValueError, match="positive"):
        gaussian_nll(mu, -sigma, y)


def test_mdn_and_wta():
    g = torch.Generator().manual_seed(0)
    lp, mu = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    sg, y = torch.rand(5, 3, generator=g) + 0.2, torch.randn(5, generator=g)
    pi = torch.softmax(lp, 1).numpy()
    ref = -np.log((pi * norm.pdf(y.numpy()[:, None], mu.numpy(), sg.numpy())).sum(1))
    np.testing.assert_allclose(mdn_nll(lp, mu, sg, y).numpy(), ref, rtol=1e-5)
    # one component reduces to the Gaussian NLL
    one = mdn_nll(torch.zeros(5, 1), mu[:, :1], sg[:, :1], y)
    torch.testing.assert_close(one, gaussian_nll(mu[:, 0], sg[:, 0], y))
    preds = torch.tensor([[0.0, 1.0, 5.0]])
    assert float(winner_takes_all_loss(preds, torch.tensor([0.9]))[0]) == pytest.approx(
        0.01
    )
    relaxed = winner_takes_all_loss(preds, torch.tensor([0.9]), epsilon=0.1)
    assert float(relaxed[0]) == pytest.approx(0.9 * 0.01 + 0.1 * (0.81 + 16.81) / 2)


def test_heteroscedastic_fit_tracks_noise():
    g = torch.Generator().manual_seed(0)
    X = torch.linspace(-1, 1, 200)[:, None]
    noise = 0.05 + 0.4 * (X[:, 0] + 1) / 2
    y = X[:, 0] + noise * torch.randn(200, generator=g)
    model = fit_gaussian_regressor(X, y, epochs=400)
    with torch.no_grad():
        _, sigma = model(torch.tensor([[-0.9], [0.9]]))
    assert sigma[1] > 2 * sigma[0]


def test_conformal_quantile_finite_sample_rule():
    s = torch.arange(1, 100, dtype=torch.float64)  # n = 99
    assert conformal_quantile(s, 0.1) == 90.0  # k = ceil(100 * 0.9) = 90
    assert conformal_quantile(torch.arange(1.0, 10.0), 0.05) == math.inf  # k = 10 > 9
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="alpha"):
            conformal_quantile(s, bad)
    with pytest.raises(ValueError, match="NaN"):
        conformal_quantile(torch.tensor([1.0, float("nan")]), 0.1)


@pytest.fixture(scope="module")
def digits_probs():
    from sklearn.linear_model import LogisticRegression

    from tmlbook.data import load_digits_splits

    sp = load_digits_splits()
    clf = LogisticRegression(max_iter=300, C=0.05).fit(
        sp.train.X.numpy(), sp.train.y.numpy()
    )
    return clf, sp


def test_lac_matches_mapie(digits_probs):
    from mapie.classification import SplitConformalClassifier

    clf, sp = digits_probs
    Xc, yc = sp.val.X.numpy(), sp.val.y.numpy()
    Xt = sp.test.X.numpy()
    mapie = SplitConformalClassifier(
        clf, confidence_level=0.9, conformity_score="lac", prefit=True
    )
    mapie.conformalize(Xc, yc)
    _, theirs = mapie.predict_set(Xt)
    pc = torch.from_numpy(clf.predict_proba(Xc))
    qhat = conformal_quantile(lac_scores(pc, torch.from_numpy(yc)), 0.1)
    qm = float(np.ravel(mapie._mapie_classifier.quantiles_)[0])
    assert qhat == pytest.approx(qm, abs=1e-12)
    ours = lac_sets(torch.from_numpy(clf.predict_proba(Xt)), qhat)
    assert np.array_equal(ours.numpy(), theirs[:, :, 0])


def _aps_reference(p, k):
    order = sorted(range(len(p)), key=lambda j: (-p[j], j))
    total = 0.0
    for j in order:
        total += p[j]
        if j == k:
            return total


def test_aps_scores_against_a_loop_and_sets():
    g = torch.Generator().manual_seed(3)
    p = torch.softmax(torch.randn(30, 4, generator=g), 1).double()
    p[0] = torch.tensor([0.4, 0.4, 0.1, 0.1], dtype=torch.float64)  # ties
    y = torch.randint(0, 4, (30,), generator=g)
    s = aps_scores(p, y)
    ref = [_aps_reference(p[i].tolist(), int(y[i])) for i in range(30)]
    np.testing.assert_allclose(s.numpy(), ref, rtol=1e-12)
    u = torch.rand(30, generator=g).double()
    torch.testing.assert_close(aps_scores(p, y, u), s - u * p[torch.arange(30), y])
    sets = aps_sets(p, 0.8)
    for i in range(30):
        for k in range(4):
            assert bool(sets[i, k]) == (_aps_reference(p[i].tolist(), k) <= 0.8)


def test_split_conformal_coverage_over_200_splits(digits_probs):
    clf, sp = digits_probs
    X = torch.cat([sp.val.X, sp.test.X]).numpy()
    y = torch.cat([sp.val.y, sp.test.y])
    probs = torch.from_numpy(clf.predict_proba(X))
    n_cal, alpha = 400, 0.1
    rng = np.random.default_rng(0)
    covs = {"lac": [], "aps": []}
    for _ in range(200):
        perm = torch.from_numpy(rng.permutation(len(y)))
        cal, test = perm[:n_cal], perm[n_cal:]
        q = conformal_quantile(lac_scores(probs[cal], y[cal]), alpha)
        covs["lac"].append(coverage(lac_sets(probs[test], q), y[test]))
        u_cal = torch.from_numpy(rng.random(n_cal))
        u_te = torch.from_numpy(rng.random(len(test)))
        q = conformal_quantile(aps_scores(probs[cal], y[cal], u_cal), alpha)
        covs["aps"].append(coverage(aps_sets(probs[test], q, u_te), y[test]))
    lo, hi = 1 - alpha, 1 - alpha + 1 / (n_cal + 1)
    for name, c in covs.items():
        m, se = float(np.mean(c)), float(np.std(c)) / math.sqrt(len(c))
        assert lo - 3 * se <= m <= hi + 3 * se, (name, m)


def test_llm_dataset_and_estimators():
    d1, d2 = make_qa_dataset(60, 8, seed=0), make_qa_dataset(60, 8, seed=0)
    assert d1.answers == d2.answers and np.array_equal(d1.entails, d2.entails)
    assert parse_confidence("Confidence: 85%") == 0.85
    assert math.isnan(parse_confidence("Confidence: 185%"))
    assert math.isnan(parse_confidence("pretty sure"))
    e = np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=bool)  # 2 -> 1 one-way
    assert semantic_clusters(e).tolist() == [0, 0, 1]
    assert semantic_entropy(e) == pytest.approx(
        -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    )
    lp = [0.0, 0.0, -50.0]
    assert semantic_entropy(e, log_probs=lp) == pytest.approx(0, abs=1e-12)
    assert lexical_entropy(["a", "a", "b", "c"]) == pytest.approx(
        -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    )
    conf, corr = torch.tensor([0.9, 0.2, 0.5]), torch.tensor([1, 0, 1])
    assert auarc(conf, corr) == pytest.approx(1 - aurc(conf, corr))


def test_a_trained_mdn_beats_one_gaussian_on_a_multimodal_inverse_problem():
    from tmlbook.aleatoric import fit_gaussian_regressor, fit_mdn, gaussian_nll, mdn_nll

    g = torch.Generator().manual_seed(0)

    def inverse_sine(n):  # for x near 0.5 three values of t fit
        t = torch.rand(n, generator=g)
        x = t + 0.3 * torch.sin(2 * torch.pi * t) + 0.05 * torch.randn(n, generator=g)
        return x[:, None], t

    x, t = inverse_sine(600)
    x_new, t_new = inverse_sine(600)
    mdn = fit_mdn(
        x, t, epochs=600, lr=3e-3, batch_size=200, device="cpu", progress=False
    )
    gauss = fit_gaussian_regressor(x, t, epochs=600)
    with torch.no_grad():
        logit_pi, mu, sigma = mdn(x_new)
        mdn_test = float(mdn_nll(logit_pi, mu, sigma, t_new).mean())
        gauss_test = float(gaussian_nll(*gauss(x_new), t_new).mean())
    assert mu.shape == sigma.shape == (600, 3) and (sigma > 0).all()
    assert mdn_test < gauss_test - 0.2
    with pytest.raises(ValueError, match="X must be"):
        fit_mdn(torch.zeros(5), torch.zeros(5))
