"""L2 -- distribution shift: data with known shifts, and methods that correct for it.

Data generators (all seeded, all offline):

- :func:`gaussian_covariate_shift`   2-D Gaussians, source N(0, I), target N(m, I)
- :func:`dirichlet_label_shift`      digits resampled to Dirichlet class priors
- :func:`rotated_digits_domains`     disjoint groups of digits, each rotated by an angle
- :func:`two_moons_shift`            two moons, target rotated about the centre
- :func:`domain_cue_shift`           a stable feature and a cue shifted in the target

Methods:

- covariate shift: :func:`fit_domain_classifier`, :func:`importance_weights`
- label shift (BBSE): :func:`confusion_matrix_joint`, :func:`bbse_weights`,
  :func:`bbse_target_priors`, :func:`reweight_posteriors`
- feature alignment: :func:`coral_loss`, :class:`GradReverse`, :func:`grad_reverse`,
  :func:`dann_schedule`, :func:`adaptation_loss`, :func:`train_domain_adapted`
  (source only, DANN or Deep CORAL)
- domain generalisation: :func:`lodo_grid`,
  :func:`select_by_training_domain_validation`, :func:`select_by_oracle`

Conventions: the domain classifier's probability ``c(x)`` is P(target | x); the
confusion matrix is the *joint* ``C[i, j] = P_S(yhat = i, y = j)`` (rows are
predictions, columns true labels); covariances are unbiased (divide by n - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from sklearn.datasets import load_digits, make_moons
from sklearn.linear_model import LogisticRegression

from tmlbook.checks import (
    as_tensor,
    check_accuracy_grid,
    check_finite,
    check_int,
    check_labels,
    check_matrix,
    check_ndim,
    check_number,
    check_probabilities,
    check_same_features,
    check_seed,
)
from tmlbook.data import Split
from tmlbook.device import get_device
from tmlbook.models import DomainAdaptNet
from tmlbook.training import evaluate, fit

# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DomainPair:
    """A labelled source domain and a target domain.

    Attributes
    ----------
    source : Split
        ``X`` (n_S, d) float32, ``y`` (n_S,) int64.
    target : Split
        ``X`` (n_T, d) float32, ``y`` (n_T,) int64.  Methods for unsupervised
        adaptation may only read ``target.X``; ``target.y`` is for evaluation.
    """

    source: Split
    target: Split


def parabola_label(X: torch.Tensor) -> torch.Tensor:
    """The labelling rule of :func:`gaussian_covariate_shift`.

    ``y = 1[x_2 > x_1^2 / 4 - 1/2]``: a curved boundary, so a linear model is
    misspecified and its best fit depends on where the inputs lie.

    Parameters
    ----------
    X : torch.Tensor, shape (n, 2)

    Returns
    -------
    torch.Tensor, shape (n,), int64 in {0, 1}
    """
    X = as_tensor(X, "X")
    check_ndim(X, 2, "X", "(n, 2)")
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns, got {X.shape[1]}")
    return (X[:, 1] > X[:, 0] ** 2 / 4 - 0.5).long()


def gaussian_covariate_shift(
    n_source: int = 1000,
    n_target: int = 1000,
    mean_shift: tuple[float, float] = (1.5, 0.0),
    seed: int = 0,
) -> DomainPair:
    """Covariate shift in 2-D: p(y | x) is the same, p(x) moves.

    Source inputs ~ N(0, I), target inputs ~ N(mean_shift, I), labels from
    :func:`parabola_label` in both domains.

    Parameters
    ----------
    n_source, n_target : int
        Number of points per domain.
    mean_shift : (float, float)
        Mean of the target Gaussian.
    seed : int

    Returns
    -------
    DomainPair
        ``X`` of shape (n, 2) float32 and ``y`` of shape (n,) in each domain.
    """
    n_source = check_int(n_source, "n_source")
    n_target = check_int(n_target, "n_target")
    shift = np.asarray(mean_shift, dtype=np.float64)
    if shift.shape != (2,) or not np.isfinite(shift).all():
        raise ValueError(f"mean_shift must be two finite numbers, got {mean_shift!r}")
    rng = np.random.default_rng(check_seed(seed))
    Xs = torch.from_numpy(rng.standard_normal((n_source, 2)).astype(np.float32))
    Xt = rng.standard_normal((n_target, 2)) + shift
    Xt = torch.from_numpy(Xt.astype(np.float32))
    return DomainPair(Split(Xs, parabola_label(Xs)), Split(Xt, parabola_label(Xt)))


def gaussian_density_ratio(X: torch.Tensor, mean_shift=(1.5, 0.0)) -> torch.Tensor:
    """True ratio p_T(x) / p_S(x) for the data of :func:`gaussian_covariate_shift`.

    For N(m, I) over N(0, I) the ratio is ``exp(m . x - |m|^2 / 2)``.

    Parameters
    ----------
    X : torch.Tensor, shape (n, 2)
    mean_shift : (float, float)

    Returns
    -------
    torch.Tensor, shape (n,), float64
    """
    X = as_tensor(X, "X", torch.float64)
    check_ndim(X, 2, "X", "(n, 2)")
    m = torch.as_tensor(mean_shift, dtype=torch.float64)
    if X.shape[1] != m.shape[0]:
        raise ValueError(f"X has {X.shape[1]} columns but mean_shift has {m.shape[0]}")
    return torch.exp(X @ m - 0.5 * (m @ m))


def dirichlet_label_shift(
    X: torch.Tensor,
    y: torch.Tensor,
    alpha: float = 1.0,
    n: int | None = None,
    seed: int = 0,
    n_classes: int = 10,
) -> tuple[Split, torch.Tensor]:
    """Resample a labelled set so that its class priors follow a Dirichlet draw.

    Draws priors q ~ Dirichlet(alpha, ..., alpha), class counts
    ~ Multinomial(n, q), and for each class that many images of that class
    (with replacement).  Inputs given a class are unchanged, so this is pure
    label shift: p(x | y) stays, p(y) moves.

    Parameters
    ----------
    X : torch.Tensor, shape (m, d)
    y : torch.Tensor, shape (m,), int64
        Every class in ``range(n_classes)`` must occur.
    alpha : float
        Dirichlet concentration; small values give more extreme priors.
    n : int, optional
        Size of the resampled set (default: ``m``).
    seed : int
    n_classes : int

    Returns
    -------
    (Split, torch.Tensor)
        The resampled set and its realised class proportions, shape
        (n_classes,), float64, summing to 1.
    """
    X = as_tensor(X, "X")
    y = as_tensor(y, "y")
    check_ndim(X, 2, "X", "(m, d)")
    check_labels(y, X.shape[0], n_classes)
    alpha = check_number(alpha, "alpha", positive=True)
    n = X.shape[0] if n is None else check_int(n, "n")
    counts_present = torch.bincount(y, minlength=n_classes)
    if (counts_present == 0).any():
        missing = torch.nonzero(counts_present == 0)[:, 0].tolist()
        raise ValueError(f"classes {missing} do not occur in y: cannot resample them")
    rng = np.random.default_rng(check_seed(seed))
    q = rng.dirichlet(np.full(n_classes, alpha))
    counts = rng.multinomial(n, q)
    y_np = y.numpy()
    idx = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_np == k), size=c, replace=True)
            for k, c in enumerate(counts)
        ]
    ).astype(np.int64)
    idx = rng.permutation(idx)
    priors = torch.from_numpy(counts / n)
    return Split(X[idx].clone(), y[idx].clone()), priors


def rotate_digits(X: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotate flat 8x8 digits by ``angle`` degrees (anticlockwise).

    Uses ``scipy.ndimage.rotate`` with bilinear interpolation (``order=1``),
    the same 8x8 frame (``reshape=False``) and zeros outside; the result is
    clipped to [0, 1].

    Parameters
    ----------
    X : torch.Tensor, shape (n, 64)
    angle : float

    Returns
    -------
    torch.Tensor, shape (n, 64), float32
    """
    X = as_tensor(X, "X", torch.float32)
    check_ndim(X, 2, "X", "(n, 64)")
    if X.shape[1] != 64:
        raise ValueError(f"X must have 64 columns (8x8 pixels), got {X.shape[1]}")
    if angle == 0:
        return X.clone()
    images = X.numpy().reshape(-1, 8, 8)
    rotated = ndimage.rotate(
        images, angle, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0
    )
    rotated = np.clip(rotated, 0.0, 1.0).reshape(-1, 64)
    return torch.from_numpy(rotated.astype(np.float32))


def rotated_digits_domains(
    angles=(0, 15, 30, 45, 60, 75), seed: int = 0
) -> list[Split]:
    """Rotated digits: split all 1797 digits into disjoint domains, one per angle.

    The images are shuffled (seeded) and cut into ``len(angles)`` groups of
    (almost) equal size; group ``k`` is rotated by ``angles[k]`` degrees.  This
    mirrors DomainBed's RotatedMNIST at 8x8.

    Parameters
    ----------
    angles : sequence of float
    seed : int

    Returns
    -------
    list of Split
        One per angle; ``X`` (n_k, 64) float32 in [0, 1], ``y`` (n_k,) int64.
    """
    angles = list(angles)
    if len(angles) < 2:
        raise ValueError(f"need at least two domains, got angles={angles!r}")
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)  # pixels in [0, 1], as in tmlbook.data
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(check_seed(seed))
    order = rng.permutation(len(y))
    domains = []
    for angle, idx in zip(angles, np.array_split(order, len(angles)), strict=True):
        Xk = rotate_digits(torch.from_numpy(X[idx].copy()), float(angle))
        domains.append(Split(Xk, torch.from_numpy(y[idx].copy())))
    return domains


def train_val_split(split: Split, val_fraction: float = 0.2, seed: int = 0):
    """Cut one domain into a training part and a validation part (seeded).

    Parameters
    ----------
    split : Split
    val_fraction : float in (0, 1)
    seed : int

    Returns
    -------
    (Split, Split)
        ``(train, val)``; ``val`` has ``round(val_fraction * n)`` rows.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    n = len(split)
    n_val = int(round(val_fraction * n))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"cannot cut {n} rows into non-empty train and val parts")
    perm = torch.from_numpy(np.random.default_rng(check_seed(seed)).permutation(n))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return (
        Split(split.X[train_idx], split.y[train_idx]),
        Split(split.X[val_idx], split.y[val_idx]),
    )


def two_moons_shift(
    n_source: int = 500,
    n_target: int = 500,
    angle: float = 35.0,
    noise: float = 0.1,
    seed: int = 0,
) -> DomainPair:
    """Two moons as the source; the target is a fresh sample rotated by ``angle``.

    Both samples come from ``sklearn.datasets.make_moons``; the target is
    rotated anticlockwise about the centre of the two moons, (0.5, 0.25).

    Parameters
    ----------
    n_source, n_target : int
    angle : float
        Degrees.
    noise : float
        Standard deviation of the Gaussian noise of ``make_moons``.
    seed : int

    Returns
    -------
    DomainPair
        ``X`` (n, 2) float32 and ``y`` (n,) int64 in each domain.
    """
    n_source = check_int(n_source, "n_source", 2)
    n_target = check_int(n_target, "n_target", 2)
    seed = check_seed(seed)
    Xs, ys = make_moons(n_source, noise=noise, random_state=seed)
    Xt, yt = make_moons(n_target, noise=noise, random_state=seed + 10_000)
    centre = np.array([0.5, 0.25])
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    Xt = (Xt - centre) @ rot.T + centre

    def make(X, y):
        return Split(
            torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
        )

    return DomainPair(make(Xs, ys), make(Xt, yt))


def domain_cue_shift(
    n_source: int = 500,
    n_target: int = 500,
    offset: float = -3.0,
    seed: int = 0,
) -> DomainPair:
    """Two classes with a stable feature and a domain-specific one.

    With s = 2y - 1 for a label y in {0, 1}, each point has
    x_1 = s + 0.6 e_1 (the stable feature, the same in both domains) and
    x_2 = 1.5 s + 0.3 e_2 + o (the cue: sharper than x_1 in the source),
    e_1, e_2 standard normal, o = 0 in the source and ``offset`` in the target.
    A classifier that leans on x_2 in the source fails in the target; the
    distribution of x_2 also tells the domains apart, which is what a domain
    classifier sees.

    Parameters
    ----------
    n_source, n_target : int
    offset : float
        Shift of x_2 in the target.
    seed : int

    Returns
    -------
    DomainPair
        ``X`` (n, 2) float32 and ``y`` (n,) int64 in each domain, labels
        balanced in expectation.
    """
    n_source = check_int(n_source, "n_source", 2)
    n_target = check_int(n_target, "n_target", 2)
    offset = check_number(offset, "offset", signed=True)
    g = torch.Generator().manual_seed(check_seed(seed))

    def draw(n: int, o: float) -> Split:
        y = torch.randint(0, 2, (n,), generator=g)
        s = 2.0 * y - 1.0
        x1 = s + 0.6 * torch.randn(n, generator=g)
        x2 = 1.5 * s + 0.3 * torch.randn(n, generator=g) + o
        return Split(torch.stack([x1, x2], 1), y)

    return DomainPair(draw(n_source, 0.0), draw(n_target, offset))


# ------------------------------------------------------------------ covariate shift


def fit_domain_classifier(
    X_source: torch.Tensor, X_target: torch.Tensor, C: float = 1.0
) -> LogisticRegression:
    """Fit a logistic-regression domain classifier: label 0 = source, 1 = target.

    Its ``predict_proba(X)[:, 1]`` is c(x) = P(target | x), which
    :func:`importance_weights` turns into density-ratio estimates.

    Parameters
    ----------
    X_source : torch.Tensor, shape (n_S, d)
    X_target : torch.Tensor, shape (n_T, d)
    C : float
        Inverse L2-regularisation strength (scikit-learn's convention).

    Returns
    -------
    sklearn.linear_model.LogisticRegression
        Fitted with the deterministic L-BFGS solver.
    """
    Xs = as_tensor(X_source, "X_source", torch.float64)
    Xt = as_tensor(X_target, "X_target", torch.float64)
    check_ndim(Xs, 2, "X_source", "(n_S, d)")
    check_ndim(Xt, 2, "X_target", "(n_T, d)")
    check_same_features(Xs, Xt, "X_source", "X_target")
    if len(Xs) == 0 or len(Xt) == 0:
        raise ValueError("both domains need at least one point")
    check_finite(Xs, "X_source")
    check_finite(Xt, "X_target")
    X = torch.cat([Xs, Xt]).numpy()
    d = np.concatenate([np.zeros(len(Xs)), np.ones(len(Xt))])
    return LogisticRegression(C=C, max_iter=1000).fit(X, d)


def importance_weights(
    probs_target: torch.Tensor, n_source: int, n_target: int
) -> torch.Tensor:
    """Density-ratio estimates w(x) = p_T(x) / p_S(x) from a domain classifier.

    By Bayes' rule, c(x) / (1 - c(x)) = (n_T p_T(x)) / (n_S p_S(x)) for a
    classifier trained on n_S source and n_T target points, so

        w(x) = (n_S / n_T) * c(x) / (1 - c(x)).

    Parameters
    ----------
    probs_target : torch.Tensor, shape (n,)
        c(x) = P(target | x) for each point, strictly inside (0, 1).
    n_source, n_target : int
        The sizes of the two samples the classifier was trained on.

    Returns
    -------
    torch.Tensor, shape (n,), float64, positive
    """
    c = as_tensor(probs_target, "probs_target", torch.float64)
    check_ndim(c, 1, "probs_target", "(n,)")
    check_finite(c, "probs_target")
    if ((c <= 0) | (c >= 1)).any():
        raise ValueError(
            "probs_target must lie strictly inside (0, 1): a probability of exactly "
            "0 or 1 gives a weight of 0 or infinity (clip it, or work with logits)"
        )
    n_source = check_int(n_source, "n_source")
    n_target = check_int(n_target, "n_target")
    return (n_source / n_target) * c / (1 - c)


# ---------------------------------------------------------------------- label shift


def confusion_matrix_joint(
    y_pred: torch.Tensor, y_true: torch.Tensor, n_classes: int
) -> torch.Tensor:
    """Joint confusion matrix C[i, j] = P(yhat = i, y = j) on a labelled set.

    Parameters
    ----------
    y_pred : torch.Tensor, shape (n,), int
        Hard predictions of the classifier.
    y_true : torch.Tensor, shape (n,), int
    n_classes : int

    Returns
    -------
    torch.Tensor, shape (n_classes, n_classes), float64
        Rows are predictions, columns true labels; entries sum to 1.
    """
    n_classes = check_int(n_classes, "n_classes")
    y_pred = as_tensor(y_pred, "y_pred")
    y_true = as_tensor(y_true, "y_true")
    if y_pred.dim() != 1 or len(y_pred) == 0:
        raise ValueError(
            f"y_pred must have shape (n,) with n >= 1, got {tuple(y_pred.shape)}"
        )
    check_labels(y_pred, len(y_pred), n_classes, "y_pred")
    check_labels(y_true, len(y_pred), n_classes, "y_true")
    flat = y_pred.long() * n_classes + y_true.long()
    counts = torch.bincount(flat, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).double() / len(y_pred)


def bbse_weights(
    C: torch.Tensor, mu: torch.Tensor, rcond: float = 1e-10
) -> torch.Tensor:
    """Black-box shift estimation (Lipton et al. 2018): w_hat = C^{-1} mu.

    Under label shift, P_T(yhat = i) = sum_j C[i, j] w_j with w_j =
    q_T(j) / p_S(j), so the class weights solve a K x K linear system.

    Parameters
    ----------
    C : torch.Tensor, shape (K, K)
        Joint confusion matrix on held-out *source* data (see
        :func:`confusion_matrix_joint`).
    mu : torch.Tensor, shape (K,)
        Distribution of the classifier's predictions on the *target* data.
    rcond : float
        ``C`` counts as singular when its smallest singular value is below
        ``rcond`` times its largest.

    Returns
    -------
    torch.Tensor, shape (K,), float64
        Estimated weights; entries may be negative when estimates are noisy.

    Raises
    ------
    ValueError
        If ``C`` is (numerically) singular, e.g. because a class is never
        predicted or never present on the held-out data.
    """
    C = as_tensor(C, "C", torch.float64)
    mu = as_tensor(mu, "mu", torch.float64)
    check_ndim(C, 2, "C", "(K, K)")
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"C must be square, got shape {tuple(C.shape)}")
    check_ndim(mu, 1, "mu", "(K,)")
    if mu.shape[0] != C.shape[0]:
        raise ValueError(
            f"mu has {mu.shape[0]} entries but C is {C.shape[0]} x {C.shape[0]}"
        )
    check_finite(C, "C")
    check_finite(mu, "mu")
    s = torch.linalg.svdvals(C)
    if s[-1] <= rcond * s[0]:
        raise ValueError(
            "confusion matrix is singular "
            f"(condition number {float(s[0] / s[-1]):.3g}):"
            " some class is never predicted or never present in the held-out data,"
            " so the class weights are not identifiable"
        )
    return torch.linalg.solve(C, mu)


def bbse_target_priors(w: torch.Tensor, source_priors: torch.Tensor) -> torch.Tensor:
    """Target class priors q_T(y) = w_y p_S(y), clipped at 0 and renormalised.

    Parameters
    ----------
    w : torch.Tensor, shape (K,)
        Class weights, e.g. from :func:`bbse_weights`.
    source_priors : torch.Tensor, shape (K,)
        p_S(y), non-negative, summing to 1.

    Returns
    -------
    torch.Tensor, shape (K,), float64, non-negative, summing to 1.
    """
    w = as_tensor(w, "w", torch.float64)
    p = as_tensor(source_priors, "source_priors", torch.float64)
    check_ndim(w, 1, "w", "(K,)")
    if p.shape != w.shape:
        raise ValueError(
            f"source_priors must have shape {tuple(w.shape)}, got {tuple(p.shape)}"
        )
    check_finite(w, "w")
    check_finite(p, "source_priors")
    if (p < 0).any() or abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError("source_priors must be non-negative and sum to 1")
    q = (w * p).clamp_min(0.0)
    if float(q.sum()) <= 0:
        raise ValueError(
            "all estimated target priors are <= 0: the estimate is unusable"
        )
    return q / q.sum()


def reweight_posteriors(probs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Adapt source posteriors to the target priors: p_T(y | x) ∝ w_y p_S(y | x).

    Parameters
    ----------
    probs : torch.Tensor, shape (n, K)
        Source-trained classifier's probabilities on target inputs.
    w : torch.Tensor, shape (K,)
        Non-negative class weights q_T(y) / p_S(y).

    Returns
    -------
    torch.Tensor, shape (n, K), float64; rows sum to 1.
    """
    probs = as_tensor(probs, "probs", torch.float64)
    w = as_tensor(w, "w", torch.float64)
    check_ndim(probs, 2, "probs", "(n, K)")
    check_probabilities(probs, "probs")
    if w.shape != (probs.shape[1],):
        raise ValueError(f"w must have shape ({probs.shape[1]},), got {tuple(w.shape)}")
    if (w < 0).any() or not torch.isfinite(w).all():
        raise ValueError(
            "w must be finite and non-negative (clip negative weights first)"
        )
    adjusted = probs * w
    total = adjusted.sum(dim=1, keepdim=True)
    if (total <= 0).any():
        raise ValueError("a row has zero mass after reweighting")
    return adjusted / total


# ---------------------------------------------------------------- feature alignment


def _covariance(f: torch.Tensor) -> torch.Tensor:
    centred = f - f.mean(dim=0, keepdim=True)
    return centred.T @ centred / (f.shape[0] - 1)


def coral_loss(f_source: torch.Tensor, f_target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL loss (Sun & Saenko 2016): ||C_S - C_T||_F^2 / (4 d^2).

    C_S and C_T are the unbiased feature covariances (divided by n - 1) of
    the two batches.  Differentiable in both inputs.

    Parameters
    ----------
    f_source : torch.Tensor, shape (n_S, d), n_S >= 2
    f_target : torch.Tensor, shape (n_T, d), n_T >= 2

    Returns
    -------
    torch.Tensor, shape ()
    """
    f_source = as_tensor(f_source, "f_source")
    f_target = as_tensor(f_target, "f_target")
    check_ndim(f_source, 2, "f_source", "(n_S, d)")
    check_ndim(f_target, 2, "f_target", "(n_T, d)")
    check_same_features(f_source, f_target, "f_source", "f_target")
    if f_source.shape[0] < 2 or f_target.shape[0] < 2:
        raise ValueError("each batch needs at least 2 rows for an unbiased covariance")
    d = f_source.shape[1]
    diff = _covariance(f_source) - _covariance(f_target)
    return (diff**2).sum() / (4 * d * d)


class GradReverse(torch.autograd.Function):
    """Gradient reversal layer (Ganin & Lempitsky 2015).

    Forward: the identity.  Backward: multiplies the incoming gradient by
    ``-lam``.  Put it between a feature extractor and a domain classifier:
    the classifier minimises its loss, the features receive the reversed
    gradient and so *maximise* it.
    """

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lam * grad_output, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Apply :class:`GradReverse` with strength ``lam``.

    Parameters
    ----------
    x : torch.Tensor, any shape
    lam : float, >= 0

    Returns
    -------
    torch.Tensor, same shape and values as ``x``; the gradient flowing back
    through it is multiplied by ``-lam``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    return GradReverse.apply(x, check_number(lam, "lam"))


def dann_schedule(progress: float, gamma: float = 10.0) -> float:
    """DANN's ramp for the reversal strength: 2 / (1 + exp(-gamma p)) - 1.

    Goes from 0 at the start of training (p = 0) to almost 1 at the end
    (p = 1), so the noisy early domain gradients do not swamp the features.
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must lie in [0, 1], got {progress}")
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


def adaptation_loss(
    model: DomainAdaptNet,
    x_source: torch.Tensor,
    y_source: torch.Tensor,
    x_target: torch.Tensor,
    method: str,
    strength: float,
) -> torch.Tensor:
    """The loss of one training step: source cross-entropy plus an adaptation term.

    - ``"source"``: CE on the source batch only;
    - ``"dann"``: CE + BCE of the domain head on GRL(features), source = 0 and
      target = 1, with reversal strength ``strength``;
    - ``"coral"``: CE + ``strength`` * CORAL loss of the two feature batches.

    Parameters
    ----------
    model : DomainAdaptNet
    x_source : torch.Tensor, shape (b_S, d)
    y_source : torch.Tensor, shape (b_S,)
    x_target : torch.Tensor, shape (b_T, d)
    method : {"source", "dann", "coral"}
    strength : float, >= 0

    Returns
    -------
    torch.Tensor, shape ()
    """
    fs, ft = model.features(x_source), model.features(x_target)
    loss = F.cross_entropy(model.label_head(fs), y_source)
    if method == "dann":
        f = grad_reverse(torch.cat([fs, ft]), strength)
        domain = torch.cat([torch.zeros(len(fs)), torch.ones(len(ft))]).to(f.device)
        loss = loss + F.binary_cross_entropy_with_logits(model.domain_logit(f), domain)
    elif method == "coral":
        loss = loss + strength * coral_loss(fs, ft)
    elif method != "source":
        raise ValueError(f"method must be 'source', 'dann' or 'coral', got {method!r}")
    return loss


def train_domain_adapted(
    X_source: torch.Tensor,
    y_source: torch.Tensor,
    X_target: torch.Tensor,
    *,
    method: str = "dann",
    weight: float = 1.0,
    steps: int = 1500,
    batch_size: int = 64,
    lr: float = 1e-3,
    hidden: int = 32,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DomainAdaptNet:
    """Train a :class:`DomainAdaptNet` on labelled source and unlabelled target data.

    :func:`tmlbook.training.fit` visits the source in mini-batches; for each
    one the loss draws a target mini-batch of ``batch_size`` points (with
    replacement) and returns :func:`adaptation_loss`.  For ``"dann"`` the
    reversal strength ramps up as ``weight`` * :func:`dann_schedule`
    (progress); for ``"coral"`` the CORAL term is multiplied by ``weight``.
    A last source batch of a single point is skipped (CORAL needs two).

    Parameters
    ----------
    X_source : torch.Tensor, shape (n_S, d)
    y_source : torch.Tensor, shape (n_S,), int64
    X_target : torch.Tensor, shape (n_T, d)
        Target *inputs* only: target labels are never used.
    method : {"source", "dann", "coral"}
    weight : float
        Strength of the adaptation term (>= 0).
    steps : int
        Number of Adam steps, rounded up to whole passes over the source.
    batch_size, lr, hidden : mini-batch size, Adam step size, width.
    seed : int
        Seeds the initial weights (through torch's global generator), the
        source batches (``seed``) and the target batches (``seed + 1``).
    device : torch.device, optional
        Defaults to :func:`tmlbook.get_device`.

    Returns
    -------
    DomainAdaptNet
        Trained, in evaluation mode.
    """
    if method not in ("source", "dann", "coral"):
        raise ValueError(f"method must be 'source', 'dann' or 'coral', got {method!r}")
    weight = check_number(weight, "weight")
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size", 2)
    seed = check_seed(seed)
    Xs = check_matrix(X_source, "X_source", "(n_S, d)").float()
    Xt = check_matrix(X_target, "X_target", "(n_T, d)").float()
    check_same_features(Xs, Xt, "X_source", "X_target")
    if len(Xs) < 2 or len(Xt) < 2:
        raise ValueError("each domain needs at least 2 points")
    ys = as_tensor(y_source, "y_source")
    check_labels(ys, len(Xs), None, "y_source")  # the model is built for them
    torch.manual_seed(seed)
    model = DomainAdaptNet(Xs.shape[1], hidden, max(int(ys.max()) + 1, 2))
    bs, bt = min(batch_size, len(Xs)), min(batch_size, len(Xt))
    batches_per_epoch = math.ceil(len(Xs) / bs)
    epochs = math.ceil(steps / batches_per_epoch)
    n_steps = epochs * batches_per_epoch
    device = torch.device(device) if device is not None else get_device()
    Xt = Xt.to(device)
    target_gen = torch.Generator().manual_seed(seed + 1)
    step = 0

    def loss_fn(model, xb, yb, idx):
        nonlocal step
        j = torch.randint(len(Xt), (bt,), generator=target_gen).to(device)
        strength = weight
        if method == "dann":
            strength = weight * dann_schedule(step / max(n_steps - 1, 1))
        step += 1
        if len(xb) < 2:
            return None
        return adaptation_loss(model, xb, yb, Xt[j], method, strength)

    fit(
        model,
        Xs,
        ys,
        loss_fn=loss_fn,
        epochs=epochs,
        lr=lr,
        batch_size=bs,
        seed=seed,
        device=device,
        progress=False,
    )
    return model


# ------------------------------------------------------------ domain generalisation


def lodo_grid(domains, hparams, train_fn, val_fraction: float = 0.2, seed: int = 0):
    """Leave-one-domain-out results for every (hyperparameter, held-out domain).

    Each domain is cut into a training and a validation part
    (:func:`train_val_split`).  For held-out domain t and setting h, a model
    is trained by ``train_fn(X, y, h)`` on the training parts of all domains
    except t, then evaluated on the validation part of *every* domain and on
    the training part of t (which nothing was trained on: the test data).

    Parameters
    ----------
    domains : list of Split
    hparams : list
        Settings passed to ``train_fn``.
    train_fn : callable
        ``train_fn(X, y, h) -> model`` returning an ``nn.Module``.
    val_fraction : float
    seed : int
        Seeds the train/validation cut of each domain.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``val_acc`` of shape (H, T, T): ``val_acc[h, t, d]`` is the accuracy on
        the validation part of domain d of the model trained with setting h
        and held-out domain t; ``test_acc`` of shape (H, T): accuracy on the
        held-out domain's test part.
    """
    if len(domains) < 2 or len(hparams) < 1:
        raise ValueError("need at least two domains and one hyperparameter setting")
    parts = [
        train_val_split(dom, val_fraction, seed + k) for k, dom in enumerate(domains)
    ]
    H, T = len(hparams), len(domains)
    val_acc, test_acc = np.zeros((H, T, T)), np.zeros((H, T))
    for t in range(T):
        X = torch.cat([parts[d][0].X for d in range(T) if d != t])
        y = torch.cat([parts[d][0].y for d in range(T) if d != t])
        for h, setting in enumerate(hparams):
            model = train_fn(X, y, setting)
            for d in range(T):
                val_acc[h, t, d] = evaluate(model, *parts[d][1])
            test_acc[h, t] = evaluate(model, *parts[t][0])
    return val_acc, test_acc


def select_by_training_domain_validation(val_acc, test_acc):
    """DomainBed's training-domain validation: never look at the test domain.

    For each held-out domain t, pick the setting h with the highest mean
    validation accuracy over the *training* domains d != t (ties: smallest
    h), and report that model's accuracy on domain t.

    Parameters
    ----------
    val_acc : array, shape (H, T, T)
        ``val_acc[h, t, d]`` as returned by :func:`lodo_grid`.
    test_acc : array, shape (H, T)

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Chosen setting per held-out domain, shape (T,), int; its test
        accuracy, shape (T,).
    """
    val_acc, test_acc = check_accuracy_grid(val_acc, test_acc)
    H, T, _ = val_acc.shape
    choice = np.zeros(T, dtype=np.int64)
    for t in range(T):
        train_domains = [d for d in range(T) if d != t]
        score = val_acc[:, t, train_domains].mean(axis=1)
        choice[t] = int(np.argmax(score))  # argmax returns the first maximum
    return choice, test_acc[choice, np.arange(T)]


def select_by_oracle(val_acc, test_acc):
    """DomainBed's test-domain validation ("oracle"): choose on the test domain.

    For each held-out domain t, pick the setting with the highest accuracy on
    the validation part of domain t itself (ties: smallest h).  This peeks at
    the test distribution, so it is an optimistic upper reference, not a
    method one could deploy.

    Parameters and returns as in :func:`select_by_training_domain_validation`.
    """
    val_acc, test_acc = check_accuracy_grid(val_acc, test_acc)
    T = val_acc.shape[1]
    choice = np.array(
        [int(np.argmax(val_acc[:, t, t])) for t in range(T)], dtype=np.int64
    )
    return choice, test_acc[choice, np.arange(T)]
