"""L3 -- cue selection, shortcut bias and how to mitigate it.

Two synthetic data sets built from the 8x8 digits, and the methods of the
book's sections 2.8-2.14:

- :func:`make_cue_conflict_digits` ("D-cue"): digits 0/1/2 plus a "colour"
  cue that agrees with the label in training and disagrees at test time;
  :func:`cue_accuracies` is the cue-by-cue diagnostic.
- :func:`make_group_digits` ("D-group"): "is the digit >= 5?" with a spurious
  attribute that agrees with the label 95 % of the time in training;
  :func:`group_accuracies` and :func:`worst_group_accuracy` evaluate it.
- Scenario 1 (group labels): :func:`group_weights` (reweighting),
  :func:`group_dro_step` (online Group DRO); :func:`jtt_upweight` (Just Train
  Twice, which needs no group labels for training) and :func:`irm_penalty`
  (IRMv1, with environments instead of groups).  :func:`train_group_robust`
  trains a model with ERM, reweighting, Group DRO or JTT: one call of
  :func:`tmlbook.training.fit` with the batch loss of :func:`group_loss_fn`.
- Scenario 2 (the bias type is known): :func:`gce_loss` and
  :func:`lff_weights` (Learning from Failure), :func:`hsic` (the dependence
  measure behind ReBias).
- Scenario 3 (diverse models): :func:`gradient_diversity_penalty`.

Conventions: losses are in nats and averaged over samples; group ``g`` of
D-group is ``2 * y + a``; all randomness is drawn from generators seeded with
the ``seed`` argument.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tmlbook.checks import (
    as_tensor,
    check_finite,
    check_groups,
    check_int,
    check_labels,
    check_matrix,
    check_ndim,
)
from tmlbook.data import load_digits_splits
from tmlbook.device import get_device
from tmlbook.training import fit, predict_proba

METHODS = ("erm", "reweight", "group_dro", "jtt")


# ---------------------------------------------------------------------------
# Data: D-cue and D-group
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CueSplit:
    """One split of the cue-conflict digits.

    Attributes
    ----------
    X : torch.Tensor, shape (n, 64 + n_classes), float32
        Pixels in [0, 1] followed by ``strength * one_hot(colour)``.
    shape : torch.Tensor, shape (n,), int64
        The digit (the "shape" cue); this is the label we want a model to read.
    colour : torch.Tensor, shape (n,), int64
        The colour cue, in the same label space as ``shape``.
    """

    X: torch.Tensor
    shape: torch.Tensor
    colour: torch.Tensor

    def __len__(self) -> int:
        return int(self.shape.shape[0])

    def labels_by_cue(self) -> dict[str, torch.Tensor]:
        """``{"shape": ..., "colour": ...}`` for :func:`cue_accuracies`."""
        return {"shape": self.shape, "colour": self.colour}


@dataclass(frozen=True)
class CueDigits:
    """D-cue: ``train`` on the diagonal (colour = digit, up to ``rho``), ``test``
    off the diagonal (colour != digit for every image)."""

    train: CueSplit
    test: CueSplit


def _off_diagonal(
    labels: torch.Tensor, n_classes: int, gen: torch.Generator
) -> torch.Tensor:
    """A uniformly random label different from each entry of ``labels``."""
    shift = torch.randint(1, n_classes, labels.shape, generator=gen)
    return (labels + shift) % n_classes


def make_cue_conflict_digits(
    strength: float = 3.0,
    rho: float = 0.0,
    digits: tuple[int, ...] = (0, 1, 2),
    seed: int = 0,
) -> CueDigits:
    """The cue-conflict digits "D-cue": shape (the digit) versus colour.

    Every image of the chosen digits gets ``len(digits)`` extra input
    dimensions, ``strength * one_hot(colour)``.  In the training split the
    colour equals the label ("diagonal"), except for a fraction ``rho`` of
    images whose colour is drawn uniformly among the *other* classes
    ("bias-conflicting" samples).  In the test split every colour is off the
    diagonal, so the shape and the colour cue always disagree and a model's
    prediction reveals which cue it reads.

    The images are the ``train_full`` (375 images for digits 0/1/2) and
    ``test`` (162) splits of :func:`tmlbook.data.load_digits_splits`; digits
    are relabelled ``0, ..., len(digits) - 1`` in the given order.

    Parameters
    ----------
    strength : float
        Value of the lit colour dimension (STR); pixels lie in [0, 1].
    rho : float
        Fraction of bias-conflicting training images, in [0, 1).
    digits : tuple of int
        At least two distinct digits.
    seed : int
        Seeds which training images conflict and the test colours.

    Returns
    -------
    CueDigits
        ``train`` and ``test`` :class:`CueSplit` with ``X`` of shape
        (n, 64 + len(digits)).
    """
    if strength <= 0:
        raise ValueError(f"strength must be positive, got {strength}")
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho must lie in [0, 1), got {rho}")
    digits = tuple(int(d) for d in digits)
    if (
        len(digits) < 2
        or len(set(digits)) != len(digits)
        or not all(0 <= d <= 9 for d in digits)
    ):
        raise ValueError(f"digits must be >= 2 distinct digits in 0..9, got {digits}")
    k = len(digits)
    splits = load_digits_splits()
    gen = torch.Generator().manual_seed(seed)

    def select(split):
        keep = torch.zeros_like(split.y, dtype=torch.bool)
        label = torch.full_like(split.y, -1)
        for new, d in enumerate(digits):
            keep |= split.y == d
            label[split.y == d] = new
        return split.X[keep], label[keep]

    def build(X, shape, colour):
        onehot = F.one_hot(colour, k).to(X.dtype) * strength
        return CueSplit(torch.cat([X, onehot], dim=1), shape, colour)

    X_tr, y_tr = select(splits.train_full)
    colour_tr = y_tr.clone()
    n_conflict = int(round(rho * len(y_tr)))
    if n_conflict:
        idx = torch.randperm(len(y_tr), generator=gen)[:n_conflict]
        colour_tr[idx] = _off_diagonal(y_tr[idx], k, gen)
    X_te, y_te = select(splits.test)
    colour_te = _off_diagonal(y_te, k, gen)
    return CueDigits(build(X_tr, y_tr, colour_tr), build(X_te, y_te, colour_te))


@dataclass(frozen=True)
class GroupSplit:
    """One split of the spurious-group digits.

    Attributes
    ----------
    X : torch.Tensor, shape (n, 64 + n_spurious), float32
    y : torch.Tensor, shape (n,), int64
        The task label 1[digit >= 5].
    a : torch.Tensor, shape (n,), int64
        The spurious attribute in {0, 1}.
    g : torch.Tensor, shape (n,), int64
        The group ``2 * y + a`` in {0, 1, 2, 3}; groups 1 and 2 (a != y) are the
        minority groups of the training split.
    """

    X: torch.Tensor
    y: torch.Tensor
    a: torch.Tensor
    g: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class GroupDigits:
    """D-group: ``train`` with a spurious attribute, ``test`` with balanced groups."""

    train: GroupSplit
    test: GroupSplit


GROUP_NAMES = ("y=0, a=0", "y=0, a=1", "y=1, a=0", "y=1, a=1")


def make_group_digits(
    p_agree: float = 0.95,
    n_train: int = 1000,
    n_spurious: int = 8,
    noise: float = 0.1,
    seed: int = 0,
) -> GroupDigits:
    """The spurious-group digits "D-group".

    The task is y = 1[digit >= 5].  Each image has a binary attribute ``a``
    that is encoded in ``n_spurious`` extra input dimensions, each equal to
    (2a - 1) + N(0, noise^2).  In the training split, a = y with probability
    ``p_agree`` (independently per image), so the attribute is a strong but
    spurious cue; in the test split the four groups (y, a) are balanced:
    within each class, half of the images (rounded down) get a = 1.

    Training images are ``n_train`` images of ``train_full`` (a seeded random
    subset); test images are the 540 images of the ``test`` split.

    Parameters
    ----------
    p_agree : float
        P(a = y) in training, in [0, 1].
    n_train : int
        Number of training images, 1 <= n_train <= 1257.
    n_spurious : int
        Number of spurious dimensions (>= 1).
    noise : float
        Standard deviation of the Gaussian noise on them (>= 0).
    seed : int

    Returns
    -------
    GroupDigits
        ``train`` (n_train rows) and ``test`` (540 rows) :class:`GroupSplit`,
        ``X`` of shape (n, 64 + n_spurious).
    """
    if not 0.0 <= p_agree <= 1.0:
        raise ValueError(f"p_agree must lie in [0, 1], got {p_agree}")
    if n_spurious < 1:
        raise ValueError(f"n_spurious must be >= 1, got {n_spurious}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    splits = load_digits_splits()
    if not 1 <= n_train <= len(splits.train_full):
        raise ValueError(
            f"n_train must lie in [1, {len(splits.train_full)}], got {n_train}"
        )
    gen = torch.Generator().manual_seed(seed)

    def build(X, y, a):
        spur = (2 * a - 1).to(X.dtype).unsqueeze(1).expand(-1, n_spurious)
        spur = spur + noise * torch.randn(len(y), n_spurious, generator=gen)
        return GroupSplit(torch.cat([X, spur], dim=1), y, a, 2 * y + a)

    idx = torch.randperm(len(splits.train_full), generator=gen)[:n_train]
    X_tr = splits.train_full.X[idx]
    y_tr = (splits.train_full.y[idx] >= 5).long()
    agree = torch.rand(n_train, generator=gen) < p_agree
    a_tr = torch.where(agree, y_tr, 1 - y_tr)

    y_te = (splits.test.y >= 5).long()
    a_te = torch.zeros_like(y_te)
    for c in (0, 1):
        members = torch.nonzero(y_te == c)[:, 0]
        members = members[torch.randperm(len(members), generator=gen)]
        a_te[members[: len(members) // 2]] = 1
    return GroupDigits(build(X_tr, y_tr, a_tr), build(splits.test.X, y_te, a_te))


# ---------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------


def _predictions(model: nn.Module, X: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The model's predicted classes on ``X``, shape (n,), and its number of outputs."""
    probs = predict_proba(model, check_matrix(X, "X"))
    return probs.argmax(dim=1), probs.shape[1]


def cue_accuracies(
    model: nn.Module, X: torch.Tensor, labels_by_cue: dict[str, torch.Tensor]
) -> dict[str, float]:
    """The cue-by-cue diagnostic (book section 2.8.4).

    On data where the cues disagree, the fraction of predictions that agree
    with each cue's label::

        acc_cue = (1/n) sum_i 1[f(x_i) = label_cue(x_i)].

    If the cues disagree on every sample, the accuracies sum to at most 1 and
    the largest one names the cue the model reads.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.
    X : torch.Tensor, shape (n, d)
    labels_by_cue : dict of str -> torch.Tensor of shape (n,)
        Integer labels that each cue would give.

    Returns
    -------
    dict of str -> float
        One accuracy in [0, 1] per cue, same keys as ``labels_by_cue``.
    """
    if not isinstance(labels_by_cue, dict) or not labels_by_cue:
        raise TypeError("labels_by_cue must be a non-empty dict {cue name: labels}")
    pred, n_classes = _predictions(model, X)
    out = {}
    for cue, labels in labels_by_cue.items():
        labels = as_tensor(labels, f"labels_by_cue[{cue!r}]").cpu()
        check_labels(labels, len(pred), n_classes, name=f"labels_by_cue[{cue!r}]")
        out[cue] = float((pred == labels).float().mean())
    return out


def group_accuracies(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor,
    n_groups: int | None = None,
) -> torch.Tensor:
    """Accuracy of ``model`` within each group.

    Parameters
    ----------
    model : nn.Module
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), int64 labels
    groups : torch.Tensor, shape (n,), int64 in [0, n_groups)
    n_groups : int, optional
        Defaults to ``groups.max() + 1``.

    Returns
    -------
    torch.Tensor, shape (n_groups,), float64
        Accuracy per group; ``nan`` for a group without samples.
    """
    pred, n_classes = _predictions(model, X)
    y = as_tensor(y, "y").cpu()
    check_labels(y, len(pred), n_classes)
    groups = as_tensor(groups, "groups").cpu()
    n_groups = check_groups(groups, len(pred), n_groups)
    correct = (pred == y).double()
    hits = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, correct)
    counts = torch.bincount(groups, minlength=n_groups).double()
    return torch.where(counts > 0, hits / counts.clamp(min=1), torch.nan)


def worst_group_accuracy(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor,
    n_groups: int | None = None,
) -> float:
    """Smallest accuracy over the non-empty groups (see :func:`group_accuracies`)."""
    accs = group_accuracies(model, X, y, groups, n_groups)
    return float(accs[~torch.isnan(accs)].min())


# ---------------------------------------------------------------------------
# Scenario 1: group labels -- reweighting, Group DRO; JTT; IRMv1
# ---------------------------------------------------------------------------


def group_weights(groups: torch.Tensor, n_groups: int | None = None) -> torch.Tensor:
    """Per-sample weights that give every non-empty group the same total weight.

    w_i = n / (G' * n_{g_i}), where n_g is the size of group g and G' the number
    of non-empty groups; the weights average to 1.

    Parameters
    ----------
    groups : torch.Tensor, shape (n,), int64 in [0, n_groups)
    n_groups : int, optional

    Returns
    -------
    torch.Tensor, shape (n,), float32
    """
    groups = as_tensor(groups, "groups")
    if groups.dim() == 1 and groups.shape[0] == 0:
        raise ValueError("groups is empty")
    n_groups = check_groups(groups, groups.shape[0], n_groups)
    counts = torch.bincount(groups, minlength=n_groups).to(torch.float32)
    present = int((counts > 0).sum())
    return groups.shape[0] / (present * counts[groups])


def group_dro_step(
    losses: torch.Tensor, groups: torch.Tensor, q: torch.Tensor, eta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One online Group DRO step (Sagawa et al. 2020, Algorithm 1).

    With the mean loss of each group in the batch, l_g = mean_{i: g_i = g} l_i,
    the group weights are updated by exponentiated gradient ascent and the
    model minimises the weighted loss::

        q_g <- q_g * exp(eta * l_g),   q <- q / sum_g q_g,
        loss = sum_g q_g * l_g          (with the updated q).

    A group without samples in the batch gets l_g = 0, as in the authors'
    code: its weight is not increased and it adds nothing to the loss (it
    still loses weight relative to the others through the normalisation).

    Parameters
    ----------
    losses : torch.Tensor, shape (n,)
        Per-sample losses (``reduction="none"``); gradients flow through them.
    groups : torch.Tensor, shape (n,), int64 in [0, G)
    q : torch.Tensor, shape (G,)
        Current group weights: non-negative, summing to 1.
    eta : float
        Step size of the q update (>= 0).

    Returns
    -------
    loss : torch.Tensor, shape ()
        The robust loss sum_g q_g l_g, differentiable w.r.t. ``losses``.
    q_new : torch.Tensor, shape (G,)
        The updated weights (detached, same dtype and device as ``q``).
    """
    losses = as_tensor(losses, "losses")
    groups = as_tensor(groups, "groups")
    q = as_tensor(q, "q")
    check_ndim(losses, 1, "losses", "(n,)")
    check_ndim(q, 1, "q", "(G,)")
    if losses.shape[0] == 0:
        raise ValueError("losses is empty: a Group DRO step needs at least one sample")
    check_finite(losses, "losses")
    n_groups = check_groups(groups, losses.shape[0], q.shape[0])
    if not q.dtype.is_floating_point or (q < 0).any() or abs(float(q.sum()) - 1) > 1e-5:
        raise ValueError("q must be a non-negative float vector that sums to 1")
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    groups = groups.to(losses.device)
    sums = torch.zeros(n_groups, dtype=losses.dtype, device=losses.device)
    sums = sums.index_add(0, groups, losses)
    counts = torch.bincount(groups, minlength=n_groups).to(losses.dtype)
    group_loss = sums / counts.clamp(min=1)  # 0 for empty groups
    q_new = q.detach() * torch.exp(eta * group_loss.detach().to(q.dtype).to(q.device))
    q_new = q_new / q_new.sum()
    loss = (q_new.to(losses.device, losses.dtype) * group_loss).sum()
    return loss, q_new


def jtt_upweight(correct: torch.Tensor, lambda_up: float) -> torch.Tensor:
    """Just Train Twice sample weights (Liu et al. 2021).

    The error set E of a briefly trained ERM model is up-weighted by
    ``lambda_up``: w_i = lambda_up if i in E else 1.  (The paper repeats the
    error set lambda_up times in the data; weighting the loss is the same in
    expectation.)

    Parameters
    ----------
    correct : torch.Tensor, shape (n,), bool
        Whether the stage-1 model classified each training sample correctly.
    lambda_up : float
        Up-weighting factor, >= 1.

    Returns
    -------
    torch.Tensor, shape (n,), float32
    """
    correct = as_tensor(correct, "correct")
    check_ndim(correct, 1, "correct", "(n,)")
    if correct.dtype != torch.bool:
        raise TypeError(f"correct must be a boolean tensor, got {correct.dtype}")
    if lambda_up < 1:
        raise ValueError(f"lambda_up must be >= 1, got {lambda_up}")
    w = torch.ones(correct.shape[0], dtype=torch.float32, device=correct.device)
    w[~correct] = float(lambda_up)
    return w


def irm_penalty(
    logits: torch.Tensor, y: torch.Tensor, loss: str = "ce"
) -> torch.Tensor:
    """The IRMv1 penalty of one environment (Arjovsky et al. 2019).

    With a dummy scalar classifier w multiplying the model's output, the
    penalty is the squared gradient of the environment's risk at w = 1::

        P = ( d/dw R(w * f) |_{w=1} )^2.

    It is zero when scaling the outputs cannot lower the risk, i.e. when the
    (fixed) classifier w = 1 is already optimal for this environment.

    Parameters
    ----------
    logits : torch.Tensor
        Shape (n, K) for ``loss="ce"`` (mean softmax cross-entropy); shape (n,)
        of predictions for ``loss="mse"`` (mean squared error).
    y : torch.Tensor
        Shape (n,): integer labels for ``"ce"``, real targets for ``"mse"``.
    loss : {"ce", "mse"}

    Returns
    -------
    torch.Tensor, shape ()
        Non-negative; differentiable w.r.t. ``logits`` (``create_graph=True``),
        so it can be added to a training loss.
    """
    logits = as_tensor(logits, "logits")
    y = as_tensor(y, "y")
    if not logits.dtype.is_floating_point:
        raise TypeError(f"logits must be floating point, got {logits.dtype}")
    check_finite(logits, "logits")
    if logits.shape[0] == 0:
        raise ValueError("logits is empty")
    scale = torch.ones((), dtype=logits.dtype, device=logits.device, requires_grad=True)
    if loss == "ce":
        check_ndim(logits, 2, "logits", "(n, K)")
        check_labels(y.cpu(), logits.shape[0], logits.shape[1])
        risk = F.cross_entropy(logits * scale, y.to(logits.device))
    elif loss == "mse":
        check_ndim(logits, 1, "logits", "(n,)")
        if y.shape != logits.shape:
            raise ValueError(
                f"y must have shape {tuple(logits.shape)}, got {tuple(y.shape)}"
            )
        risk = ((logits * scale - y.to(logits)) ** 2).mean()
    else:
        raise ValueError(f"loss must be 'ce' or 'mse', got {loss!r}")
    (grad,) = torch.autograd.grad(risk, [scale], create_graph=True)
    return grad**2


# ---------------------------------------------------------------------------
# Training with ERM, reweighting, Group DRO or JTT
# ---------------------------------------------------------------------------


def group_loss_fn(
    method: str,
    groups: torch.Tensor,
    n_groups: int = 1,
    weights: torch.Tensor | None = None,
    eta: float = 0.1,
):
    """The mini-batch loss of ERM, reweighting, Group DRO or JTT, for ``fit``.

    All four methods share :func:`tmlbook.training.fit`; they differ only in
    how the per-sample cross-entropies l_i of a batch are combined: the mean
    (``"erm"``), the mean of ``weights[i] * l_i`` (``"reweight"``, ``"jtt"``),
    or :func:`group_dro_step`, whose weights q start uniform and are carried
    from batch to batch (``"group_dro"``).

    Parameters
    ----------
    method : {"erm", "reweight", "group_dro", "jtt"}
    groups : torch.Tensor, shape (n,), int64 in [0, n_groups)
        Group of every training row (used by Group DRO only).
    n_groups : int
    weights : torch.Tensor, shape (n,), optional
        Per-sample weights of every training row (reweighting, JTT).
    eta : float
        Group DRO step size.

    Returns
    -------
    loss_fn : callable
        ``loss_fn(model, xb, yb, idx) -> loss`` of shape (), for ``fit``.
    q : torch.Tensor, shape (n_groups,), float64
        Group DRO's current weights, updated in place by ``loss_fn``.
    """
    q = torch.full(
        (n_groups,), 1.0 / n_groups, dtype=torch.float64, device=groups.device
    )

    def loss_fn(model, xb, yb, idx):
        per_sample = F.cross_entropy(model(xb), yb, reduction="none")
        if method == "group_dro":
            loss, q_new = group_dro_step(per_sample, groups[idx], q, eta)
            q.copy_(q_new)
            return loss
        if weights is not None:
            return (weights[idx] * per_sample).mean()
        return per_sample.mean()

    return loss_fn, q


def train_group_robust(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor | None = None,
    method: str = "erm",
    *,
    n_groups: int | None = None,
    epochs: int = 50,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    eta: float = 0.1,
    jtt_epochs: int = 2,
    lambda_up: float = 20.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> dict[str, list]:
    """Train ``model`` in place with ERM, group reweighting, Group DRO or JTT.

    :func:`tmlbook.training.fit` (Adam, mini-batches drawn by a generator
    seeded with ``seed``) with the loss of :func:`group_loss_fn`.  The
    methods differ only in how the per-sample losses of a batch are combined:

    - ``"erm"``: mean loss;
    - ``"reweight"``: mean of ``group_weights(groups) * loss``;
    - ``"group_dro"``: :func:`group_dro_step` with step size ``eta``, q starting
      uniform and carried across batches;
    - ``"jtt"``: stage 1 trains a copy of ``model`` (same initial weights)
      with ERM for ``jtt_epochs``; its misclassified training
      samples are up-weighted by ``lambda_up``
      (:func:`jtt_upweight`) when ``model`` is trained.  JTT
      does not use ``groups``.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) to (n, K) logits.
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), int64 labels
    groups : torch.Tensor, shape (n,), int64, optional
        Needed by ``"reweight"`` and ``"group_dro"``.
    method : {"erm", "reweight", "group_dro", "jtt"}
    n_groups : int, optional
        Defaults to ``groups.max() + 1``.
    epochs, lr, batch_size, weight_decay : training budget and Adam settings.
    eta : float
        Group DRO step size.
    jtt_epochs, lambda_up : JTT's stage-1 length and up-weighting factor.
    seed : int
    device : torch.device, optional
    progress : bool, optional

    Returns
    -------
    dict
        ``"loss"``: mean training loss per epoch; ``"q"``: Group DRO weights
        at the end of each epoch (uniform for other methods); for JTT also
        ``"error_set"``: indices (int64 tensor) of the up-weighted samples.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    X = check_matrix(X, "X")
    jtt_epochs = check_int(jtt_epochs, "jtt_epochs")
    if method in ("reweight", "group_dro"):
        if groups is None:
            raise ValueError(f"method {method!r} needs group labels: pass groups=")
        groups = as_tensor(groups, "groups")
        n_groups = check_groups(groups, X.shape[0], n_groups)
    else:
        groups, n_groups = torch.zeros(X.shape[0], dtype=torch.int64), 1
    device = torch.device(device) if device is not None else get_device()
    groups = groups.to(device)
    budget = dict(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        seed=seed,
        device=device,
        progress=progress,
    )
    weights = error_set = None
    if method == "reweight":
        weights = group_weights(groups, n_groups)
    elif method == "jtt":
        stage1 = copy.deepcopy(model)
        erm_loss, _ = group_loss_fn("erm", groups)
        fit(stage1, X, y, loss_fn=erm_loss, **dict(budget, epochs=jtt_epochs))
        correct = predict_proba(stage1, X).argmax(dim=1) == as_tensor(y, "y").cpu()
        weights = jtt_upweight(correct, lambda_up).to(device)
        error_set = torch.nonzero(~correct)[:, 0]
    loss_fn, q = group_loss_fn(method, groups, n_groups, weights, eta)

    def record_q(history):
        history.setdefault("q", []).append(q.cpu().tolist())

    history = fit(model, X, y, loss_fn=loss_fn, on_epoch_end=record_q, **budget)
    if error_set is not None:
        history["error_set"] = error_set
    return history


# ---------------------------------------------------------------------------
# Scenario 2: the bias type is known -- LfF (GCE) and ReBias (HSIC)
# ---------------------------------------------------------------------------


def gce_loss(
    logits: torch.Tensor, y: torch.Tensor, q: float = 0.7, reduction: str = "mean"
) -> torch.Tensor:
    """Generalised cross-entropy (Zhang & Sabuncu 2018)::

        GCE(p, y) = (1 - p_y^q) / q,    p = softmax(logits).

    As q -> 0 it tends to the cross-entropy -log p_y; at q = 1 it is 1 - p_y,
    half the L1 distance between p and the one-hot label (MAE).  Its gradient
    is the cross-entropy gradient times p_y^q, so it emphasises samples the
    model already finds easy: Learning from Failure uses it to train a model
    that is deliberately biased.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, K)
    y : torch.Tensor, shape (n,), int64 labels
    q : float
        In (0, 1].
    reduction : {"mean", "none"}

    Returns
    -------
    torch.Tensor, shape () or (n,)
    """
    logits = as_tensor(logits, "logits")
    y = as_tensor(y, "y")
    check_ndim(logits, 2, "logits", "(n, K)")
    check_finite(logits, "logits")
    check_labels(y.cpu(), logits.shape[0], logits.shape[1])
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must lie in (0, 1], got {q}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    y = y.to(logits.device).view(-1, 1)
    log_py = F.log_softmax(logits, dim=1).gather(1, y)[:, 0]
    per_sample = -torch.expm1(q * log_py) / q  # (1 - p_y^q) / q, exact for small q
    return per_sample.mean() if reduction == "mean" else per_sample


def lff_weights(loss_biased: torch.Tensor, loss_debiased: torch.Tensor) -> torch.Tensor:
    """Learning-from-Failure relative difficulty (Nam et al. 2020)::

        W(x) = CE_B(x) / (CE_B(x) + CE_D(x)).

    Samples the biased model finds hard (bias-conflicting ones) get weights
    near 1.  The paper smooths the losses with a per-sample moving average and
    normalises them per class; this function takes whatever losses it is given.

    Parameters
    ----------
    loss_biased, loss_debiased : torch.Tensor, shape (n,)
        Non-negative per-sample cross-entropies of the two models.

    Returns
    -------
    torch.Tensor, shape (n,), detached, in [0, 1]; 0.5 where both losses are 0.
    """
    lb = as_tensor(loss_biased, "loss_biased").detach()
    ld = as_tensor(loss_debiased, "loss_debiased").detach()
    check_ndim(lb, 1, "loss_biased", "(n,)")
    if ld.shape != lb.shape:
        raise ValueError(
            f"loss_debiased must have shape {tuple(lb.shape)}, got {tuple(ld.shape)}"
        )
    check_finite(lb, "loss_biased")
    check_finite(ld, "loss_debiased")
    if (lb < 0).any() or (ld < 0).any():
        raise ValueError("losses must be non-negative")
    total = lb + ld
    return torch.where(
        total > 0,
        lb / total.clamp(min=torch.finfo(lb.dtype).tiny),
        torch.full_like(lb, 0.5),
    )


def _gaussian_gram(Z: torch.Tensor, sigma: float | None) -> torch.Tensor:
    d2 = torch.cdist(Z, Z).pow(2)
    if sigma is None:
        off = d2.detach()[~torch.eye(len(Z), dtype=torch.bool, device=Z.device)]
        positive = off[off > 0]
        # torch.quantile interpolates like numpy.median (torch.median does not)
        sigma = float(torch.quantile(positive.sqrt(), 0.5)) if len(positive) else 1.0
    if sigma <= 0:
        raise ValueError(f"kernel bandwidth must be positive, got {sigma}")
    return torch.exp(-d2 / (2.0 * sigma**2))


def hsic(
    X: torch.Tensor,
    Y: torch.Tensor,
    sigma_x: float | None = None,
    sigma_y: float | None = None,
) -> torch.Tensor:
    """Biased HSIC estimator with Gaussian kernels (Gretton et al. 2005)::

        HSIC_b = tr(K H L H) / (n - 1)^2,   H = I - 11^T / n,
        K_ij = exp(-||x_i - x_j||^2 / (2 sigma_x^2)), L likewise for Y.

    HSIC is 0 in the population iff X and Y are independent (for
    characteristic kernels such as the Gaussian), so it catches non-linear
    dependence that a correlation coefficient misses.  The estimator is
    biased upwards by O(1/n).  Default bandwidths follow the median
    heuristic: sigma = median of the positive pairwise distances (the
    average of the two middle values for an even count, as numpy's), or 1 if
    all points coincide.

    Parameters
    ----------
    X : torch.Tensor, shape (n,) or (n, d_x)
    Y : torch.Tensor, shape (n,) or (n, d_y)
    sigma_x, sigma_y : float, optional
        Kernel bandwidths; ``None`` uses the median heuristic.

    Returns
    -------
    torch.Tensor, shape ()
        Differentiable w.r.t. X and Y (bandwidths are treated as constants).
    """
    X = as_tensor(X, "X")
    Y = as_tensor(Y, "Y")
    X = X.unsqueeze(1) if X.dim() == 1 else X
    Y = Y.unsqueeze(1) if Y.dim() == 1 else Y
    check_ndim(X, 2, "X", "(n,) or (n, d_x)")
    check_ndim(Y, 2, "Y", "(n,) or (n, d_y)")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y need the same number of rows, got {X.shape[0]} and {Y.shape[0]}"
        )
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"HSIC needs at least 2 samples, got {n}")
    if not X.dtype.is_floating_point:
        X = X.double()
    Y = Y.to(X.dtype)
    check_finite(X, "X")
    check_finite(Y, "Y")
    sx = None if sigma_x is None else float(sigma_x)
    sy = None if sigma_y is None else float(sigma_y)
    K = _gaussian_gram(X, sx)
    L = _gaussian_gram(Y, sy)
    H = torch.eye(n, dtype=X.dtype, device=X.device) - 1.0 / n
    return torch.trace(K @ H @ L @ H) / (n - 1) ** 2


# ---------------------------------------------------------------------------
# Scenario 3: diverse models
# ---------------------------------------------------------------------------


def gradient_diversity_penalty(
    model_a: nn.Module, model_b: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Mean squared cosine similarity of two models' input gradients.

    For each sample, g_m = d f_m(x)_y / dx is the gradient of model m's logit
    of the true class with respect to the input; the penalty is
    mean_i cos^2(g_a(x_i), g_b(x_i)) (Teney et al. 2022).  Adding it to the
    two models' losses pushes them to rely on different input directions.

    Parameters
    ----------
    model_a, model_b : nn.Module
        Map (n, d) to (n, K) logits.
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), int64 labels

    Returns
    -------
    torch.Tensor, shape (), in [0, 1]; differentiable w.r.t. both models'
    parameters.
    """
    X = check_matrix(X, "X")
    y = as_tensor(y, "y")
    x = X.detach().clone().requires_grad_(True)
    grads = []
    for model in (model_a, model_b):
        logits = model(x)
        check_labels(y.cpu(), X.shape[0], logits.shape[1])
        picked = logits.gather(1, y.to(x.device).view(-1, 1)).sum()
        (g,) = torch.autograd.grad(picked, [x], create_graph=True)
        grads.append(g)
    cos = F.cosine_similarity(grads[0], grads[1], dim=1, eps=1e-12)
    return (cos**2).mean()
