"""A plain training loop: ``fit``, ``evaluate`` and ``predict_proba``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from tmlbook.checks import as_tensor, check_labels, check_ndim
from tmlbook.device import get_device, progress_enabled


def fit(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` with Adam on cross-entropy (empirical risk minimisation).

    Mini-batches are drawn by a generator seeded with ``seed``, so the same
    model, data and seed give the same weights on the CPU.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.  Trained in place.
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), int64 labels
    epochs, lr, batch_size, weight_decay : training budget and Adam settings.
    seed : int
        Seeds the mini-batch order.
    device : torch.device, optional
        Defaults to :func:`tmlbook.get_device`.
    progress : bool, optional
        Draw a progress bar; ``None`` draws one unless ``TML_QUIET`` is set.

    Returns
    -------
    dict
        ``{"loss": [...]}``: the mean training loss of each epoch.
    """
    X = as_tensor(X, "X")
    y = as_tensor(y, "y")
    check_ndim(X, 2, "X", "(n, d)")
    if X.shape[0] == 0:
        raise ValueError("X is empty: nothing to train on")
    check_labels(y, X.shape[0], n_classes=int(y.max()) + 1 if len(y) else 1)
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}"
        )
    device = torch.device(device) if device is not None else get_device()
    model.to(device).train()
    X, y = X.to(device, torch.float32), y.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"loss": []}
    bar = tqdm(
        range(epochs), desc="fit", disable=not progress_enabled(progress), leave=False
    )
    for _ in bar:
        order = torch.randperm(X.shape[0], generator=gen).to(device)
        total = 0.0
        for start in range(0, X.shape[0], batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history["loss"].append(total / X.shape[0])
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
    model.eval()
    return history


@torch.no_grad()
def predict_proba(
    model: nn.Module, X: torch.Tensor, batch_size: int = 1024
) -> torch.Tensor:
    """Softmax probabilities of ``model`` on ``X``.

    Parameters
    ----------
    model : nn.Module
    X : torch.Tensor, shape (n, d)

    Returns
    -------
    torch.Tensor, shape (n, K), on the CPU; rows sum to 1.
    """
    X = as_tensor(X, "X")
    device = next(model.parameters()).device
    model.eval()
    out = [
        torch.softmax(
            model(X[i : i + batch_size].to(device, torch.float32)), dim=1
        ).cpu()
        for i in range(0, X.shape[0], batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` on (X, y).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,)

    Returns
    -------
    float in [0, 1]
    """
    X = as_tensor(X, "X")
    y = as_tensor(y, "y")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if X.shape[0] == 0:
        raise ValueError("cannot evaluate on an empty set")
    pred = predict_proba(model, X).argmax(dim=1)
    return float((pred == y.cpu()).double().mean())


def train_reference_mlp(seed: int = 0, progress: bool | None = None) -> nn.Module:
    """Train the book's reference MLP ("M-mlp") on the ``train_full`` split.

    64-128-128-10 ReLU MLP, Adam lr 1e-3, batch 64, 30 epochs, seed 0.
    """
    from tmlbook.data import load_digits_splits
    from tmlbook.device import set_seed
    from tmlbook.models import MLP

    set_seed(seed)
    model = MLP()
    splits = load_digits_splits()
    fit(
        model, *splits.train_full, epochs=30, seed=seed, device="cpu", progress=progress
    )
    return model


def train_reference_bn_mlp(seed: int = 0) -> nn.Module:
    """Train the book's batch-norm MLP, whose weights ``tmlbook`` ships.

    :func:`tmlbook.robustness.train_bn_mlp` with 30 epochs (Adam lr 1e-3, batch
    64, ``train_full``, seed 0); on the CPU the result equals
    :func:`tmlbook.models.load_reference_bn_mlp` bit for bit.
    """
    from tmlbook.robustness import train_bn_mlp

    return train_bn_mlp(seed=seed, epochs=30)
