"""Small figure helpers used by the chapters."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch


def show_digits(X: torch.Tensor, titles=None, ncols: int = 8, scale: float = 1.2):
    """Draw flat 8x8 digits in a grid.

    Parameters
    ----------
    X : torch.Tensor, shape (n, 64)
    titles : list of str, optional
        One title per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = torch.as_tensor(X).detach().cpu()
    n = X.shape[0]
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.3), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=9)
    fig.tight_layout()
    return fig
