"""Input validation with clear messages.

Every public function checks its inputs with these helpers so that bad input
raises an error that names the problem instead of returning a wrong number.
Topic modules do not grow checks of their own: a check that two functions
need lives here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def as_tensor(x, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert ``x`` (tensor, array or nested list) to a tensor, naming it in errors."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, (np.ndarray, list, tuple, float, int)):
        t = torch.as_tensor(np.asarray(x))
    else:
        raise TypeError(f"{name} must be a tensor or array, got {type(x).__name__}")
    return t if dtype is None else t.to(dtype)


def check_ndim(t: torch.Tensor, ndim: int, name: str, shape_doc: str) -> None:
    """Raise ``ValueError`` unless ``t`` has ``ndim`` dimensions."""
    if t.dim() != ndim:
        raise ValueError(
            f"{name} must have shape {shape_doc}, got shape {tuple(t.shape)}"
        )


def check_same_features(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str):
    """Raise ``ValueError`` unless the 2-D tensors ``a`` and ``b`` have equal widths."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} has {a.shape[1]} features but {name_b} has {b.shape[1]}"
        )


def check_labels(
    y: torch.Tensor, n: int, n_classes: int | None, name: str = "y"
) -> None:
    """Raise unless ``y`` is a 1-D integer tensor of ``n`` labels in [0, n_classes).

    ``n_classes`` is the number of outputs of the model the labels are meant
    for (see :func:`check_model_labels`), never ``y.max() + 1``, which would
    accept any label.  ``None`` checks shape and dtype only, for callers that
    check the range once the logits are known.
    """
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(
            f"{name} must have shape (n,) with n={n}, got {tuple(y.shape)}"
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if n_classes is not None and n and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(
            f"{name} holds labels outside [0, {n_classes}): "
            f"min {int(y.min())}, max {int(y.max())}"
        )


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` holds NaN or infinity."""
    if t.dtype.is_floating_point and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def check_probabilities(
    p: torch.Tensor, name: str = "probs", atol: float = 1e-4
) -> None:
    """Raise unless each row of ``p`` is a probability vector (>= 0, sums to 1)."""
    check_finite(p, name)
    if (p < 0).any():
        raise ValueError(f"{name} has negative entries; expected probabilities")
    sums = p.sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=atol):
        worst = float((sums - 1).abs().max())
        raise ValueError(
            f"{name} rows must sum to 1 (largest deviation {worst:.3g}); "
            "did you pass logits instead of probabilities?"
        )


def check_matrix(X, name: str = "X", shape_doc: str = "(n, d)") -> torch.Tensor:
    """``X`` as a tensor; raise unless it is 2-D, non-empty and finite.

    Returns
    -------
    torch.Tensor, shape (n, d), n >= 1
    """
    X = as_tensor(X, name)
    check_ndim(X, 2, name, shape_doc)
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    check_finite(X, name)
    return X


def check_images(x, name: str = "x") -> torch.Tensor:
    """``x`` as a tensor; raise unless it is a float batch (n, ...) of pixels in [0, 1].

    Returns
    -------
    torch.Tensor, shape (n, ...), floating point, values in [0, 1]
    """
    x = as_tensor(x, name)
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (n, ...), got shape {tuple(x.shape)}")
    check_finite(x, name)
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(
            f"{name} must lie in [0, 1] (pixel range), got values in "
            f"[{float(x.min()):.3g}, {float(x.max()):.3g}]"
        )
    return x


def check_groups(groups: torch.Tensor, n: int, n_groups: int | None) -> int:
    """Raise unless ``groups`` holds ``n`` integer group indices in [0, n_groups).

    Returns
    -------
    int
        The number of groups: ``n_groups``, or ``groups.max() + 1`` if it is None.
    """
    if groups.dim() != 1 or groups.shape[0] != n:
        raise ValueError(f"groups must have shape ({n},), got {tuple(groups.shape)}")
    if groups.dtype.is_floating_point or groups.dtype == torch.bool:
        raise TypeError(f"groups must hold integer group indices, got {groups.dtype}")
    if n_groups is None:
        if n == 0:
            raise ValueError("cannot infer n_groups from an empty groups tensor")
        n_groups = int(groups.max()) + 1
    if n_groups < 1:
        raise ValueError(f"n_groups must be >= 1, got {n_groups}")
    if n and (int(groups.min()) < 0 or int(groups.max()) >= n_groups):
        raise ValueError(
            f"groups must lie in [0, {n_groups}), got min {int(groups.min())}, "
            f"max {int(groups.max())}"
        )
    return n_groups


def as_group_labels(
    groups, n: int, name: str = "groups"
) -> tuple[torch.Tensor, np.ndarray]:
    """Encode ``n`` group labels (integers, strings or bools) as indices 0..G-1.

    Unlike :func:`check_groups`, the labels need not be indices already: a
    sensitive attribute may be stored as ``"a"``/``"b"`` or as ``{3, 7}``.  The
    G distinct labels are sorted (``numpy.unique``), and group ``j`` is the
    ``j``-th of them.  Floats are accepted only if they are whole numbers.

    Returns
    -------
    codes : torch.Tensor, shape (n,), int64 in [0, G)
    labels : numpy.ndarray, shape (G,)
        The distinct labels, sorted; ``labels[codes]`` gives back ``groups``.
    """
    if isinstance(groups, torch.Tensor):
        groups = groups.detach().cpu().numpy()
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got shape {arr.shape}")
    if n == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if (arr != np.round(arr)).any():
            raise TypeError(
                f"{name} must hold group labels (integers or strings), "
                "got non-integer floats"
            )
    elif arr.dtype.kind not in "biuUSO":
        raise TypeError(f"{name} must hold group labels, got dtype {arr.dtype}")
    try:
        labels, codes = np.unique(arr, return_inverse=True)
    except TypeError as err:  # an object array mixing, e.g., strings and ints
        raise TypeError(f"{name} mixes labels that cannot be sorted: {err}") from None
    return torch.from_numpy(codes.reshape(-1).astype(np.int64)), labels


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int; raise ``ValueError`` unless it is an integer >= minimum."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_int or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seed(seed) -> int:
    """``seed`` as an int; raise ``ValueError`` unless it is a non-negative integer."""
    is_int = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
    if not is_int or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_number(
    value, name: str, *, positive: bool = False, signed: bool = False
) -> float:
    """``value`` as a float; raise unless it is a finite number >= 0 (> 0 if
    positive; of either sign if ``signed``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a string, a bool, a tensor, ...).
    ValueError
        If it is NaN, infinite, negative (unless ``signed``), or zero when
        ``positive``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or (value < 0 and not signed):
        rule = "finite" if signed else "finite and >= 0"
        raise ValueError(f"{name} must be {rule}, got {value}")
    if positive and value == 0:
        raise ValueError(f"{name} must be > 0")
    return value


def check_model(model) -> tuple[torch.device, torch.dtype]:
    """Raise ``TypeError`` unless ``model`` is an ``nn.Module``.

    Returns
    -------
    (torch.device, torch.dtype)
        Device and dtype of its first parameter (CPU and float32 without any).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    p = next(model.parameters(), None)
    if p is None:
        return torch.device("cpu"), torch.float32
    return p.device, p.dtype


@torch.no_grad()
def n_outputs(model: nn.Module, X: torch.Tensor) -> int:
    """The number of outputs (classes) K of ``model``: the width of its logits.

    Runs ``model`` on the first row of ``X`` in evaluation mode (so batch-norm
    statistics and dropout are untouched) and restores its mode.

    Parameters
    ----------
    model : nn.Module
        Maps (n, ...) inputs to (n, K) logits.
    X : torch.Tensor, shape (n, ...), n >= 1, on the model's device

    Returns
    -------
    int
    """
    was_training = model.training
    model.eval()
    try:
        logits = model(X[:1])
    finally:
        model.train(was_training)
    if logits.dim() != 2:
        raise ValueError(
            f"model must return logits of shape (n, K), got {tuple(logits.shape)}"
        )
    return int(logits.shape[1])


def check_model_labels(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, name: str = "y"
) -> None:
    """Raise unless ``y`` holds one label per row of ``X`` in [0, K).

    K is the model's number of outputs (:func:`n_outputs`), so a label the
    model cannot predict is an error, not a silently ignored class.

    Parameters
    ----------
    model : nn.Module
    X : torch.Tensor, shape (n, ...), on the model's device
    y : torch.Tensor, shape (n,), integer labels
    """
    check_labels(y, X.shape[0], n_outputs(model, X), name)


def check_accuracy_grid(val_acc, test_acc) -> tuple[np.ndarray, np.ndarray]:
    """Validate the leave-one-domain-out grid of :func:`tmlbook.shift.lodo_grid`.

    Parameters
    ----------
    val_acc : array, shape (H, T, T), T >= 2, finite
    test_acc : array, shape (H, T), finite

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Both as float64 arrays.
    """
    val_acc = np.asarray(val_acc, dtype=np.float64)
    test_acc = np.asarray(test_acc, dtype=np.float64)
    if val_acc.ndim != 3 or val_acc.shape[1] != val_acc.shape[2]:
        raise ValueError(f"val_acc must have shape (H, T, T), got {val_acc.shape}")
    if test_acc.shape != val_acc.shape[:2]:
        raise ValueError(
            f"test_acc must have shape {val_acc.shape[:2]}, got {test_acc.shape}"
        )
    if val_acc.shape[1] < 2:
        raise ValueError("need at least two domains")
    if not (np.isfinite(val_acc).all() and np.isfinite(test_acc).all()):
        raise ValueError("val_acc and test_acc must be finite")
    return val_acc, test_acc


# --- Part III (uncertainty): shared validation of probabilities, scores, levels ---


def as_probabilities(
    p, name: str = "probs", ndim: int = 2, double: bool = True
) -> torch.Tensor:
    """Validate a probability matrix (n, K) or a stack (S, n, K).

    Returns float64 (or the input's floating dtype with ``double=False``).
    Raises ``ValueError`` for the wrong rank, NaN, negative entries or rows that
    do not sum to 1 (the usual sign of logits passed by mistake).
    """
    t = as_tensor(p, name)
    shape_doc = "(n, K)" if ndim == 2 else "(S, n, K): a stack of S samples"
    check_ndim(t, ndim, name, shape_doc)
    if not t.dtype.is_floating_point:
        raise TypeError(f"{name} must be floating point, got dtype {t.dtype}")
    if double:
        t = t.to(torch.float64)
    # two passes over the data (speed matters for 10^6 predictions): a NaN or inf
    # entry makes its row sum non-finite, and aminmax propagates NaN, so the
    # smallest and largest row sums are the finite check and the sum check at once
    sums = t.sum(dim=-1)
    if sums.numel() == 0:
        return t
    lo, hi = (float(v) for v in torch.aminmax(sums))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if t.numel() and float(t.min()) < 0:
        raise ValueError(f"{name} has negative entries; expected probabilities")
    worst = max(hi - 1.0, 1.0 - lo)
    if worst > 1e-4:
        raise ValueError(
            f"{name} rows must sum to 1 (largest deviation {worst:.3g}); "
            "did you pass logits instead of probabilities?"
        )
    return t


def as_vector(x, name: str, n: int | None = None) -> torch.Tensor:
    """A finite 1-D float64 tensor (of length ``n`` if given)."""
    t = as_tensor(x, name)
    if t.dtype == torch.bool:
        t = t.to(torch.float64)
    check_ndim(t, 1, name, "(n,)")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {t.shape[0]}")
    t = t.to(torch.float64)
    check_finite(t, name)
    return t


def as_binary(y, name: str = "y_true", n: int | None = None) -> torch.Tensor:
    """A 1-D bool tensor from labels in {0, 1} (or bool)."""
    t = as_tensor(y, name)
    check_ndim(t, 1, name, "(n,)")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {t.shape[0]}")
    if t.dtype != torch.bool:
        check_finite(t, name)
        if not ((t == 0) | (t == 1)).all():
            raise ValueError(f"{name} must hold binary labels 0/1")
        t = t == 1
    return t


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Raise unless ``0 < alpha < 1``; return it as a float."""
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {alpha}")
    return a
