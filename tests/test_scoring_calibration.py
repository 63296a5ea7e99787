"""L9/L10 -- tmlbook.scoring and tmlbook.calibration.

References: scikit-learn (``log_loss``, ``brier_score_loss`` with labels),
scipy (the temperature optimum), closed forms and properties; torchmetrics is
checked only to document where its ECE differs (confidence 1.0).
"""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.metrics import brier_score_loss, log_loss

from tmlbook.calibration import (
    adaptive_ece,
    classwise_ece,
    ece,
    fit_temperature,
    mce,
    reliability_bins,
    temperature_scale,
)
from tmlbook.scoring import (
    aurc,
    brier_score,
    entropy,
    expected_entropy,
    linear_score,
    margin,
    max_softmax,
    mutual_information,
    nll,
    perplexity,
    predictive_entropy,
    risk_coverage,
)


def _random_probs(n=300, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(n, k, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g)
    return logits, torch.softmax(logits, 1), y


def test_confidence_scores_closed_forms():
    p = torch.tensor([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    assert torch.allclose(max_softmax(p), torch.tensor([0.7, 1 / 3, 1.0]).double())
    assert torch.allclose(margin(p), torch.tensor([0.5, 0.0, 1.0]).double())
    h = entropy(p)
    assert h[1] == pytest.approx(math.log(3))
    assert h[2] == 0.0  # 0 log 0 = 0, no NaN
    assert h[0] == pytest.approx(
        -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))
    )


def test_nll_and_brier_match_sklearn():
    _, p, y = _random_probs()
    labels = list(range(5))
    assert nll(p, y) == pytest.approx(log_loss(y, p, labels=labels), rel=1e-10)
    assert perplexity(p, y) == pytest.approx(math.exp(nll(p, y)))
    ref = brier_score_loss(y.numpy(), p.numpy(), labels=labels)
    assert brier_score(p, y) == pytest.approx(ref, rel=1e-10)
    # the sum over classes, not halved: a confident wrong answer scores 2
    assert brier_score(torch.tensor([[0.0, 1.0]]), torch.tensor([0])) == 2.0


def test_strict_propriety_numerically():
    q = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    grid = torch.distributions.Dirichlet(torch.ones(3)).sample((300,)).double()
    grid = torch.cat([grid, q[None]])

    def expected(rule, p):
        return sum(q[k] * rule(p[None], torch.tensor([k])) for k in range(3))

    for rule in (nll, brier_score):
        vals = torch.tensor([expected(rule, p) for p in grid])
        assert int(vals.argmin()) == len(grid) - 1  # truth is the unique best
    lin = torch.tensor([expected(linear_score, p) for p in grid])
    onehot = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    assert expected(linear_score, onehot[0]) < expected(linear_score, q)
    assert lin.min() < expected(linear_score, q)


def test_entropy_decomposition():
    g = torch.Generator().manual_seed(1)
    stack = torch.softmax(torch.randn(7, 50, 4, generator=g), 2)
    mi = mutual_information(stack)
    assert (mi >= 0).all()
    assert torch.allclose(predictive_entropy(stack), expected_entropy(stack) + mi)
    same = stack[:1].expand(5, -1, -1)
    assert torch.allclose(
        mutual_information(same), torch.zeros(50).double(), atol=1e-12
    )


def test_risk_coverage_and_aurc():
    conf = torch.tensor([0.9, 0.8, 0.7, 0.6])
    correct = torch.tensor([1, 1, 0, 1])
    cov, risk = risk_coverage(conf, correct)
    assert torch.allclose(cov, torch.tensor([0.25, 0.5, 0.75, 1.0]).double())
    assert torch.allclose(risk, torch.tensor([0, 0, 1 / 3, 1 / 4]).double())
    assert aurc(conf, correct) == pytest.approx((0 + 0 + 1 / 3 + 1 / 4) / 4)
    # a constant confidence gives the error rate (ties spread evenly)
    assert aurc(torch.ones(4), correct) == pytest.approx(0.25)


def test_validation_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        entropy(torch.tensor([[2.0, -1.0]]).abs())
    with pytest.raises(ValueError, match="NaN"):
        max_softmax(torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(ValueError, match=r"\(S, n, K\)"):
        mutual_information(torch.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="labels outside"):
        nll(torch.full((2, 2), 0.5), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="n_bins"):
        ece(torch.full((2, 2), 0.5), torch.tensor([0, 1]), n_bins=0)


def _ece_reference(conf, correct, edges_right_closed=False, m=15):
    """Independent loop with explicit intervals."""
    conf, correct = np.asarray(conf, float), np.asarray(correct, float)
    total = 0.0
    for b in range(m):
        lo, hi = b / m, (b + 1) / m
        if edges_right_closed:
            inb = (conf > lo) & (conf <= hi) if b else (conf >= lo) & (conf <= hi)
        else:
            inb = (conf >= lo) & ((conf < hi) if b < m - 1 else (conf <= hi))
        if inb.any():
            total += inb.mean() * abs(correct[inb].mean() - conf[inb].mean())
    return total


def test_ece_matches_loop_reference_and_mce():
    _, p, y = _random_probs(seed=3)
    conf, pred = p.max(1)
    corr = (pred == y).numpy()
    assert ece(p, y) == pytest.approx(_ece_reference(conf.numpy(), corr), abs=1e-12)
    r = reliability_bins(p, y)
    assert int(r["count"].sum()) == len(y)
    gaps = (r["accuracy"] - r["confidence"]).abs()
    assert mce(p, y) == pytest.approx(float(gaps[r["count"] > 0].max()))
    assert ece(p, y) <= mce(p, y)


def test_ece_on_edge_convention():
    # all confidences exactly 0.5, half correct, 10 bins: [0.5, 0.6) holds them
    p = torch.tensor([[0.5, 0.5]] * 4)
    y = torch.tensor([0, 0, 1, 1])
    assert ece(p, y, n_bins=10) == pytest.approx(0.0)
    # two confidences 0.5 (on the edge of 4 bins, both right) and two 0.45
    # (both wrong): [lo, hi) separates them, (lo, hi] would pool them
    p2 = torch.tensor(
        [[0.5, 0.3, 0.2]] * 2 + [[0.45, 0.35, 0.2]] * 2, dtype=torch.float64
    )
    y2 = torch.tensor([0, 0, 1, 1])
    ours = ece(p2, y2, n_bins=4)
    conf = p2.max(1).values.numpy()
    corr = (p2.argmax(1) == y2).numpy()
    assert ours == pytest.approx(0.475)
    assert ours == pytest.approx(_ece_reference(conf, corr, m=4))
    assert _ece_reference(conf, corr, True, m=4) == pytest.approx(0.025)
    # confidence exactly 1.0 belongs to the last bin
    r = reliability_bins(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), n_bins=15)
    assert r["count"][-1] == 1 and len(r["count"]) == 15


@pytest.mark.parametrize("m", [1, 2, 3, 7, 10, 15, 33, 100, 1000])
def test_bin_index_matches_a_search_of_the_edges_on_and_next_to_every_edge(m):
    from tmlbook.calibration import _bin_index

    edges = np.linspace(0, 1, m + 1)  # the edges reliability_bins reports
    ref_edges = torch.linspace(0, 1, m + 1, dtype=torch.float64)
    for dtype in (np.float64, np.float32):
        e = edges.astype(dtype)
        conf = np.concatenate(
            [
                e,
                np.nextafter(e, dtype(2)),
                np.clip(np.nextafter(e, dtype(-1)), 0, 1),
                np.random.default_rng(m).random(2000).astype(dtype),
            ]
        )
        c = torch.from_numpy(conf)
        reference = torch.bucketize(c.double(), ref_edges[1:-1], right=True)
        assert torch.equal(_bin_index(c, m), reference)


def test_torchmetrics_puts_confidence_one_in_a_phantom_bin():
    torchmetrics = pytest.importorskip("torchmetrics")
    from torchmetrics.functional.classification import multiclass_calibration_error

    # two saturated predictions (one right) and two at 0.95 (both right):
    # our last bin [14/15, 1] pools all four: |0.75 - 0.975| = 0.225
    p = torch.tensor([[1.0, 0.0]] * 2 + [[0.95, 0.05]] * 2)
    y = torch.tensor([0, 1, 0, 0])
    ours = ece(p, y, n_bins=15)
    assert ours == pytest.approx(0.225)
    theirs = float(multiclass_calibration_error(p, y, num_classes=2, n_bins=15))
    assert torchmetrics.__version__.startswith("1.9")
    # on ordinary confidences the two agree ...
    _, pr, yr = _random_probs(n=400, k=2, seed=5)
    agree = float(
        multiclass_calibration_error(pr.float(), yr, num_classes=2, n_bins=15)
    )
    assert agree == pytest.approx(ece(pr.float(), yr), abs=1e-5)
    # ... while at 1.0 torchmetrics' bin index 15 falls outside the 15 bins
    # (0.5 |0.5 - 1| + 0.5 |1 - 0.95| = 0.275: confidence 1.0 sits alone)
    assert theirs == pytest.approx(0.275, abs=1e-6)
    assert theirs != pytest.approx(ours)


def test_gaming_ece_with_a_constant_predictor():
    from tmlbook.ood import auroc

    y = torch.tensor([0, 1, 2, 3] * 25)
    p = torch.full((100, 4), 0.25)
    p = p.clone()
    assert ece(p, y) == pytest.approx(0.0, abs=1e-12)
    correct = (p.argmax(1) == y).long()
    assert auroc(correct, max_softmax(p)) == 0.5


def test_classwise_and_adaptive_ece():
    _, p, y = _random_probs(seed=7)
    c, a = classwise_ece(p, y), adaptive_ece(p, y)
    assert 0 <= c <= 1 and 0 <= a <= 1
    perfect = torch.nn.functional.one_hot(y, 5).double()
    assert classwise_ece(perfect, y) == 0.0 and adaptive_ece(perfect, y) == 0.0


def test_fit_temperature_matches_scipy_and_keeps_argmax():
    logits, _, _ = _random_probs(n=500, seed=11)
    g = torch.Generator().manual_seed(2)
    # overconfident logits: labels agree with argmax only 60 % of the time
    y = torch.where(
        torch.rand(500, generator=g) < 0.6,
        logits.argmax(1),
        torch.randint(0, 5, (500,), generator=g),
    )
    z = 4 * logits
    t = fit_temperature(z, y)
    zn, yn = z.numpy(), y.numpy()

    def nll_t(log_t):
        return -log_softmax(zn / np.exp(log_t), axis=1)[np.arange(500), yn].mean()

    ref = minimize_scalar(
        nll_t, bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}
    )
    assert t > 1.5
    assert math.log(t) == pytest.approx(ref.x, abs=1e-6)
    assert torch.equal(temperature_scale(z, t).argmax(1), z.argmax(1))
    assert nll(temperature_scale(z, t), y) < nll(torch.softmax(z, 1), y)
    with pytest.raises(ValueError, match="no minimum"):
        fit_temperature(z, z.argmax(1))
