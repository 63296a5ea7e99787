"""L1 -- foundations: empirical risk, cross-entropy and the generalisation gap."""

from __future__ import annotations

import torch
from torch import nn

from tmlbook.checks import as_tensor, check_finite, check_labels, check_ndim
from tmlbook.training import evaluate


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Numerically stable log-softmax over the last dimension.

    Uses log softmax(z)_k = z_k - m - log sum_j exp(z_j - m) with m = max_j z_j,
    so no exponential ever overflows.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, K)

    Returns
    -------
    torch.Tensor, shape (n, K)
    """
    logits = as_tensor(logits, "logits")
    check_ndim(logits, 2, "logits", "(n, K)")
    m = logits.max(dim=1, keepdim=True).values
    shifted = logits - m
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy, the empirical risk that ERM minimises.

    (1/n) sum_i -log softmax(f(x_i))_{y_i}, in nats.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, K)
        Unnormalised scores; any finite values.
    y : torch.Tensor, shape (n,)
        Integer labels in [0, K).

    Returns
    -------
    torch.Tensor, shape ()
    """
    logits = as_tensor(logits, "logits")
    y = as_tensor(y, "y")
    check_ndim(logits, 2, "logits", "(n, K)")
    check_finite(logits, "logits")
    check_labels(y, logits.shape[0], logits.shape[1])
    logp = log_softmax(logits)
    return -logp.gather(1, y.long().unsqueeze(1)).mean()


def zero_one_risk(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Empirical 0-1 risk (error rate) of ``model`` on (X, y).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,)

    Returns
    -------
    float in [0, 1]
    """
    return 1.0 - evaluate(model, X, y)


def generalisation_gap(model: nn.Module, train, test) -> float:
    """Test risk minus training risk, both under the 0-1 loss.

    Parameters
    ----------
    model : nn.Module
    train, test : (X, y) pairs
        For example :class:`tmlbook.data.Split` objects.

    Returns
    -------
    float
        R_test - R_train; positive when the model does worse on unseen data.
    """
    return zero_one_risk(model, *test) - zero_one_risk(model, *train)
