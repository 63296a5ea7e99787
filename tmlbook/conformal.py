"""L12 -- split conformal prediction for classification (LAC and APS).

Split conformal: score a held-out calibration set, take the conformal
quantile q^ = the k-th smallest score with k = ceil((n + 1)(1 - alpha)), and
predict the set of labels whose score is at most q^.  Under exchangeability
the set contains the true label with probability >= 1 - alpha (and, for
continuous scores, < 1 - alpha + 1/(n + 1)).
"""

from __future__ import annotations

import math

import torch

from tmlbook.checks import (
    as_probabilities,
    as_tensor,
    as_vector,
    check_alpha,
    check_labels,
)


def conformal_quantile(scores, alpha: float) -> float:
    """The k-th smallest of n calibration scores, k = ceil((n + 1)(1 - alpha)).

    Returns ``+inf`` when k > n (too few calibration points for this alpha:
    every label enters the set).  (n + 1)(1 - alpha) is rounded to 9 decimals
    before the ceiling, so that e.g. n = 99, alpha = 0.1 gives k = 90, not the
    91 that floating-point 100 * 0.9 = 90.00000000000001 would give.

    Parameters
    ----------
    scores : shape (n,), finite
    alpha : float in (0, 1)

    Returns
    -------
    float
    """
    alpha = check_alpha(alpha)
    s = as_vector(scores, "scores")
    n = s.shape[0]
    if n == 0:
        raise ValueError("scores is empty: conformal prediction needs calibration data")
    k = math.ceil(round((n + 1) * (1 - alpha), 9))
    if k > n:
        return math.inf
    return float(torch.sort(s).values[k - 1])


def lac_scores(probs, y) -> torch.Tensor:
    """LAC (least ambiguous set) non-conformity score 1 - p[y]; shape (n,)."""
    p = as_probabilities(probs)
    y = as_tensor(y, "y")
    check_labels(y, p.shape[0], p.shape[1])
    return 1 - p[torch.arange(p.shape[0]), y.long()]


def lac_sets(probs, qhat: float) -> torch.Tensor:
    """Prediction sets {k : 1 - p_k <= q^}, i.e. p_k >= 1 - q^; bool (n, K).

    Sets can be *empty* (no class is probable enough): an honest "don't know".
    """
    p = as_probabilities(probs)
    q = float(qhat)
    if math.isnan(q):
        raise ValueError("qhat is NaN")
    return (1 - p) <= q


def aps_scores(probs, y=None, u=None) -> torch.Tensor:
    """Adaptive prediction sets (APS) scores.

    Classes are ranked by decreasing probability (ties by class index); the
    score of class k is the total mass of the classes ranked at or above k,
    *including k itself*.  With ``u`` (uniform draws in [0, 1], shape (n,))
    the randomised score subtracts u * p_k.  Without ``u`` it is deterministic.

    Parameters
    ----------
    probs : shape (n, K)
    y : shape (n,), optional -- if given, return the score of the true class
    u : shape (n,), optional

    Returns
    -------
    torch.Tensor, shape (n,) if ``y`` is given, else (n, K) (a score per class)
    """
    p = as_probabilities(probs)
    n, k = p.shape
    order = torch.argsort(-p, dim=1, stable=True)
    sorted_p = torch.gather(p, 1, order)
    cum_sorted = torch.cumsum(sorted_p, dim=1)
    cum = torch.empty_like(p).scatter_(1, order, cum_sorted)
    if u is not None:
        u = as_vector(u, "u", n)
        if ((u < 0) | (u > 1)).any():
            raise ValueError("u must hold uniform draws in [0, 1]")
        cum = cum - u[:, None] * p
    if y is None:
        return cum
    y = as_tensor(y, "y")
    check_labels(y, n, k)
    return cum[torch.arange(n), y.long()]


def aps_sets(probs, qhat: float, u=None) -> torch.Tensor:
    """APS prediction sets {k : APS score of k <= q^}; bool (n, K).

    Use the same ``u`` convention (given or not) as for calibration.
    """
    q = float(qhat)
    if math.isnan(q):
        raise ValueError("qhat is NaN")
    return aps_scores(probs, u=u) <= q


def coverage(sets, y) -> float:
    """Fraction of samples whose set contains the true label."""
    s = as_tensor(sets, "sets")
    if s.dtype != torch.bool or s.dim() != 2:
        raise ValueError("sets must be a bool tensor of shape (n, K)")
    y = as_tensor(y, "y")
    check_labels(y, s.shape[0], s.shape[1])
    return float(s[torch.arange(s.shape[0]), y.long()].double().mean())
