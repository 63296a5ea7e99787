"""A plain training loop: ``fit``, ``evaluate`` and ``predict_proba``."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from tmlbook.checks import (
    as_tensor,
    check_int,
    check_labels,
    check_matrix,
    check_model,
    check_model_labels,
    check_number,
    check_seed,
)
from tmlbook.device import get_device, progress_enabled


def cross_entropy_loss(
    model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, idx: torch.Tensor
) -> torch.Tensor:
    """The default loss of :func:`fit`: mean cross-entropy of a batch (ERM).

    Parameters
    ----------
    model : nn.Module
        Maps (b, d) inputs to (b, K) logits.
    xb : torch.Tensor, shape (b, d)
    yb : torch.Tensor, shape (b,), int64 labels
    idx : torch.Tensor, shape (b,)
        Row indices of the batch in the training set (unused here).

    Returns
    -------
    torch.Tensor, shape ()
    """
    return F.cross_entropy(model(xb), yb)


def fit(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    loss_fn: Callable | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> dict[str, list]:
    """Train ``model`` in place with Adam on mini-batches: the book's one training loop.

    Each epoch visits the rows of ``X`` in a random order drawn by a generator
    seeded with ``seed``, so the same model, data and seed give the same
    weights on the CPU.  For every batch of row indices ``idx`` the loss is
    ``loss_fn(model, X[idx], y[idx], idx)``; the default is the mean
    cross-entropy (empirical risk minimisation).  The topic methods pass
    their own loss: per-sample weights and Group DRO (:mod:`tmlbook.cues`),
    an adversarial or noisy batch and the entropy of TENT
    (:mod:`tmlbook.robustness`), a source-plus-target loss for domain
    adaptation (:mod:`tmlbook.shift`).  A ``loss_fn`` may return ``None`` to
    skip a batch (e.g. one too small for batch statistics).  Only parameters
    with ``requires_grad`` are trained.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.  Trained in place; in training
        mode during ``fit`` and in evaluation mode afterwards.
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), int64 labels in [0, K), optional
        Checked against the model's number of outputs K.  May be ``None``
        only with a ``loss_fn`` that needs no labels (it then gets
        ``yb=None``).
    loss_fn : callable, optional
        ``loss_fn(model, xb, yb, idx) -> loss``, a tensor of shape () (or
        ``None``); ``xb`` (b, d) and ``yb`` (b,) are on ``device``, ``idx`` (b,)
        holds the batch's row indices into ``X``.  Default
        :func:`cross_entropy_loss`.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(history)`` after each epoch; it may add
        entries to ``history`` (e.g. Group DRO's weights).
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
        ``{"loss": [...]}``: the mean training loss of each epoch (over the
        batches not skipped), plus whatever ``on_epoch_end`` added.
    """
    check_model(model)
    X = check_matrix(X, "X", "(n, d)")
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size")
    lr = check_number(lr, "lr", positive=True)
    weight_decay = check_number(weight_decay, "weight_decay")
    seed = check_seed(seed)
    if y is None and loss_fn is None:
        raise ValueError("y is None: the default cross-entropy loss needs labels")
    if loss_fn is None:
        loss_fn = cross_entropy_loss
    device = torch.device(device) if device is not None else get_device()
    _, dtype = check_model(model.to(device))
    X = X.to(device, dtype)
    if y is not None:
        y = as_tensor(y, "y")
        check_model_labels(model, X, y)
        y = y.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require gradients")
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list] = {"loss": []}
    bar = tqdm(
        range(epochs), desc="fit", disable=not progress_enabled(progress), leave=False
    )
    model.train()
    with torch.enable_grad():  # fit also works inside a torch.no_grad() block
        for _ in bar:
            order = torch.randperm(X.shape[0], generator=gen).to(device)
            total, seen = 0.0, 0
            for start in range(0, X.shape[0], batch_size):
                idx = order[start : start + batch_size]
                yb = None if y is None else y[idx]
                loss = loss_fn(model, X[idx], yb, idx)
                if loss is None:
                    continue
                if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                    raise ValueError(
                        "loss_fn must return a tensor of shape () or None, got "
                        f"{getattr(loss, 'shape', type(loss).__name__)}"
                    )
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
            history["loss"].append(total / seen if seen else float("nan"))
            if on_epoch_end is not None:
                on_epoch_end(history)
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
    device, dtype = check_model(model)
    model.eval()
    out = [
        torch.softmax(model(X[i : i + batch_size].to(device, dtype)), dim=1).cpu()
        for i in range(0, X.shape[0], batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` on (X, y).

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), integer labels in [0, K)

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
    probs = predict_proba(model, X)
    check_labels(y, X.shape[0], probs.shape[1])
    return float((probs.argmax(dim=1) == y.cpu()).double().mean())


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


def check_no_batch_norm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise ValueError(
                "model has a batch-norm layer: it mixes the samples of a batch, "
                "so per-sample gradients (and DP-SGD) are undefined; use "
                "a model without batch statistics (e.g. GroupNorm)"
            )


def per_sample_gradients(model: nn.Module, X, y) -> dict[str, torch.Tensor]:
    """The gradient of the cross-entropy of every sample, with ``torch.func``.

    ``grad`` differentiates the loss of one sample with respect to the
    parameters (the model is called with them by ``functional_call``); ``vmap``
    maps it over the batch without a Python loop.

    Parameters
    ----------
    model : nn.Module
        (b, d) -> (b, K) logits; no batch norm.
    X : shape (b, d);  y : shape (b,), int labels in [0, K)

    Returns
    -------
    dict name -> torch.Tensor of shape (b, *param.shape)
        One entry per parameter that requires gradients.
    """
    check_no_batch_norm(model)
    device, dtype = check_model(model)
    X = check_matrix(X, "X").to(device, dtype)
    y = as_tensor(y, "y").to(device)
    check_model_labels(model, X, y, "y")
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    frozen = {k: v.detach() for k, v in model.named_parameters() if not v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, x, t):
        z = functional_call(model, ({**p, **frozen}, buffers), (x[None],))
        return F.cross_entropy(z, t[None])

    return vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X, y)
