"""L13 -- group fairness of binary classifiers: demographic parity, equalised odds.

A binary classifier's predictions ``y_pred`` are compared across the groups of
a sensitive attribute ``groups`` (any number of groups; labels may be integers
or strings):

- :func:`group_rates`: per group its size, base rate P(y = 1 | a), selection
  rate P(y_hat = 1 | a), true positive rate and false positive rate;
- :func:`demographic_parity_difference` and :func:`equalized_odds_difference`:
  the largest minus the smallest group rate, as fairlearn 0.15 defines them
  (``method="between_groups"``; equalised odds takes the larger of the TPR gap
  and the FPR gap, ``agg="worst_case"``);
- post-processing with one threshold per group (Hardt et al. 2016, without
  their randomisation): :func:`group_thresholds` finds thresholds that give
  every group the same selection rate (or TPR, or FPR),
  :func:`apply_group_thresholds` applies them, and :func:`threshold_sweep`
  measures accuracy and both gaps while one group's threshold moves.

Conventions: labels and predictions are 0/1 (or bool); groups are ordered as
``numpy.unique`` sorts their labels; thresholds are passed as a dict
``{group label: threshold}`` so that a split that lacks a group cannot shift
the others; a sample is predicted positive iff its score is ``>=`` its group's
threshold.  A rate that is undefined (TPR of a group without positives, FPR of
a group without negatives) is ``nan`` in :func:`group_rates` and an error in
the differences: fairlearn silently counts it as 0, which can hide or invent a
gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tmlbook.checks import as_binary, as_group_labels, as_vector, check_number

CRITERIA = ("selection_rate", "tpr", "fpr")


@dataclass(frozen=True)
class GroupRates:
    """Per-group rates of binary predictions (see :func:`group_rates`).

    Attributes
    ----------
    labels : numpy.ndarray, shape (G,)
        The distinct group labels, sorted; row ``j`` of every rate is group
        ``labels[j]``.
    n : torch.Tensor, shape (G,), int64
        Samples per group.
    base_rate : torch.Tensor, shape (G,), float64
        P(y = 1 | a = g).
    selection_rate : torch.Tensor, shape (G,), float64
        P(y_hat = 1 | a = g).
    tpr : torch.Tensor, shape (G,), float64
        P(y_hat = 1 | y = 1, a = g); ``nan`` for a group without positives.
    fpr : torch.Tensor, shape (G,), float64
        P(y_hat = 1 | y = 0, a = g); ``nan`` for a group without negatives.
    """

    labels: np.ndarray
    n: torch.Tensor
    base_rate: torch.Tensor
    selection_rate: torch.Tensor
    tpr: torch.Tensor
    fpr: torch.Tensor


def _binary_inputs(y_true, y_pred, groups):
    """Validated (y_true, y_pred) as bool tensors (n,), group codes and labels."""
    y_true = as_binary(y_true, "y_true")
    n = int(y_true.shape[0])
    if n == 0:
        raise ValueError("y_true is empty")
    y_pred = as_binary(y_pred, "y_pred", n)
    codes, labels = as_group_labels(groups, n)
    return y_true.cpu(), y_pred.cpu(), codes, labels


def _rate(hits: torch.Tensor, mask: torch.Tensor, codes: torch.Tensor, n_groups):
    """Per group: the fraction of ``hits`` among the ``mask`` samples; nan if none."""
    num = torch.bincount(codes[mask & hits], minlength=n_groups).double()
    den = torch.bincount(codes[mask], minlength=n_groups).double()
    return torch.where(den > 0, num / den.clamp(min=1), torch.nan)


def group_rates(y_true, y_pred, groups) -> GroupRates:
    """Base, selection, true positive and false positive rate of every group.

    Parameters
    ----------
    y_true : array or tensor, shape (n,), values in {0, 1} (or bool)
    y_pred : array or tensor, shape (n,), values in {0, 1} (or bool)
        Hard predictions, not scores: threshold scores first.
    groups : array or tensor, shape (n,)
        The sensitive attribute: integer, string or bool labels.

    Returns
    -------
    GroupRates
        Rates of shape (G,) for the G distinct labels in sorted order.
    """
    y_true, y_pred, codes, labels = _binary_inputs(y_true, y_pred, groups)
    n_groups = len(labels)
    everyone = torch.ones_like(y_true)
    return GroupRates(
        labels=labels,
        n=torch.bincount(codes, minlength=n_groups),
        base_rate=_rate(y_true, everyone, codes, n_groups),
        selection_rate=_rate(y_pred, everyone, codes, n_groups),
        tpr=_rate(y_pred, y_true, codes, n_groups),
        fpr=_rate(y_pred, ~y_true, codes, n_groups),
    )


def _gap(rate: torch.Tensor, labels: np.ndarray, what: str) -> float:
    """max - min of a per-group rate; raise if it is undefined for some group."""
    missing = torch.isnan(rate)
    if missing.any():
        label = labels.tolist()[int(torch.nonzero(missing)[0, 0])]
        kind = "true" if what == "positives" else "false"
        raise ValueError(
            f"group {label!r} has no {what}: its {kind} positive rate is undefined, "
            "and so is the equalised-odds difference; drop the group or collect "
            "such samples (fairlearn would silently count the rate as 0)"
        )
    return float(rate.max() - rate.min())


def demographic_parity_difference(y_true, y_pred, groups) -> float:
    """Largest minus smallest selection rate over the groups.

    DP = max_g P(y_hat = 1 | a = g) - min_g P(y_hat = 1 | a = g), which is 0
    iff every group is selected at the same rate.  With two groups it is
    ``|P(y_hat = 1 | a = 0) - P(y_hat = 1 | a = 1)|``.  Equals
    ``fairlearn.metrics.demographic_parity_difference`` with its default
    ``method="between_groups"``.  ``y_true`` is not used by the formula; it is
    taken (and checked) to keep the signature of the other metrics.

    Parameters
    ----------
    y_true : array or tensor, shape (n,), values in {0, 1}
    y_pred : array or tensor, shape (n,), values in {0, 1}
    groups : array or tensor, shape (n,), any labels

    Returns
    -------
    float in [0, 1]
        0 if there is only one group.
    """
    rates = group_rates(y_true, y_pred, groups)
    return float(rates.selection_rate.max() - rates.selection_rate.min())


def equalized_odds_difference(y_true, y_pred, groups) -> float:
    """The larger of the TPR gap and the FPR gap over the groups.

    EO = max(max_g TPR_g - min_g TPR_g, max_g FPR_g - min_g FPR_g), 0 iff the
    predictions are independent of the group given the true label (Hardt et
    al. 2016).  Equals ``fairlearn.metrics.equalized_odds_difference`` with its
    defaults (``method="between_groups"``, ``agg="worst_case"``) whenever every
    group has positives and negatives.

    Parameters
    ----------
    y_true : array or tensor, shape (n,), values in {0, 1}
    y_pred : array or tensor, shape (n,), values in {0, 1}
    groups : array or tensor, shape (n,), any labels

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        If a group has no positives (its TPR is undefined) or no negatives (its
        FPR is undefined).  fairlearn returns a number there: its confusion
        matrix turns 0/0 into a rate of 0.
    """
    rates = group_rates(y_true, y_pred, groups)
    tpr_gap = _gap(rates.tpr, rates.labels, "positives")
    fpr_gap = _gap(rates.fpr, rates.labels, "negatives")
    return max(tpr_gap, fpr_gap)


def _scores_and_groups(scores, groups):
    scores = as_vector(scores, "scores")
    if scores.shape[0] == 0:
        raise ValueError("scores is empty")
    codes, labels = as_group_labels(groups, int(scores.shape[0]))
    return scores, codes, labels


def group_thresholds(
    scores, y_true, groups, rate: float, criterion: str = "selection_rate"
) -> dict:
    """One threshold per group that gives every group the same rate.

    For group g let S_g be the samples the criterion counts: all of the
    group (``"selection_rate"``, demographic parity), its positives (``"tpr"``,
    equal opportunity) or its negatives (``"fpr"``).  With the m scores of S_g
    sorted from high to low, s_(1) >= ... >= s_(m), and k = ceil(rate * m), the
    threshold is t_g = s_(k): predicting 1 iff score >= t_g selects k of the m
    samples (more if scores tie at t_g).  k = 0 gives t_g = +inf.

    Parameters
    ----------
    scores : array or tensor, shape (n,), finite
        Higher means "more likely positive" (e.g. P(y = 1 | x)).
    y_true : array or tensor, shape (n,), values in {0, 1}
        Used by the ``"tpr"`` and ``"fpr"`` criteria (and checked always).
    groups : array or tensor, shape (n,), any labels
    rate : float in [0, 1]
        The rate every group should reach.
    criterion : {"selection_rate", "tpr", "fpr"}

    Returns
    -------
    dict
        ``{group label: threshold}`` for every group, in sorted label order.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    rate = check_number(rate, "rate")
    if rate > 1:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    scores, codes, labels = _scores_and_groups(scores, groups)
    y_true = as_binary(y_true, "y_true", int(scores.shape[0])).cpu()
    counted = {"selection_rate": torch.ones_like(y_true), "tpr": y_true}
    counted = counted.get(criterion, ~y_true)
    out = {}
    for j, label in enumerate(labels.tolist()):
        s = scores[(codes == j) & counted]
        if s.numel() == 0:
            what = {"tpr": "positives", "fpr": "negatives"}[criterion]
            raise ValueError(
                f"group {label!r} has no {what}: cannot set its {criterion}"
            )
        k = math.ceil(round(rate * s.numel(), 9))  # round: 0.3 * 10 is not 3.0
        s_sorted = torch.sort(s, descending=True).values
        out[label] = float(s_sorted[k - 1]) if k > 0 else math.inf
    return out


def apply_group_thresholds(scores, groups, thresholds: dict) -> torch.Tensor:
    """Predict 1 iff a sample's score is >= the threshold of its group.

    Parameters
    ----------
    scores : array or tensor, shape (n,), finite
    groups : array or tensor, shape (n,), any labels
    thresholds : dict
        ``{group label: threshold}``; must cover every group in ``groups``.

    Returns
    -------
    torch.Tensor, shape (n,), int64 in {0, 1}
    """
    if not isinstance(thresholds, dict):
        raise TypeError(
            f"thresholds must be a dict {{group label: threshold}}, "
            f"got {type(thresholds).__name__}"
        )
    scores, codes, labels = _scores_and_groups(scores, groups)
    missing = [label for label in labels.tolist() if label not in thresholds]
    if missing:
        raise ValueError(f"thresholds has no entry for the groups {missing}")
    t = torch.tensor(
        [float(thresholds[label]) for label in labels.tolist()], dtype=torch.float64
    )
    if torch.isnan(t).any():
        raise ValueError("thresholds must not be NaN")
    return (scores >= t[codes]).long()


def threshold_sweep(
    scores, y_true, groups, thresholds: dict, group, grid
) -> dict[str, np.ndarray]:
    """Accuracy and both fairness gaps while one group's threshold moves.

    Every other group keeps its threshold from ``thresholds``; the threshold of
    ``group`` takes each value of ``grid`` in turn.

    Parameters
    ----------
    scores : array or tensor, shape (n,), finite
    y_true : array or tensor, shape (n,), values in {0, 1}
    groups : array or tensor, shape (n,), any labels
    thresholds : dict
        ``{group label: threshold}`` for every group.
    group : a group label
        The group whose threshold moves.
    grid : array, shape (T,), finite
        Its thresholds.

    Returns
    -------
    dict of str -> numpy.ndarray of shape (T,)
        ``"threshold"``, ``"accuracy"``, ``"dp"`` (demographic parity
        difference) and ``"eo"`` (equalised odds difference).
    """
    if not isinstance(thresholds, dict) or group not in thresholds:
        raise ValueError(f"thresholds must be a dict with an entry for group {group!r}")
    grid = as_vector(grid, "grid").numpy()
    y_true = as_binary(y_true, "y_true").cpu()
    rows = {"threshold": grid, "accuracy": [], "dp": [], "eo": []}
    for t in grid:
        y_pred = apply_group_thresholds(scores, groups, {**thresholds, group: t})
        rows["accuracy"].append(float((y_pred.bool() == y_true).double().mean()))
        rows["dp"].append(demographic_parity_difference(y_true, y_pred, groups))
        rows["eo"].append(equalized_odds_difference(y_true, y_pred, groups))
    return {key: np.asarray(value, dtype=np.float64) for key, value in rows.items()}
