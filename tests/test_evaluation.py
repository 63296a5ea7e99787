"""tmlbook.evaluation against independent references.

McNemar: scipy's chi-squared tail, the closed form erfc(sqrt(x / 2)) and hand
cases; bootstrap: a plain reference loop and a coverage simulation; random
search: determinism, the budget counter and the ranges; Ladder: hand-computed
sequences; contamination: injected copies of test digits.
"""

import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from tmlbook.data import load_digits_splits
from tmlbook.evaluation import (
    expected_best,
    find_duplicates,
    ladder_release,
    mcnemar_test,
    paired_bootstrap_ci,
    random_search,
    sample_configurations,
)


def _paired(b, c, both_right=0, both_wrong=0):
    """Correctness vectors with b (A right, B wrong) and c (A wrong, B right)."""
    a = [1] * b + [0] * c + [1] * both_right + [0] * both_wrong
    bb = [0] * b + [1] * c + [1] * both_right + [0] * both_wrong
    return np.array(a), np.array(bb)


# --- McNemar ----------------------------------------------------------------


@pytest.mark.parametrize("b,c", [(10, 2), (3, 9), (1, 0), (5, 5), (40, 25), (0, 7)])
def test_mcnemar_matches_scipy_and_the_closed_form(b, c):
    ra, rb = _paired(b, c, both_right=30, both_wrong=4)
    res = mcnemar_test(ra, rb)
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    assert (res.b, res.c) == (b, c)
    assert res.statistic == pytest.approx(stat, abs=1e-12)
    assert abs(res.p_value - chi2.sf(stat, 1)) <= 1e-12
    # chi^2 with one degree of freedom: P(X >= x) = erfc(sqrt(x / 2))
    assert abs(res.p_value - math.erfc(math.sqrt(stat / 2))) <= 1e-12


def test_mcnemar_hand_cases():
    # b = 10, c = 2: (8 - 1)^2 / 12 = 49 / 12; statsmodels' mcnemar(exact=False)
    # gives the same statistic and a p-value of 0.0433 (to 4 digits)
    stat, p, b, c = mcnemar_test(*_paired(10, 2))
    assert stat == pytest.approx(49 / 12, abs=1e-12)
    assert round(p, 4) == 0.0433
    # b = c: the corrected statistic is 1 / (b + c), not 0
    stat, p, _, _ = mcnemar_test(*_paired(5, 5))
    assert stat == pytest.approx(0.1, abs=1e-12)


def test_mcnemar_without_discordant_pairs_and_symmetry():
    assert tuple(mcnemar_test([1, 0, 1], [1, 0, 1])) == (0.0, 1.0, 0, 0)
    ra, rb = _paired(7, 3, both_right=5)
    ab, ba = mcnemar_test(ra, rb), mcnemar_test(rb, ra)
    assert (ab.b, ab.c) == (ba.c, ba.b) and ab.p_value == ba.p_value


def test_mcnemar_accepts_tensors_and_bools():
    ra, rb = _paired(6, 1)
    res = mcnemar_test(torch.from_numpy(ra == 1), torch.from_numpy(rb))
    assert (res.b, res.c) == (6, 1)


def test_mcnemar_bad_input():
    with pytest.raises(ValueError, match="length"):
        mcnemar_test([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="binary"):
        mcnemar_test([1, 2], [1, 0])
    with pytest.raises(ValueError, match="empty"):
        mcnemar_test([], [])


# --- paired bootstrap -------------------------------------------------------


def _reference_bootstrap(a, b, n_resamples, level, seed):
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(a), size=len(a))
        total = 0.0
        for i in idx:
            total += a[i] - b[i]
        deltas.append(total / len(a))
    deltas = np.sort(np.array(deltas))
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2

    def quantile(q):  # linear interpolation between order statistics
        pos = q * (n_resamples - 1)
        k = math.floor(pos)
        nxt = deltas[min(k + 1, n_resamples - 1)]
        return deltas[k] + (pos - k) * (nxt - deltas[k])

    return quantile(lo_q), quantile(hi_q), deltas


def test_bootstrap_endpoints_equal_a_reference_loop():
    rng = np.random.default_rng(5)
    a = (rng.random(200) < 0.8).astype(float)
    b = (rng.random(200) < 0.7).astype(float)
    res = paired_bootstrap_ci(a, b, n_resamples=500, level=0.9, seed=3)
    lo, hi, deltas = _reference_bootstrap(a, b, 500, 0.9, 3)
    assert abs(res.low - lo) <= 1e-12 and abs(res.high - hi) <= 1e-12
    np.testing.assert_allclose(np.sort(res.deltas), deltas, atol=1e-12)
    assert res.estimate == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert res.low <= res.estimate <= res.high


def test_bootstrap_is_seeded_and_paired():
    a = np.random.default_rng(1).random(50)
    r1, r2 = paired_bootstrap_ci(a, a * 0.5), paired_bootstrap_ci(a, a * 0.5)
    np.testing.assert_array_equal(r1.deltas, r2.deltas)
    # identical models: every paired resample gives a difference of exactly 0
    same = paired_bootstrap_ci(a, a, n_resamples=100)
    assert same.low == same.high == 0.0


def test_bootstrap_ci_covers_the_true_difference():
    """Coverage in a simulation: a 90 % CI covers the true difference ~90 %."""
    rng = np.random.default_rng(0)
    n, reps, covered = 300, 200, 0
    for r in range(reps):
        # paired correctness: a shared difficulty makes the two correlated
        easy = rng.random(n) < 0.7
        a = easy | (rng.random(n) < 0.3)  # P(right) = 0.79
        b = easy | (rng.random(n) < 0.2)  # P(right) = 0.76
        res = paired_bootstrap_ci(a, b, n_resamples=400, level=0.9, seed=r)
        covered += res.low <= 0.03 <= res.high
    assert 0.82 <= covered / reps <= 0.97


def test_bootstrap_bad_input():
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap_ci([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="at least 2"):
        paired_bootstrap_ci([1.0], [0.0])
    with pytest.raises(ValueError, match="n_resamples"):
        paired_bootstrap_ci([1, 0], [0, 1], n_resamples=0)
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap_ci([1, 0], [0, 1], level=1.0)
    with pytest.raises(ValueError, match="NaN"):
        paired_bootstrap_ci([1, float("nan")], [0, 1])
    with pytest.raises(ValueError, match="seed"):
        paired_bootstrap_ci([1, 0], [0, 1], seed=-1)


# --- random search ----------------------------------------------------------

SPACE = {"lr": (1e-4, 1e-1, "log"), "dropout": (0.0, 0.5, "uniform")}


def test_random_search_draws_the_reference_configurations():
    rng = np.random.default_rng(7)
    ref = []
    for _ in range(8):
        lr = math.exp(rng.uniform(math.log(1e-4), math.log(1e-1)))
        ref.append({"lr": lr, "dropout": rng.uniform(0.0, 0.5)})
    got = sample_configurations(SPACE, 8, seed=7)
    assert got == ref
    assert sample_configurations(SPACE, 3, seed=7) == ref[:3]
    assert sample_configurations(SPACE, 8, seed=8) != ref


def test_random_search_counts_the_budget_exactly_and_picks_the_best():
    calls = []

    def objective(config):
        calls.append(config)
        return -abs(math.log10(config["lr"]) + 2.5)  # best near lr = 10^-2.5

    res = random_search(objective, SPACE, budget=8, seed=0)
    assert len(calls) == 8 and res.n_evaluations == 8 and len(res.trials) == 8
    assert [c for c, _ in res.trials] == sample_configurations(SPACE, 8, seed=0)
    assert res.best_score == max(s for _, s in res.trials)
    assert objective(res.best_config) == res.best_score
    again = random_search(objective, SPACE, budget=8, seed=0)
    assert again.trials == res.trials


def test_log_uniform_samples_lie_in_range_and_are_uniform_in_log():
    configs = sample_configurations({"wd": (1e-6, 1e-2, "log")}, 4000, seed=0)
    wd = np.array([c["wd"] for c in configs])
    assert wd.min() >= 1e-6 and wd.max() <= 1e-2
    # a quarter of the log range, 1e-6..1e-5, holds about a quarter of the draws
    assert abs(np.mean(wd < 1e-5) - 0.25) < 0.03


def test_random_search_ties_keep_the_first():
    res = random_search(lambda c: 1.0, SPACE, budget=4, seed=0)
    assert res.best_config == res.trials[0][0]


def test_random_search_bad_input():
    with pytest.raises(ValueError, match="budget"):
        random_search(lambda c: 0.0, SPACE, budget=0)
    with pytest.raises(ValueError, match="low > 0"):
        sample_configurations({"lr": (0.0, 1.0, "log")}, 2)
    with pytest.raises(ValueError, match="low < high"):
        sample_configurations({"lr": (1.0, 0.1, "uniform")}, 2)
    with pytest.raises(ValueError, match="scale"):
        sample_configurations({"lr": (0.1, 1.0, "loguniform")}, 2)
    with pytest.raises(ValueError, match="non-empty"):
        sample_configurations({}, 2)
    with pytest.raises(ValueError, match="nan"):
        random_search(lambda c: float("nan"), SPACE, budget=2)
    with pytest.raises(TypeError, match="callable"):
        random_search(0.5, SPACE, budget=2)


# --- Ladder -----------------------------------------------------------------


def test_ladder_matches_a_hand_computed_sequence():
    scores = [0.50, 0.505, 0.52, 0.515, 0.534, 0.60, 0.59]
    # R: 0.50 (first); 0.505 not > 0.51; 0.52 > 0.51 -> 0.52; 0.515 no;
    # 0.534 > 0.53 -> round to 0.53; 0.60 > 0.54 -> 0.60; 0.59 no
    expected = [0.50, 0.50, 0.52, 0.52, 0.53, 0.60, 0.60]
    np.testing.assert_allclose(ladder_release(scores, 0.01), expected, atol=1e-12)


def test_ladder_for_losses():
    losses = [0.40, 0.395, 0.37, 0.362, 0.30]
    # R: 0.40; 0.395 not < 0.39; 0.37 -> 0.37; 0.362 not < 0.36; 0.30 -> 0.30
    expected = [0.40, 0.40, 0.37, 0.37, 0.30]
    got = ladder_release(losses, 0.01, higher_is_better=False)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_ladder_released_scores_never_fall_and_are_multiples_of_eta():
    scores = np.random.default_rng(0).random(200)
    rel = ladder_release(scores, 0.02)
    assert np.all(np.diff(rel) >= 0)
    np.testing.assert_allclose(rel / 0.02, np.round(rel / 0.02), atol=1e-9)


def test_ladder_bad_input():
    with pytest.raises(ValueError, match="eta"):
        ladder_release([0.5, 0.6], 0.0)
    with pytest.raises(ValueError, match="NaN"):
        ladder_release([0.5, float("nan")], 0.01)
    with pytest.raises(ValueError, match="shape"):
        ladder_release([[0.5]], 0.01)


# --- contamination ----------------------------------------------------------


def test_hashing_finds_exactly_the_injected_test_digits():
    splits = load_digits_splits()
    test_x = splits.test.X
    rng = np.random.default_rng(0)
    injected = np.sort(rng.choice(len(test_x), size=15, replace=False))
    # copies that went through a float64 round trip with tiny noise
    copies = test_x[injected].double() + 1e-7 * torch.randn(15, 64, dtype=torch.float64)
    train_x = torch.cat([splits.train_full.X.double(), copies])
    train_x = train_x[torch.from_numpy(rng.permutation(len(train_x)))]
    found = find_duplicates(train_x, test_x, decimals=4)
    hit = set(found.test_index.tolist())
    true = set(injected.tolist())
    precision = len(hit & true) / len(hit)
    recall = len(hit & true) / len(true)
    assert precision == 1.0 and recall == 1.0
    np.testing.assert_allclose(
        train_x[found.train_index].numpy(),
        test_x[found.test_index].numpy(),
        atol=1e-6,
    )
    # the clean training split shares no digit with the test split
    assert len(find_duplicates(splits.train_full.X, test_x).test_index) == 0


def test_hashing_treats_minus_zero_as_zero():
    found = find_duplicates(np.array([[0.0, 1.0]]), np.array([[-0.0, 1.0]]))
    assert found.test_index.tolist() == [0] and found.train_index.tolist() == [0]


def test_find_duplicates_bad_input():
    with pytest.raises(ValueError, match="features"):
        find_duplicates(np.zeros((3, 4)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="shape"):
        find_duplicates(np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="empty"):
        find_duplicates(np.zeros((0, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="decimals"):
        find_duplicates(np.zeros((1, 3)), np.zeros((2, 3)), decimals=-1)


# --- expected best of k trials ------------------------------------------------


def test_expected_best_equals_brute_force_enumeration():
    import itertools

    scores = np.array([0.3, 0.9, 0.5, 0.5])
    for k in (1, 2, 3):
        tuples = itertools.product(scores, repeat=k)
        brute = np.mean([max(t) for t in tuples])
        assert expected_best(scores, k)[0] == pytest.approx(brute, abs=1e-12)
    curve = expected_best(scores, [1, 2, 4, 8, 64])
    assert curve[0] == pytest.approx(scores.mean(), abs=1e-12)
    assert np.all(np.diff(curve) > 0) and curve[-1] <= scores.max()


def test_expected_best_bad_input():
    with pytest.raises(ValueError, match="budgets"):
        expected_best([0.1, 0.2], [1, 0])
    with pytest.raises(ValueError, match="budgets"):
        expected_best([0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match="empty"):
        expected_best([], 1)
