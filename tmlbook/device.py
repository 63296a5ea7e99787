"""Device selection, seeding and the quiet switch for progress bars."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from tmlbook.checks import check_seed

_VALID_DEVICES = ("cpu", "cuda")


def get_device() -> torch.device:
    """Return the device that book code and exercises should use.

    ``TML_DEVICE`` wins when set (``cpu``, ``cuda`` or ``cuda:N``); otherwise
    CUDA if it is available, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``TML_DEVICE`` names something other than ``cpu`` or ``cuda[:N]``.
    RuntimeError
        If ``TML_DEVICE`` asks for CUDA on a machine without it.
    """
    wanted = os.environ.get("TML_DEVICE", "").strip().lower()
    if not wanted:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted.split(":")[0] not in _VALID_DEVICES:
        raise ValueError(
            f"TML_DEVICE={wanted!r} is not a device: use 'cpu', 'cuda' or 'cuda:N'"
        )
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"TML_DEVICE={wanted!r} but CUDA is not available on this machine; "
            "unset TML_DEVICE or set it to 'cpu'"
        )
    return torch.device(wanted)


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and all GPUs).

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether progress bars should be drawn.

    ``progress=None`` means "automatic": bars are drawn unless ``TML_QUIET`` is
    set, which the book build and the autograder do so that executed pages and
    grading logs stay clean.
    """
    if progress is not None:
        return bool(progress)
    return os.environ.get("TML_QUIET", "") in ("", "0")
