"""L11 -- epistemic uncertainty: ensembles, MC dropout, Bayes by Backprop,
SWAG (diagonal), the last-layer Laplace approximation, and two single-pass
methods: DUQ and evidential networks.

Every classifier method returns a stack of predictive samples of shape
(S, n, K) (or, for Laplace, one predictive (n, K)), ready for
:func:`tmlbook.scoring.mutual_information` and friends.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tmlbook.checks import as_tensor, check_finite, check_labels, check_ndim
from tmlbook.device import set_seed
from tmlbook.models import BayesMLP, DUQNet
from tmlbook.ood import penultimate_features
from tmlbook.training import fit


def deep_ensemble(
    make_model: Callable[[], nn.Module],
    X,
    y,
    n_members: int = 5,
    seed: int = 0,
    **fit_kwargs,
) -> list[nn.Module]:
    """Train ``n_members`` models that differ only in their random seed.

    Member m is initialised after ``set_seed(seed + m)`` and trained by
    :func:`tmlbook.training.fit` with ``seed=seed + m`` (its own batch order).

    Returns
    -------
    list of nn.Module, in evaluation mode
    """
    if n_members < 1:
        raise ValueError(f"n_members must be >= 1, got {n_members}")
    members = []
    for m in range(n_members):
        set_seed(seed + m)
        model = make_model()
        fit(model, X, y, seed=seed + m, **fit_kwargs)
        members.append(model.eval())
    return members


@torch.no_grad()
def predict_stack(models: list[nn.Module], X) -> torch.Tensor:
    """Softmax probabilities of each model: shape (S, n, K), float64.

    Average this stack over S (probabilities, not logits) for the ensemble's
    predictive distribution.
    """
    X = as_tensor(X, "X").to(torch.float32)
    out = []
    for model in models:
        model.eval()
        device = next(model.parameters()).device
        out.append(torch.softmax(model(X.to(device)).double(), dim=1).cpu())
    return torch.stack(out)


@torch.no_grad()
def mc_dropout_predict(
    model: nn.Module, X, n_samples: int = 30, seed: int = 0
) -> torch.Tensor:
    """MC dropout: softmax outputs of ``n_samples`` passes with dropout *on*.

    Only the ``nn.Dropout`` modules are put in training mode (batch-norm layers,
    if any, stay in evaluation mode); the model is back in ``eval()`` after.
    Masks come from a seeded generator, so the result is deterministic on CPU.

    Returns
    -------
    torch.Tensor, shape (S, n, K), float64
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    if not drops:
        raise ValueError("model has no nn.Dropout layer: MC dropout needs one")
    X = as_tensor(X, "X").to(torch.float32)
    device = next(model.parameters()).device
    model.eval()
    for m in drops:
        m.train()
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        out = [
            torch.softmax(model(X.to(device)).double(), dim=1).cpu()
            for _ in range(n_samples)
        ]
    finally:
        torch.set_rng_state(state)
        model.eval()
    return torch.stack(out)


def bayes_by_backprop(
    X,
    y,
    hidden: int = 50,
    noise_sigma: float = 0.1,
    prior_sigma: float = 1.0,
    epochs: int = 2000,
    lr: float = 1e-2,
    seed: int = 0,
) -> BayesMLP:
    """Fit a mean-field Gaussian posterior to 1-D regression data (Blundell et al.).

    Minimises the negative ELBO, KL(q || prior) / n + mean Gaussian NLL with
    fixed noise ``noise_sigma``, one weight sample per step, full batch, Adam.

    Parameters
    ----------
    X : shape (n, 1);  y : shape (n,)

    Returns
    -------
    BayesMLP -- each forward call draws new weights; see :func:`bbb_predict`.
    """
    X = as_tensor(X, "X").to(torch.float32)
    y = as_tensor(y, "y").to(torch.float32)
    check_ndim(X, 2, "X", "(n, d)")
    check_finite(X, "X")
    check_finite(y, "y")
    set_seed(seed)
    model = BayesMLP(X.shape[1], hidden, prior_sigma)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = X.shape[0]
    for _ in range(epochs):
        pred = model(X)[:, 0]
        nll = ((pred - y) ** 2).mean() / (2 * noise_sigma**2)
        loss = nll + model.kl() / n
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@torch.no_grad()
def bbb_predict(model: BayesMLP, X, n_samples: int = 100, seed: int = 0):
    """Predictive samples of a Bayes-by-Backprop network; shape (S, n)."""
    X = as_tensor(X, "X").to(torch.float32)
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        out = torch.stack([model(X)[:, 0] for _ in range(n_samples)])
    finally:
        torch.set_rng_state(gen_state)
    return out.double()


def swag_diagonal(
    model: nn.Module,
    X,
    y,
    epochs: int = 20,
    lr: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SWAG-diagonal: first and second moments of SGD iterates, one per epoch.

    Starting from a trained ``model`` (not modified), run SGD with a constant
    learning rate and collect the flattened weights after every epoch.  The
    mean is the SWA solution; the diagonal variance is E[w^2] - E[w]^2 (clipped
    at 0).

    Returns
    -------
    mean, var : torch.Tensor, each shape (P,), float64
    """
    X = as_tensor(X, "X").to(torch.float32)
    y = as_tensor(y, "y").long()
    check_labels(y, X.shape[0], int(y.max()) + 1)
    work = copy.deepcopy(model).train()
    opt = torch.optim.SGD(work.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    first = torch.zeros_like(_flat(work))
    second = torch.zeros_like(first)
    for _ in range(epochs):
        order = torch.randperm(X.shape[0], generator=gen)
        for s in range(0, X.shape[0], batch_size):
            idx = order[s : s + batch_size]
            loss = F.cross_entropy(work(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        w = _flat(work)
        first += w / epochs
        second += w**2 / epochs
    return first, (second - first**2).clamp_min(0.0)


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()


@torch.no_grad()
def swag_predict(
    model: nn.Module, mean, var, X, n_samples: int = 30, seed: int = 0
) -> torch.Tensor:
    """Softmax outputs for weights drawn from N(mean, diag(var)); (S, n, K)."""
    X = as_tensor(X, "X").to(torch.float32)
    work = copy.deepcopy(model).eval()
    gen = torch.Generator().manual_seed(seed)
    std = torch.as_tensor(var, dtype=torch.float64).sqrt()
    mean = torch.as_tensor(mean, dtype=torch.float64)
    out = []
    for _ in range(n_samples):
        w = mean + std * torch.randn(mean.shape, generator=gen, dtype=torch.float64)
        nn.utils.vector_to_parameters(w.float(), work.parameters())
        out.append(torch.softmax(work(X).double(), dim=1))
    return torch.stack(out)


def _kron_index(k: int, h: int) -> torch.Tensor:
    """Position in (weight row-major, bias) order of parameter (class c, input j).

    Index j = h stands for the bias (the constant feature 1).
    """
    c = torch.arange(k)[:, None]
    j = torch.arange(h + 1)[None, :]
    return torch.where(j < h, c * h + j, k * h + c).reshape(-1)


def _augment(phi: torch.Tensor) -> torch.Tensor:
    return torch.cat([phi, torch.ones(phi.shape[0], 1, dtype=phi.dtype)], dim=1)


@dataclass
class LastLayerLaplace:
    """A Gaussian posterior N(mean, covariance) over the last linear layer.

    Parameters are ordered as ``torch.nn.utils.parameters_to_vector`` orders
    them: the weight (K, h) row by row, then the bias (K,).
    """

    model: nn.Module
    mean: torch.Tensor  # (P,), P = K (h + 1)
    covariance: torch.Tensor  # (P, P)
    n_classes: int

    def predictive(self, X) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean logits (n, K) and logit covariance J Sigma J^T, shape (n, K, K)."""
        phi = _augment(penultimate_features(self.model, X))
        k, h1 = self.n_classes, phi.shape[1]
        idx = _kron_index(k, h1 - 1)
        theta = self.mean[idx].reshape(k, h1)
        cov = self.covariance[idx][:, idx].reshape(k, h1, k, h1)
        f_mu = phi @ theta.T
        f_var = torch.einsum("nh,khlg,ng->nkl", phi, cov, phi)
        return f_mu, f_var

    def predict_proba(self, X) -> torch.Tensor:
        """Probit approximation softmax(mu / sqrt(1 + pi/8 diag Sigma_f)); (n, K)."""
        f_mu, f_var = self.predictive(X)
        var = torch.diagonal(f_var, dim1=1, dim2=2)
        return torch.softmax(f_mu / torch.sqrt(1 + math.pi / 8 * var), dim=1)


def laplace_last_layer(
    model: nn.Module, X, y, prior_precision: float = 1.0
) -> LastLayerLaplace:
    """Last-layer Laplace approximation with the exact GGN, in float64.

    With features phi_i (inputs of the last ``nn.Linear``, plus a constant 1 for
    the bias) and Lambda_i = diag(p_i) - p_i p_i^T, the logits are linear in the
    last layer's parameters, J_i = I_K (x) phi_i^T, so the GGN is the sum over
    samples of Lambda_i (x) phi_i phi_i^T (summed, not averaged).  The posterior
    precision adds ``prior_precision * I``; the model's weights are the mean.

    Parameters
    ----------
    model : nn.Module whose last ``nn.Linear`` (with bias) produces the logits
    X : shape (n, d);  y : shape (n,), int labels (the GGN of cross-entropy
        uses the model's probabilities; y is checked for consistency only)
    prior_precision : float > 0

    Returns
    -------
    LastLayerLaplace
    """
    if not float(prior_precision) > 0:
        raise ValueError(f"prior_precision must be > 0, got {prior_precision}")
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    if last.bias is None:
        raise ValueError("the last nn.Linear layer must have a bias")
    X = as_tensor(X, "X")
    y = as_tensor(y, "y")
    check_labels(y, X.shape[0], last.out_features)
    phi = _augment(penultimate_features(model, X))
    k, h1 = last.out_features, phi.shape[1]
    mean = torch.cat([last.weight.detach().reshape(-1), last.bias.detach()])
    mean = mean.double().cpu()
    idx = _kron_index(k, h1 - 1)
    p = torch.softmax(phi @ mean[idx].reshape(k, h1).T, dim=1)
    lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    ggn_kron = torch.einsum("nkl,nh,ng->khlg", lam, phi, phi).reshape(k * h1, -1)
    ggn = torch.zeros_like(ggn_kron)
    ggn[idx[:, None], idx[None, :]] = ggn_kron
    precision = ggn + float(prior_precision) * torch.eye(k * h1, dtype=torch.float64)
    return LastLayerLaplace(model, mean, torch.linalg.inv(precision), k)


# --- single-pass methods: DUQ and evidential networks -------------------------------


def duq_loss(model: DUQNet, xb: torch.Tensor, yb: torch.Tensor, lam: float = 0.5):
    """DUQ's training loss on one batch (van Amersfoort et al., 2020).

    BCE(kappa, onehot(y)), summed over classes and averaged over the batch, plus the
    two-sided gradient penalty lam * (||grad_x sum_c kappa_c(x)|| - 1)^2, which keeps
    the feature map sensitive to its input so that a far-away input cannot land on
    a centroid.

    Returns
    -------
    torch.Tensor, shape ()
    """
    xb = xb.detach().requires_grad_(True)
    kernels = model(xb)  # (b, C)
    target = F.one_hot(yb, kernels.shape[1]).to(kernels.dtype)
    bce = F.binary_cross_entropy(kernels.clamp(1e-7, 1 - 1e-7), target, reduction="sum")
    (grad,) = torch.autograd.grad(kernels.sum(), xb, create_graph=True)
    penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
    return bce / len(xb) + lam * penalty


def fit_duq(model: DUQNet, X, y, *, lam: float = 0.5, **fit_kwargs) -> dict:
    """Train a :class:`~tmlbook.models.DUQNet` with :func:`tmlbook.training.fit`.

    Each batch first moves the centroids towards the batch's class means of
    W_c phi(x) (the paper does this after the optimiser step; here it happens just
    before the loss, which the one training loop allows), then takes a step on
    :func:`duq_loss`.  The confidence of a trained model is ``model(X).max(1)``.
    """

    def loss(m, xb, yb, idx):
        m.update_centroids(xb, yb)
        return duq_loss(m, xb, yb, lam)

    return fit(model, X, y, loss_fn=loss, **fit_kwargs)


def evidential_loss(logits, y, kl_weight: float = 0.0) -> torch.Tensor:
    """The expected squared error of an evidential network (Sensoy et al., 2018).

    The network's outputs become evidence e = softplus(logits) and the parameters
    alpha = e + 1 of a Dirichlet over class probabilities, with S = sum_k alpha_k
    and p = alpha / S.  Per sample,

        sum_k (y_k - p_k)^2 + p_k (1 - p_k) / (S + 1)
            + kl_weight * KL(Dir(alpha~) || Dir(1)),

    where alpha~ = y + (1 - y) * alpha removes the evidence for the true class, so
    the KL term only penalises evidence for wrong classes.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, K)
    y : torch.Tensor, shape (n,), int64 labels
    kl_weight : float
        Usually annealed from 0 to 1 over the first epochs.

    Returns
    -------
    torch.Tensor, shape (), the mean over samples
    """
    logits = as_tensor(logits, "logits")
    check_ndim(logits, 2, "logits", "(n, K)")
    check_labels(y, logits.shape[0], logits.shape[1])
    alpha = F.softplus(logits) + 1
    strength = alpha.sum(1, keepdim=True)
    p = alpha / strength
    onehot = F.one_hot(y, logits.shape[1]).to(p.dtype)
    mse = ((onehot - p) ** 2 + p * (1 - p) / (strength + 1)).sum(1)
    a = onehot + (1 - onehot) * alpha
    a0 = a.sum(1)
    k = logits.shape[1]
    kl = (
        torch.lgamma(a0)
        - math.lgamma(k)
        - torch.lgamma(a).sum(1)
        + ((a - 1) * (torch.digamma(a) - torch.digamma(a0)[:, None])).sum(1)
    )
    return (mse + kl_weight * kl).mean()


def evidential_uncertainty(logits) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected probabilities and the "epistemic" uncertainty u = K / S.

    Returns
    -------
    probs : torch.Tensor, shape (n, K), alpha / S
    u : torch.Tensor, shape (n,), in (0, 1]; 1 when there is no evidence at all
    """
    logits = as_tensor(logits, "logits")
    check_ndim(logits, 2, "logits", "(n, K)")
    alpha = F.softplus(logits) + 1
    strength = alpha.sum(1)
    return alpha / strength[:, None], logits.shape[1] / strength


def fit_evidential(
    model: nn.Module, X, y, *, anneal_epochs: int = 10, **fit_kwargs
) -> dict:
    """Train a classifier's logits as evidence with :func:`evidential_loss`, the KL
    weight rising linearly from 0 to 1 over ``anneal_epochs`` epochs."""
    epoch = {"done": 0}

    def loss(m, xb, yb, idx):
        weight = min(1.0, epoch["done"] / max(1, anneal_epochs))
        return evidential_loss(m(xb), yb, kl_weight=weight)

    def count(history):
        epoch["done"] += 1

    return fit(model, X, y, loss_fn=loss, on_epoch_end=count, **fit_kwargs)
