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
