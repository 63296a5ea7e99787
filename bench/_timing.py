"""The bench scripts' one timer (run them as ``python bench/<script>.py``)."""

import time

import numpy as np


def timed(fn, repeats: int = 5):
    """Median wall time of ``repeats`` calls after one warm-up call, and the output."""
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out
