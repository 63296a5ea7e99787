"""L9 -- kinds of uncertainty and proper scoring.

Confidence scores c(x) from a probability vector (MSP, entropy, margin), proper
scoring rules (log, Brier) and an improper one (linear), the entropy
decomposition of a stack of predictive samples, and risk--coverage curves for
selective prediction.

Conventions: probabilities have shape (n, K), a stack of S samples (S, n, K);
logarithms are natural (nats); ``0 log 0 = 0``.
"""

from __future__ import annotations

import torch

from tmlbook.checks import (
    as_binary,
    as_probabilities,
    as_tensor,
    as_vector,
    check_labels,
)


def _xlogx(p: torch.Tensor) -> torch.Tensor:
    """p log p with 0 log 0 = 0."""
    return torch.where(p > 0, p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p))


def max_softmax(probs) -> torch.Tensor:
    """Maximum softmax probability (MSP), the top-label confidence.

    Parameters
    ----------
    probs : shape (n, K), rows sum to 1

    Returns
    -------
    torch.Tensor, shape (n,), float64 in [1/K, 1]
    """
    return as_probabilities(probs).max(dim=1).values


def entropy(probs) -> torch.Tensor:
    """Shannon entropy H[p] = -sum_k p_k log p_k in nats (higher = less certain).

    Parameters
    ----------
    probs : shape (n, K)

    Returns
    -------
    torch.Tensor, shape (n,), float64 in [0, log K]
    """
    return -_xlogx(as_probabilities(probs)).sum(dim=1)


def margin(probs) -> torch.Tensor:
    """Top-1 minus top-2 probability (higher = more certain).

    Parameters
    ----------
    probs : shape (n, K) with K >= 2

    Returns
    -------
    torch.Tensor, shape (n,), float64 in [0, 1]
    """
    p = as_probabilities(probs)
    if p.shape[1] < 2:
        raise ValueError("margin needs at least K = 2 classes")
    top = p.topk(2, dim=1).values
    return top[:, 0] - top[:, 1]


def _probs_labels(probs, y) -> tuple[torch.Tensor, torch.Tensor]:
    p = as_probabilities(probs)
    y = as_tensor(y, "y")
    check_labels(y, p.shape[0], p.shape[1])
    if p.shape[0] == 0:
        raise ValueError("probs is empty: a score needs at least one sample")
    return p, y.long()


def nll(probs, y) -> float:
    """Mean negative log-likelihood (log score) in nats.

    ``-mean_i log p_i[y_i]``; a probability of exactly 0 on the true class
    gives ``inf`` (no clipping: the log score punishes certainty that is wrong
    without limit).

    Parameters
    ----------
    probs : shape (n, K)
    y : shape (n,), int labels in [0, K)

    Returns
    -------
    float
    """
    p, y = _probs_labels(probs, y)
    py = p[torch.arange(p.shape[0]), y]
    return float(-torch.log(py).mean())


def perplexity(probs, y) -> float:
    """exp(NLL): the effective number of equally likely choices, in [1, inf)."""
    return float(torch.exp(torch.tensor(nll(probs, y))))


def brier_score(probs, y) -> float:
    """Multi-class Brier score: mean over samples of sum_k (p_k - 1[y = k])^2.

    Range [0, 2].  Not halved (scikit-learn's ``brier_score_loss`` with
    ``labels=`` agrees; it halves binary scores only).

    Parameters
    ----------
    probs : shape (n, K)
    y : shape (n,), int labels

    Returns
    -------
    float
    """
    p, y = _probs_labels(probs, y)
    onehot = torch.nn.functional.one_hot(y, p.shape[1]).to(p.dtype)
    return float(((p - onehot) ** 2).sum(dim=1).mean())


def linear_score(probs, y) -> float:
    """The linear score 1 - p[y] (mean over samples): an *improper* rule.

    Its expectation under a true distribution q is minimised by putting all
    mass on the most likely class, not by reporting q.
    """
    p, y = _probs_labels(probs, y)
    return float((1 - p[torch.arange(p.shape[0]), y]).mean())


def predictive_entropy(probs) -> torch.Tensor:
    """Total uncertainty H[E_s p_s] of a stack of predictive samples.

    Parameters
    ----------
    probs : shape (S, n, K): S samples (ensemble members, dropout masks, ...)

    Returns
    -------
    torch.Tensor, shape (n,), float64, nats
    """
    p = as_probabilities(probs, ndim=3)
    return -_xlogx(p.mean(dim=0)).sum(dim=1)


def expected_entropy(probs) -> torch.Tensor:
    """Aleatoric part E_s H[p_s] of a stack (S, n, K); shape (n,), nats."""
    p = as_probabilities(probs, ndim=3)
    return (-_xlogx(p).sum(dim=2)).mean(dim=0)


def mutual_information(probs) -> torch.Tensor:
    """Epistemic part H[E p] - E H[p] of a stack (S, n, K); shape (n,), >= 0.

    Tiny negative values from rounding are clipped to 0.
    """
    return (predictive_entropy(probs) - expected_entropy(probs)).clamp_min(0.0)


def risk_coverage(confidence, correct) -> tuple[torch.Tensor, torch.Tensor]:
    """Risk--coverage curve of selective prediction.

    Predictions are accepted in decreasing order of ``confidence``; after
    accepting m of n, coverage is m/n and risk is the error rate among the
    accepted.  Within a group of tied confidences the order is unknown, so the
    errors of the group are spread evenly over it (the expected risk under a
    random order): a constant confidence gives a flat curve at the error rate.

    Parameters
    ----------
    confidence : shape (n,), higher = more confident
    correct : shape (n,), bool or {0, 1}

    Returns
    -------
    coverage, risk : torch.Tensor, each shape (n,), float64
    """
    c = as_vector(confidence, "confidence")
    n = c.shape[0]
    if n == 0:
        raise ValueError("confidence is empty")
    err = (~as_binary(correct, "correct", n)).to(torch.float64)
    order = torch.argsort(-c, stable=True)
    c, err = c[order], err[order]
    # tie groups: positions where the confidence changes
    new = torch.ones(n, dtype=torch.bool)
    new[1:] = c[1:] != c[:-1]
    group = torch.cumsum(new.long(), 0) - 1
    n_groups = int(group[-1]) + 1
    g_err = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, group, err)
    g_size = torch.zeros(n_groups, dtype=torch.float64).index_add_(
        0, group, torch.ones(n, dtype=torch.float64)
    )
    g_start = torch.cumsum(g_size, 0) - g_size  # samples before each group
    e_before = torch.cumsum(g_err, 0) - g_err
    m = torch.arange(1, n + 1, dtype=torch.float64)
    within = m - g_start[group]
    expected_errors = e_before[group] + within * (g_err / g_size)[group]
    return m / n, expected_errors / m


def aurc(confidence, correct) -> float:
    """Area under the risk--coverage curve: the mean risk over the n coverages.

    Lower is better; a constant confidence gives the error rate, a perfect
    ranking gives the smallest value attainable at that error rate.
    """
    _, risk = risk_coverage(confidence, correct)
    return float(risk.mean())
