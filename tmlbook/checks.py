"""Input validation with clear messages.

Every public function checks its inputs with these helpers so that bad input
raises an error that names the problem instead of returning a wrong number.
"""

from __future__ import annotations

import numpy as np
import torch


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


def check_labels(y: torch.Tensor, n: int, n_classes: int, name: str = "y") -> None:
    """Raise unless ``y`` is a 1-D integer tensor of ``n`` labels in [0, n_classes)."""
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(
            f"{name} must have shape (n,) with n={n}, got {tuple(y.shape)}"
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if n and (int(y.min()) < 0 or int(y.max()) >= n_classes):
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
    # entry makes its row sum non-finite, so the sums double as the finite check
    sums = t.sum(dim=-1)
    if not bool(torch.isfinite(sums).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    if t.numel() and float(t.min()) < 0:
        raise ValueError(f"{name} has negative entries; expected probabilities")
    worst = float((sums - 1).abs().max()) if sums.numel() else 0.0
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
