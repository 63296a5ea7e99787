"""L13 -- tmlbook.fairness: demographic parity, equalised odds, per-group thresholds.

References: fairlearn 0.15 (a test-only oracle) on random fixtures with 2 and 3
groups, hand-computed cases, invariances (permuting samples, relabelling
groups) and the closed form of a threshold that selects k of m samples.
"""

import math

import numpy as np
import pytest
import torch
from fairlearn.metrics import MetricFrame, true_positive_rate
from fairlearn.metrics import demographic_parity_difference as fl_dp
from fairlearn.metrics import equalized_odds_difference as fl_eo

from tmlbook.checks import as_group_labels
from tmlbook.fairness import (
    apply_group_thresholds,
    demographic_parity_difference,
    equalized_odds_difference,
    group_rates,
    group_thresholds,
    threshold_sweep,
)


def random_case(seed, n_groups, n=400):
    """Labels, predictions and groups whose rates differ by group."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, size=n)
    y_true = (rng.random(n) < 0.2 + 0.25 * groups).astype(int)
    p_pos = np.where(y_true == 1, 0.9 - 0.1 * groups, 0.1 + 0.1 * groups)
    y_pred = (rng.random(n) < p_pos).astype(int)
    return y_true, y_pred, groups


@pytest.mark.parametrize("n_groups", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_both_differences_equal_fairlearn(seed, n_groups):
    y_true, y_pred, groups = random_case(seed, n_groups)
    dp = demographic_parity_difference(y_true, y_pred, groups)
    eo = equalized_odds_difference(y_true, y_pred, groups)
    assert dp == pytest.approx(fl_dp(y_true, y_pred, sensitive_features=groups), 1e-12)
    assert eo == pytest.approx(fl_eo(y_true, y_pred, sensitive_features=groups), 1e-12)
    assert dp > 0.05 and eo > 0.05  # the fixture is unfair, so the test can bite


def test_string_groups_and_tensor_inputs_equal_fairlearn():
    y_true, y_pred, groups = random_case(7, 3)
    names = np.array(["north", "east", "south"])[groups]
    dp = demographic_parity_difference(
        torch.tensor(y_true), torch.tensor(y_pred).bool(), names
    )
    eo = equalized_odds_difference(y_true, y_pred, list(names))
    assert dp == pytest.approx(fl_dp(y_true, y_pred, sensitive_features=names), 1e-12)
    assert eo == pytest.approx(fl_eo(y_true, y_pred, sensitive_features=names), 1e-12)


def test_group_rates_by_hand():
    #        group a: 4 samples        group b: 4 samples
    y_true = [1, 1, 0, 0, 1, 0, 0, 0]
    y_pred = [1, 0, 1, 0, 1, 1, 1, 0]
    groups = ["a"] * 4 + ["b"] * 4
    r = group_rates(y_true, y_pred, groups)
    assert list(r.labels) == ["a", "b"]
    assert r.n.tolist() == [4, 4]
    assert r.base_rate.tolist() == [0.5, 0.25]
    assert r.selection_rate.tolist() == [0.5, 0.75]
    assert r.tpr.tolist() == [0.5, 1.0]
    assert r.fpr.tolist() == [0.5, 2 / 3]
    assert demographic_parity_difference(y_true, y_pred, groups) == 0.25
    # TPR gap 0.5 > FPR gap 1/6
    assert equalized_odds_difference(y_true, y_pred, groups) == 0.5


def test_a_perfect_classifier_with_unequal_base_rates():
    """Equalised odds holds exactly, demographic parity fails by the base-rate gap."""
    y_true = np.array([1, 1, 1, 0] + [1, 0, 0, 0])
    groups = np.array([0] * 4 + [1] * 4)
    assert equalized_odds_difference(y_true, y_true, groups) == 0.0
    assert demographic_parity_difference(y_true, y_true, groups) == 0.5


def test_constant_predictions_satisfy_both():
    y_true, _, groups = random_case(3, 3)
    for c in (0, 1):
        y_pred = np.full_like(y_true, c)
        assert demographic_parity_difference(y_true, y_pred, groups) == 0.0
        assert equalized_odds_difference(y_true, y_pred, groups) == 0.0


def test_one_group_has_no_gap():
    y_true, y_pred, _ = random_case(0, 2)
    ones = np.zeros(len(y_true), dtype=int)
    assert demographic_parity_difference(y_true, y_pred, ones) == 0.0
    assert equalized_odds_difference(y_true, y_pred, ones) == 0.0


@pytest.mark.parametrize("n_groups", [2, 3])
def test_invariant_to_permuting_samples_and_relabelling_groups(n_groups):
    y_true, y_pred, groups = random_case(11, n_groups)
    perm = np.random.default_rng(0).permutation(len(y_true))
    relabel = np.array([17, -3, 5])[groups]  # a new order of the sorted labels too
    for metric in (demographic_parity_difference, equalized_odds_difference):
        ref = metric(y_true, y_pred, groups)
        assert metric(y_true[perm], y_pred[perm], groups[perm]) == pytest.approx(ref)
        assert metric(y_true, y_pred, relabel) == pytest.approx(ref)


def test_a_group_without_positives_is_an_error_where_fairlearn_returns_zero():
    y_true = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    y_pred = np.array([0, 1, 1, 0, 0, 0, 0, 0])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert math.isnan(group_rates(y_true, y_pred, groups).tpr[1])
    with pytest.raises(ValueError, match="group 1 has no positives"):
        equalized_odds_difference(y_true, y_pred, groups)
    # fairlearn counts the undefined TPR of group 1 as 0, a gap of 0.5
    tpr = MetricFrame(
        metrics=true_positive_rate,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    ).by_group
    assert tpr.tolist() == [0.5, 0.0]
    assert fl_eo(y_true, y_pred, sensitive_features=groups) == 0.5
    # demographic parity needs no positives
    assert demographic_parity_difference(y_true, y_pred, groups) == 0.5


def test_a_group_without_negatives_is_an_error():
    y_true = np.array([0, 1, 1, 1])
    with pytest.raises(ValueError, match="group 'b' has no negatives"):
        equalized_odds_difference(y_true, [0, 1, 0, 1], ["a", "a", "b", "b"])


@pytest.mark.parametrize(
    "y_true, y_pred, groups, error, match",
    [
        ([0, 1, 2], [0, 1, 1], [0, 0, 1], ValueError, "y_true must hold binary"),
        ([0, 1, 1], [0.2, 0.9, 0.6], [0, 0, 1], ValueError, "y_pred must hold binary"),
        ([0, 1, 1], [0, 1], [0, 0, 1], ValueError, "y_pred must have length 3"),
        ([0, 1, 1], [0, 1, 1], [0, 1], ValueError, r"groups must have shape \(3,\)"),
        ([0, 1, 1], [0, 1, 1], [0.5, 1, 1], TypeError, "non-integer floats"),
        ([0, 1, 1], [0, 1, 1], [np.nan, 1, 1], ValueError, "NaN"),
        ([], [], [], ValueError, "empty"),
        ([[0, 1]], [[0, 1]], [0, 1], ValueError, r"shape \(n,\)"),
    ],
)
def test_bad_input_names_the_problem(y_true, y_pred, groups, error, match):
    for metric in (demographic_parity_difference, equalized_odds_difference):
        with pytest.raises(error, match=match):
            metric(y_true, y_pred, groups)


def test_group_labels_round_trip():
    labels = np.array(["b", "a", "c", "a"])
    codes, names = as_group_labels(labels, 4)
    assert codes.tolist() == [1, 0, 2, 0]
    assert (names[codes.numpy()] == labels).all()
    with pytest.raises(TypeError, match="cannot be sorted"):
        as_group_labels(np.array(["a", 1], dtype=object), 2)


def test_selection_rate_thresholds_select_k_of_m():
    rng = np.random.default_rng(0)
    scores = rng.random(300)
    groups = rng.integers(0, 3, size=300)
    y_true = (rng.random(300) < 0.5).astype(int)
    t = group_thresholds(scores, y_true, groups, rate=0.3)
    assert sorted(t) == [0, 1, 2]
    pred = apply_group_thresholds(scores, groups, t).numpy()
    for g in range(3):
        m = int((groups == g).sum())
        assert pred[groups == g].sum() == math.ceil(0.3 * m)  # no ties in the scores
        assert t[g] == np.sort(scores[groups == g])[::-1][math.ceil(0.3 * m) - 1]


def test_tpr_thresholds_equalise_the_true_positive_rate():
    y_true, _, groups = random_case(5, 3, n=600)
    scores = np.random.default_rng(1).random(600) + 0.5 * y_true
    t = group_thresholds(scores, y_true, groups, rate=0.8, criterion="tpr")
    pred = apply_group_thresholds(scores, groups, t)
    tpr = group_rates(y_true, pred, groups).tpr
    n_pos = [int(((groups == g) & (y_true == 1)).sum()) for g in range(3)]
    assert tpr.tolist() == pytest.approx([math.ceil(0.8 * m) / m for m in n_pos])


def test_threshold_edge_cases():
    scores, y_true, groups = [0.1, 0.9, 0.4, 0.6], [0, 1, 0, 1], ["a", "a", "b", "b"]
    assert group_thresholds(scores, y_true, groups, rate=0.0) == {
        "a": math.inf,
        "b": math.inf,
    }
    assert group_thresholds(scores, y_true, groups, rate=1.0) == {"a": 0.1, "b": 0.4}
    with pytest.raises(ValueError, match="criterion must be one of"):
        group_thresholds(scores, y_true, groups, rate=0.5, criterion="accuracy")
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\]"):
        group_thresholds(scores, y_true, groups, rate=1.5)
    with pytest.raises(ValueError, match="group 'a' has no negatives"):
        group_thresholds(scores, [1, 1, 0, 1], groups, rate=0.5, criterion="fpr")
    with pytest.raises(ValueError, match=r"no entry for the groups \['b'\]"):
        apply_group_thresholds(scores, groups, {"a": 0.5})
    with pytest.raises(TypeError, match="must be a dict"):
        apply_group_thresholds(scores, groups, [0.5, 0.5])


def test_sweep_matches_the_metrics_point_by_point():
    y_true, _, groups = random_case(2, 2)
    scores = np.random.default_rng(3).random(len(y_true)) + 0.4 * y_true
    base = {0: 0.7, 1: 0.7}
    grid = np.linspace(0.0, 1.4, 8)
    out = threshold_sweep(scores, y_true, groups, base, group=0, grid=grid)
    assert set(out) == {"threshold", "accuracy", "dp", "eo"}
    for i, t in enumerate(grid):
        pred = apply_group_thresholds(scores, groups, {0: t, 1: 0.7}).numpy()
        assert out["accuracy"][i] == pytest.approx((pred == y_true).mean())
        assert out["dp"][i] == pytest.approx(
            fl_dp(y_true, pred, sensitive_features=groups)
        )
        assert out["eo"][i] == pytest.approx(
            fl_eo(y_true, pred, sensitive_features=groups)
        )
    with pytest.raises(ValueError, match="entry for group 5"):
        threshold_sweep(scores, y_true, groups, base, group=5, grid=grid)
