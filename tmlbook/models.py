"""Small models for the 8x8 digits: an MLP and a CNN."""

from __future__ import annotations

from importlib import resources

import torch
from torch import nn


class MLP(nn.Module):
    """A ReLU multi-layer perceptron.

    The book's reference model ("M-mlp") is ``MLP()``: 64-128-128-10.

    Parameters
    ----------
    n_in : int
        Input features (64 for flat digits).
    hidden : tuple of int
        Widths of the hidden layers.
    n_out : int
        Number of classes.

    Shapes
    ------
    ``forward``: (n, n_in) -> logits (n, n_out)
    """

    def __init__(
        self, n_in: int = 64, hidden: tuple[int, ...] = (128, 128), n_out: int = 10
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.n_in = n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"MLP expects inputs of shape (n, {self.n_in}), got {tuple(x.shape)}"
            )
        return self.net(x)


class SmallCNN(nn.Module):
    """conv16 - conv32 - global average pooling - linear, for 1x8x8 digits.

    The global-average-pooling head makes CAM and Grad-CAM coincide (up to
    a factor 1/(H*W)), which the explainability chapters use.

    Shapes
    ------
    ``forward``: (n, 64) or (n, 1, 8, 8) -> logits (n, n_classes)
    ``features``: -> activations (n, 32, 8, 8) before pooling
    """

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(32, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == 64:
            x = x.reshape(-1, 1, 8, 8)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(
                f"SmallCNN expects (n, 64) or (n, 1, 8, 8), got {tuple(x.shape)}"
            )
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


REFERENCE_WEIGHTS = "mlp_digits.pt"
REFERENCE_BN_WEIGHTS = "bn_mlp_digits.pt"


def _shipped_state(name: str) -> dict[str, torch.Tensor]:
    path = resources.files("tmlbook") / "weights" / name
    with resources.as_file(path) as p:
        return torch.load(p, map_location="cpu", weights_only=True)


def load_reference_mlp(device: torch.device | str = "cpu") -> MLP:
    """The shipped reference ``MLP()`` trained on ``train_full`` (see ``bench/``).

    Shipping the weights keeps exercises' thresholds stable across torch
    versions; :func:`tmlbook.training.train_reference_mlp` re-creates them.

    Returns
    -------
    MLP
        In evaluation mode, on ``device``.
    """
    model = MLP()
    model.load_state_dict(_shipped_state(REFERENCE_WEIGHTS))
    return model.to(device).eval()


def load_reference_bn_mlp(device: torch.device | str = "cpu") -> nn.Module:
    """The shipped batch-norm MLP (:class:`tmlbook.robustness.BNMLP`) trained on
    ``train_full``, the model of test-time adaptation.

    :func:`tmlbook.training.train_reference_bn_mlp` re-creates these weights bit
    for bit on the CPU (a test checks it); loading them saves the training.

    Returns
    -------
    BNMLP
        In evaluation mode, on ``device``.
    """
    from tmlbook.robustness import BNMLP

    model = BNMLP()
    model.load_state_dict(_shipped_state(REFERENCE_BN_WEIGHTS))
    return model.to(device).eval()
