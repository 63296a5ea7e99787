"""L14: evaluating trustworthiness -- comparing models, fair tuning, leaderboards.

- :func:`paired_bootstrap_ci`  percentile CI for the difference of two models'
  mean per-sample scores (e.g. accuracy), resampling test indices
- :func:`mcnemar_test`         continuity-corrected McNemar test on paired
  right/wrong outcomes
- :func:`sample_configurations`, :func:`random_search`  random search over
  uniform and log-uniform ranges with an exactly counted budget
- :func:`expected_best`        expected best score of k random-search trials
- :func:`ladder_release`       the Ladder leaderboard of Blum & Hardt (2015)
- :func:`find_duplicates`      train-test contamination check by hashing
  rounded inputs

Everything here is numpy and scipy; tensors are accepted and converted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from tmlbook.checks import (
    as_binary,
    as_vector,
    check_alpha,
    check_int,
    check_matrix,
    check_number,
    check_same_features,
    check_seed,
)

# ---------------------------------------------------------------------------
# Comparing two models on the same test set
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapCI:
    """Result of :func:`paired_bootstrap_ci`: ``estimate, low, high, deltas``.

    Attributes
    ----------
    estimate : float
        The observed difference mean(scores_a) - mean(scores_b).
    low, high : float
        The percentile interval's endpoints.
    deltas : numpy.ndarray, shape (n_resamples,)
        The difference on each bootstrap resample.
    """

    estimate: float
    low: float
    high: float
    deltas: np.ndarray

    def __iter__(self):
        return iter((self.estimate, self.low, self.high, self.deltas))


def paired_bootstrap_ci(
    scores_a,
    scores_b,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Paired percentile-bootstrap CI for mean(scores_a) - mean(scores_b).

    Both models are scored on the *same* n test samples, so one resample of
    the test indices is applied to both (a paired bootstrap).  For accuracy,
    pass the 0/1 correctness of each prediction.

    Convention: a generator ``numpy.random.default_rng(seed)`` draws all
    indices at once as ``rng.integers(0, n, size=(n_resamples, n))`` (row b
    is resample b; this is the same stream as ``n_resamples`` calls of
    ``rng.integers(0, n, size=n)``).  The interval is the percentile interval
    ``numpy.quantile(deltas, [(1 - level) / 2, (1 + level) / 2])`` with
    numpy's default linear interpolation.

    Parameters
    ----------
    scores_a, scores_b : array or tensor, shape (n,), n >= 2, finite
        Per-sample scores of the two models (booleans count as 0/1).
    n_resamples : int
        Number B of bootstrap resamples (>= 1).
    level : float
        Coverage of the interval, in (0, 1).
    seed : int

    Returns
    -------
    BootstrapCI
        ``(estimate, low, high, deltas)`` with ``deltas`` of shape (B,).
    """
    a = as_vector(scores_a, "scores_a").numpy()
    b = as_vector(scores_b, "scores_b", n=a.shape[0]).numpy()
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 paired samples, got {n}")
    n_resamples = check_int(n_resamples, "n_resamples")
    level = check_alpha(level, "level")
    rng = np.random.default_rng(check_seed(seed))
    diff = a - b
    idx = rng.integers(0, n, size=(n_resamples, n))
    deltas = diff[idx].mean(axis=1)
    low, high = np.quantile(deltas, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapCI(float(diff.mean()), float(low), float(high), deltas)


@dataclass(frozen=True)
class McNemarResult:
    """Result of :func:`mcnemar_test`; unpacks as ``statistic, p_value, b, c``.

    Attributes
    ----------
    statistic : float
        ``(abs(b - c) - 1)**2 / (b + c)``; 0 when b + c = 0.
    p_value : float
        P(chi^2_1 >= statistic); 1 when b + c = 0.
    b : int
        Samples that model A gets right and model B gets wrong.
    c : int
        Samples that model A gets wrong and model B gets right.
    """

    statistic: float
    p_value: float
    b: int
    c: int

    def __iter__(self):
        return iter((self.statistic, self.p_value, self.b, self.c))


def mcnemar_test(correct_a, correct_b) -> McNemarResult:
    """McNemar's test with continuity correction for two paired classifiers.

    Only the discordant samples matter: ``b`` (A right, B wrong) and ``c``
    (A wrong, B right).  Under the null hypothesis that both models have the
    same error rate, b ~ Binomial(b + c, 1/2), and the statistic::

        chi^2 = (abs(b - c) - 1)**2 / (b + c)

    is approximately chi-squared with one degree of freedom (Dietterich 1998).
    The formula is used as written, without clamping ``abs(b - c) - 1`` at 0 (as
    statsmodels' ``mcnemar(exact=False, correction=True)``).  With no
    discordant samples (b = c = 0) there is no evidence of a difference: the
    statistic is 0 and the p-value 1.  For b + c below about 25 the
    approximation is poor; an exact binomial test is then better.

    Parameters
    ----------
    correct_a, correct_b : array or tensor, shape (n,), n >= 1
        Whether each model's prediction of sample i is right (bool or 0/1).

    Returns
    -------
    McNemarResult
        ``(statistic, p_value, b, c)``.
    """
    ra = as_binary(correct_a, "correct_a").numpy()
    rb = as_binary(correct_b, "correct_b", n=ra.shape[0]).numpy()
    if ra.shape[0] == 0:
        raise ValueError("correct_a is empty: need at least one paired sample")
    b = int(np.sum(ra & ~rb))
    c = int(np.sum(~ra & rb))
    if b + c == 0:
        return McNemarResult(0.0, 1.0, 0, 0)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return McNemarResult(float(statistic), float(chi2.sf(statistic, df=1)), b, c)


# ---------------------------------------------------------------------------
# Fair hyperparameter search
# ---------------------------------------------------------------------------

_SCALES = ("uniform", "log")


def _check_space(space) -> dict[str, tuple[float, float, str]]:
    if not isinstance(space, Mapping) or not space:
        raise ValueError(
            "space must be a non-empty dict {name: (low, high, scale)} with scale "
            "'uniform' or 'log'"
        )
    out = {}
    for name, spec in space.items():
        if not isinstance(spec, (tuple, list)) or len(spec) != 3:
            raise ValueError(
                f"space[{name!r}] must be (low, high, scale), got {spec!r}"
            )
        low, high, scale = spec
        if scale not in _SCALES:
            raise ValueError(
                f"space[{name!r}]: scale must be 'uniform' or 'log', got {scale!r}"
            )
        for v in (low, high):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
                raise ValueError(f"space[{name!r}]: bounds must be numbers, got {v!r}")
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(
                f"space[{name!r}]: need finite low < high, got ({low}, {high})"
            )
        if scale == "log" and low <= 0:
            raise ValueError(
                f"space[{name!r}]: a log-uniform range needs low > 0, got {low}"
            )
        out[str(name)] = (low, high, scale)
    return out


def sample_configurations(space, budget: int, seed: int = 0) -> list[dict]:
    """Draw ``budget`` random configurations from ``space``.

    Draw order: trial by trial, and within a trial the parameters in the
    order of ``space``; one ``numpy.random.default_rng(seed)`` draws
    ``rng.uniform(low, high)`` for a uniform range and
    ``exp(rng.uniform(log low, log high))`` for a log-uniform one.  The same
    space, budget and seed give the same configurations, and the first k
    configurations of a larger budget are those of budget k.

    Parameters
    ----------
    space : dict
        ``{name: (low, high, scale)}``, scale ``"uniform"`` or ``"log"``
        (log-uniform; needs low > 0), low < high.
    budget : int
        Number B of configurations (>= 1).
    seed : int

    Returns
    -------
    list of dict, length B
        ``{name: value}`` with ``low <= value <= high``.
    """
    space = _check_space(space)
    budget = check_int(budget, "budget")
    rng = np.random.default_rng(check_seed(seed))
    configs = []
    for _ in range(budget):
        config = {}
        for name, (low, high, scale) in space.items():
            if scale == "log":
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
                value = min(max(value, low), high)  # exp(log x) may round past x
            else:
                value = float(rng.uniform(low, high))
            config[name] = value
        configs.append(config)
    return configs


@dataclass(frozen=True)
class SearchResult:
    """Result of :func:`random_search`.

    Attributes
    ----------
    trials : list of (dict, float)
        Every evaluated configuration with its score, in the order drawn.
    best_config : dict
        The configuration with the highest score (the first one on ties).
    best_score : float
    n_evaluations : int
        How many times the objective was called; equals the budget B.
    """

    trials: list
    best_config: dict
    best_score: float
    n_evaluations: int


def random_search(
    objective: Callable[[dict], float], space, budget: int, seed: int = 0
) -> SearchResult:
    """Random search (Bergstra & Bengio 2012) with a budget of exactly B trials.

    ``objective(config)`` trains a model with ``config`` and returns its
    *validation* score, higher is better.  It is called exactly ``budget``
    times, on :func:`sample_configurations` ``(space, budget, seed)``, so two
    methods searched with the same budget and space got the same tuning
    effort.  Select on validation data; evaluate the selected model on the
    test split once.

    Parameters
    ----------
    objective : callable
        ``objective(config: dict) -> float``, a finite score.
    space : dict
        ``{name: (low, high, scale)}``, see :func:`sample_configurations`.
    budget : int
        B >= 1.
    seed : int

    Returns
    -------
    SearchResult
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    configs = sample_configurations(space, budget, seed)
    trials = []
    for config in configs:
        score = objective(dict(config))
        if isinstance(score, bool) or not isinstance(score, (int, float, np.number)):
            raise TypeError(
                f"objective must return a number, got {type(score).__name__}"
            )
        if not math.isfinite(float(score)):
            raise ValueError(f"objective returned {score} for configuration {config}")
        trials.append((config, float(score)))
    best = max(range(len(trials)), key=lambda i: (trials[i][1], -i))
    return SearchResult(trials, dict(trials[best][0]), trials[best][1], len(trials))


def expected_best(scores, budgets) -> np.ndarray:
    """Expected best score of k trials drawn from ``scores`` (Dodge et al. 2019).

    Treat the N observed scores of a random search as the distribution of
    one trial's score; the best of k independent trials (drawn with
    replacement) then has expectation::

        E[max of k] = sum_i v_(i) * ((i / N)^k - ((i - 1) / N)^k),

    with v_1 <= ... <= v_N the sorted scores.  Plotted against k, it shows
    how much of a comparison a difference in tuning budget alone explains.

    Parameters
    ----------
    scores : array, shape (N,), finite, N >= 1
    budgets : int or array of int, shape (m,), each >= 1

    Returns
    -------
    numpy.ndarray, shape (m,), float64
    """
    v = np.sort(as_vector(scores, "scores").numpy())
    if v.shape[0] == 0:
        raise ValueError("scores is empty")
    ks = [check_int(k, "budgets") for k in np.atleast_1d(budgets).tolist()]
    frac = np.arange(1, v.shape[0] + 1) / v.shape[0]
    prev = np.arange(0, v.shape[0]) / v.shape[0]
    return np.array([float(np.sum(v * (frac**k - prev**k))) for k in ks])


# ---------------------------------------------------------------------------
# The Ladder: a leaderboard that resists adaptive overfitting
# ---------------------------------------------------------------------------


def ladder_release(scores, eta: float, higher_is_better: bool = True) -> np.ndarray:
    """The scores a Ladder leaderboard releases (Blum & Hardt 2015, Algorithm 1).

    The leaderboard keeps the last released score R (initially -inf for
    higher-is-better scores).  Submission t with holdout score s_t is
    released as a new score only if it beats R by more than ``eta``; the new
    R is then s_t rounded to the nearest multiple of ``eta``
    (``eta * numpy.round(s_t / eta)``, ties to even).  Otherwise the
    leaderboard repeats R.  The first submission is always released.  With
    ``higher_is_better=False`` (losses, as in the paper) R starts at +inf and
    a new score must be lower than R by more than ``eta``.

    Parameters
    ----------
    scores : array, shape (T,), finite
        Holdout scores of the submissions, in submission order.
    eta : float
        Step size > 0.
    higher_is_better : bool

    Returns
    -------
    numpy.ndarray, shape (T,), float64
        The released score after each submission.
    """
    s = as_vector(scores, "scores").numpy()
    eta = check_number(eta, "eta", positive=True)
    sign = 1.0 if higher_is_better else -1.0
    released = np.empty_like(s)
    best = -math.inf
    for t, score in enumerate(s):
        if sign * score > best + eta:
            best = sign * float(eta * np.round(score / eta))
        released[t] = sign * best
    return released


# ---------------------------------------------------------------------------
# Train-test contamination
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Duplicates:
    """Result of :func:`find_duplicates`; unpacks as ``test_index, train_index``.

    Attributes
    ----------
    test_index : numpy.ndarray, shape (m,), int64
        Rows of ``test_x`` that also occur in ``train_x`` (ascending).
    train_index : numpy.ndarray, shape (m,), int64
        For each, the first row of ``train_x`` with the same hash.
    """

    test_index: np.ndarray
    train_index: np.ndarray

    def __iter__(self):
        return iter((self.test_index, self.train_index))


def _row_hashes(X: np.ndarray, decimals: int) -> list[bytes]:
    # + 0.0 turns -0.0 into 0.0, so that both hash alike
    rounded = np.round(X.astype(np.float64), decimals) + 0.0
    return [hashlib.sha1(row.tobytes()).digest() for row in rounded]


def find_duplicates(train_x, test_x, decimals: int = 4) -> Duplicates:
    """Find test inputs that also occur in the training set, by hashing.

    Each row is rounded to ``decimals`` decimal places (in float64) and
    hashed with SHA-1; a test row is a duplicate if its hash equals that of
    a training row.  This finds exact copies and copies perturbed by less
    than the rounding step (re-encoding, float32 round-off), in O(n + m)
    time.  It misses near-duplicates that differ by more, or that straddle a
    rounding boundary (a value near ``k + 0.5`` units of the last decimal):
    a near-duplicate search (nearest neighbours) complements it.

    Parameters
    ----------
    train_x : array or tensor, shape (n, d), finite
    test_x : array or tensor, shape (m, d), finite
    decimals : int
        Decimal places kept before hashing (>= 0).

    Returns
    -------
    Duplicates
        ``(test_index, train_index)``.
    """
    train = check_matrix(train_x, "train_x", "(n, d)")
    test = check_matrix(test_x, "test_x", "(m, d)")
    check_same_features(train, test, "train_x", "test_x")
    decimals = check_int(decimals, "decimals", minimum=0)
    first: dict[bytes, int] = {}
    for i, h in enumerate(_row_hashes(train.numpy(), decimals)):
        first.setdefault(h, i)
    pairs = [
        (j, first[h])
        for j, h in enumerate(_row_hashes(test.numpy(), decimals))
        if h in first
    ]
    test_index = np.array([p[0] for p in pairs], dtype=np.int64)
    train_index = np.array([p[1] for p in pairs], dtype=np.int64)
    return Duplicates(test_index, train_index)
