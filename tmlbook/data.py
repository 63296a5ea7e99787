"""The digits data with fixed, documented splits, and cues generated from it.

Everything here is offline: scikit-learn ships the 8x8 digits (1797 images)
inside its wheel.

Splits (fixed, stratified by label, ``random_state=0``):

====================  =====  ==============================================
split                 n      how
====================  =====  ==============================================
``test``              540    30 % of all 1797 images
``train_full``        1257   the other 70 %
``val``               357    held out of ``train_full``
``train``             900    ``train_full`` minus ``val``
====================  =====  ==============================================

Pixels are scaled from {0, ..., 16} to [0, 1]; ``X`` is ``float32`` of shape
``(n, 64)`` and ``y`` is ``int64`` of shape ``(n,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tmlbook.checks import as_tensor, check_ndim

N_PIXELS = 64
TEST_SIZE = 540
VAL_SIZE = 357


@dataclass(frozen=True)
class Split:
    """Inputs and labels of one split.

    Attributes
    ----------
    X : torch.Tensor, shape (n, 64), float32 in [0, 1]
    y : torch.Tensor, shape (n,), int64 in {0, ..., 9}
    """

    X: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __iter__(self):
        return iter((self.X, self.y))


@dataclass(frozen=True)
class DigitsSplits:
    """The four fixed splits of the digits data (see the module docstring)."""

    train: Split
    val: Split
    test: Split
    train_full: Split


@lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    return X, y


def load_digits_splits() -> DigitsSplits:
    """Load the digits with the book's fixed splits.

    Returns
    -------
    DigitsSplits
        ``train`` (900), ``val`` (357), ``test`` (540) and ``train_full``
        (1257 = train + val), each a :class:`Split` of CPU tensors.
    """
    X, y = _arrays()
    idx = np.arange(len(y))
    full_idx, test_idx = train_test_split(
        idx, test_size=TEST_SIZE, random_state=0, stratify=y
    )
    train_idx, val_idx = train_test_split(
        full_idx, test_size=VAL_SIZE, random_state=0, stratify=y[full_idx]
    )

    def make(i: np.ndarray) -> Split:
        return Split(torch.from_numpy(X[i].copy()), torch.from_numpy(y[i].copy()))

    return DigitsSplits(make(train_idx), make(val_idx), make(test_idx), make(full_idx))


def as_images(X: torch.Tensor) -> torch.Tensor:
    """Reshape flat digits to images.

    Parameters
    ----------
    X : torch.Tensor, shape (n, 64)

    Returns
    -------
    torch.Tensor, shape (n, 1, 8, 8)
    """
    X = as_tensor(X, "X")
    check_ndim(X, 2, "X", "(n, 64)")
    if X.shape[1] != N_PIXELS:
        raise ValueError(f"X must have 64 columns (8x8 pixels), got {X.shape[1]}")
    return X.reshape(-1, 1, 8, 8)


def add_corner_cue(
    X: torch.Tensor, cue: torch.Tensor, value: float = 1.0
) -> torch.Tensor:
    """Paint a shortcut cue into the top-left pixel of each digit.

    The top-left pixel is 0 in every image of the digits data, so the cue is
    the only thing that ever lights it up.

    Parameters
    ----------
    X : torch.Tensor, shape (n, 64)
        Flat digits in [0, 1].
    cue : torch.Tensor, shape (n,)
        0/1 (or boolean) cue per image.
    value : float
        Brightness of the lit pixel, in [0, 1].

    Returns
    -------
    torch.Tensor, shape (n, 64)
        A copy of ``X`` with pixel 0 set to ``value * cue``.
    """
    X = as_tensor(X, "X")
    check_ndim(X, 2, "X", "(n, 64)")
    cue = as_tensor(cue, "cue")
    if cue.shape != (X.shape[0],):
        raise ValueError(f"cue must have shape ({X.shape[0]},), got {tuple(cue.shape)}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"value must lie in [0, 1], got {value}")
    out = X.clone()
    out[:, 0] = value * cue.to(X.dtype)
    return out
