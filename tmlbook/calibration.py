"""L10 -- calibration: ECE, MCE, reliability diagrams, temperature scaling.

Bin convention (stated once, used everywhere): ``n_bins`` equal-width bins on
[0, 1]; bin b holds confidences in [b/M, (b+1)/M) -- closed on the left, open
on the right -- except the last bin, which is closed, [(M-1)/M, 1].  So a
confidence exactly on an inner edge goes to the bin *above* it, and a
confidence of exactly 1.0 belongs to the last bin (there is no extra bin).
Guo et al.'s code uses (lo, hi] instead; on-edge confidences then move down.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tmlbook.checks import (
    as_probabilities,
    as_tensor,
    check_finite,
    check_labels,
    check_ndim,
)


def _bin_index(conf: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Bin of each confidence under the [lo, hi) / last-bin-closed convention.

    The bin is floor(M * conf), clipped to M - 1 for conf = 1.  Rounding can put
    a confidence within ~1e-16 of an edge in the wrong bin, so those few (and
    only those: a full search is 10x slower) are placed by comparing them with
    the edges themselves, ``torch.linspace(0, 1, M + 1)``.
    """
    conf = conf.to(torch.float64)
    scaled = conf * n_bins
    b = scaled.floor()
    near_edge = (scaled - b - 0.5).abs() > 0.5 - 1e-9
    b = b.long().clamp_(0, n_bins - 1)
    if bool(near_edge.any()):
        inner = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:-1]
        b[near_edge] = torch.bucketize(conf[near_edge], inner, right=True)
    return b


def _check_bins(n_bins: int) -> int:
    if isinstance(n_bins, bool) or int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    return int(n_bins)


def reliability_bins(probs, y, n_bins: int = 15) -> dict[str, torch.Tensor]:
    """Per-bin counts, mean confidence and accuracy of the top-label prediction.

    Bins follow the module convention: [b/M, (b+1)/M), the last bin [.., 1].

    Parameters
    ----------
    probs : shape (n, K), rows sum to 1
    y : shape (n,), int labels
    n_bins : int
        M, the number of equal-width bins.

    Returns
    -------
    dict with ``edges`` (M+1,), ``count`` (M,), ``confidence`` (M,) and
    ``accuracy`` (M,) -- float64; empty bins have confidence and accuracy NaN.
    """
    n_bins = _check_bins(n_bins)
    p = as_probabilities(probs, double=False)  # float64 only for the (n,) parts
    y = as_tensor(y, "y")
    check_labels(y, p.shape[0], p.shape[1])
    if p.shape[0] == 0:
        raise ValueError("probs is empty")
    conf, pred = p.max(dim=1)
    conf = conf.to(torch.float64)
    correct = (pred == y).to(torch.float64)
    b = _bin_index(conf, n_bins)
    count = torch.bincount(b, minlength=n_bins).to(torch.float64)
    s_conf = torch.bincount(b, weights=conf, minlength=n_bins)
    s_acc = torch.bincount(b, weights=correct, minlength=n_bins)
    nan = torch.full_like(count, float("nan"))
    safe = count.clamp_min(1)
    return {
        "edges": torch.linspace(0, 1, n_bins + 1, dtype=torch.float64),
        "count": count,
        "confidence": torch.where(count > 0, s_conf / safe, nan),
        "accuracy": torch.where(count > 0, s_acc / safe, nan),
    }


def ece(probs, y, n_bins: int = 15) -> float:
    """Expected calibration error of the top label.

    ECE = sum_b (n_b / n) ``|acc_b - conf_b|`` over equal-width bins
    [b/M, (b+1)/M), the last bin closed so that confidence 1.0 is in bin M-1.

    Parameters
    ----------
    probs : shape (n, K)
    y : shape (n,)
    n_bins : int, default 15

    Returns
    -------
    float in [0, 1]
    """
    r = reliability_bins(probs, y, n_bins)
    w = r["count"] / r["count"].sum()
    gap = (r["accuracy"] - r["confidence"]).abs()
    return float(torch.where(r["count"] > 0, w * gap, torch.zeros_like(w)).sum())


def mce(probs, y, n_bins: int = 15) -> float:
    """Maximum calibration error: the largest ``|acc_b - conf_b|`` over non-empty bins.

    Same bins as :func:`ece`.
    """
    r = reliability_bins(probs, y, n_bins)
    gap = (r["accuracy"] - r["confidence"]).abs()
    return float(gap[r["count"] > 0].max())


def classwise_ece(probs, y, n_bins: int = 15) -> float:
    """Classwise ECE: the mean over classes k of the binned gap between p_k and
    the frequency of y = k (same bins as :func:`ece`, every class's probability,
    not just the top one).

    Returns
    -------
    float in [0, 1]
    """
    n_bins = _check_bins(n_bins)
    p = as_probabilities(probs)
    y = as_tensor(y, "y")
    check_labels(y, p.shape[0], p.shape[1])
    n, k = p.shape
    total = 0.0
    for c in range(k):
        pc = p[:, c]
        hit = (y == c).to(torch.float64)
        b = _bin_index(pc, n_bins)
        sp = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, b, pc)
        sh = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, b, hit)
        total += float((sp - sh).abs().sum()) / n
    return total / k


def adaptive_ece(probs, y, n_bins: int = 15) -> float:
    """ECE with equal-mass bins: samples sorted by confidence and split into
    ``n_bins`` groups of (nearly) equal size (``torch.tensor_split``).
    """
    n_bins = _check_bins(n_bins)
    p = as_probabilities(probs)
    y = as_tensor(y, "y")
    check_labels(y, p.shape[0], p.shape[1])
    conf, pred = p.max(dim=1)
    correct = (pred == y).to(torch.float64)
    order = torch.argsort(conf, stable=True)
    total = 0.0
    for idx in torch.tensor_split(order, n_bins):
        if len(idx):
            total += float((conf[idx] - correct[idx]).sum().abs())
    return total / p.shape[0]


def _logits_labels(logits, y) -> tuple[torch.Tensor, torch.Tensor]:
    z = as_tensor(logits, "logits")
    check_ndim(z, 2, "logits", "(n, K)")
    if not z.dtype.is_floating_point:
        raise TypeError(f"logits must be floating point, got {z.dtype}")
    z = z.to(torch.float64)
    check_finite(z, "logits")
    y = as_tensor(y, "y")
    check_labels(y, z.shape[0], z.shape[1])
    if z.shape[0] == 0:
        raise ValueError("logits is empty")
    return z, y.long()


def temperature_scale(logits, temperature: float) -> torch.Tensor:
    """softmax(z / T), shape (n, K), float64.  T > 0; the argmax never changes."""
    z = as_tensor(logits, "logits")
    check_ndim(z, 2, "logits", "(n, K)")
    if not float(temperature) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return torch.softmax(z.to(torch.float64) / float(temperature), dim=1)


def fit_temperature(logits, y) -> float:
    """The temperature T > 0 that minimises the NLL of softmax(z / T) on (logits, y).

    Fit on a *validation* split, never on the test split.  Optimises over
    t = log T (so T stays positive) with L-BFGS and a strong-Wolfe line search
    in float64; the optimum agrees with a bracketing scalar search to ~1e-6.
    The NLL is convex in 1/T, so the optimum is unique -- unless every
    prediction is right, when no finite optimum exists (``ValueError``).

    Parameters
    ----------
    logits : shape (n, K)
    y : shape (n,), int labels

    Returns
    -------
    float, T
    """
    z, y = _logits_labels(logits, y)
    if bool((z.argmax(dim=1) == y).all()):
        raise ValueError(
            "every prediction on this split is right, so the NLL keeps falling as "
            "T -> 0 and has no minimum; was the model trained on this split?"
        )
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [t],
        lr=1.0,
        max_iter=200,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z * torch.exp(-t), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(torch.exp(t.detach()))
