"""L12 -- aleatoric uncertainty in regression: heteroscedastic Gaussian NLL,
CRPS, mixture density networks (``mdn_nll``, ``fit_mdn``) and the
multiple-hypothesis loss.

All losses are returned *per sample* (shape (n,)); take ``.mean()`` to train.
"""

from __future__ import annotations

import math

import torch

from tmlbook.checks import as_tensor, check_finite
from tmlbook.device import set_seed
from tmlbook.models import MDN, GaussianMLP
from tmlbook.training import fit


def _same_shape(**tensors) -> list[torch.Tensor]:
    out = []
    shape = None
    for name, x in tensors.items():
        t = as_tensor(x, name)
        if not t.dtype.is_floating_point:
            t = t.to(torch.float64)
        check_finite(t, name)
        if shape is None:
            shape = t.shape
        elif t.shape != shape:
            raise ValueError(
                f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)}"
            )
        out.append(t)
    return out


def gaussian_nll(mu, sigma, y) -> torch.Tensor:
    """Negative log density of y under N(mu, sigma^2), per sample, in nats.

    0.5 log(2 pi sigma^2) + (y - mu)^2 / (2 sigma^2), including the constant
    (``torch.nn.GaussianNLLLoss`` drops it unless ``full=True`` and takes the
    variance, not sigma).

    Parameters
    ----------
    mu, sigma, y : shape (n,); sigma > 0

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    mu, sigma, y = _same_shape(mu=mu, sigma=sigma, y=y)
    if (sigma <= 0).any():
        raise ValueError("sigma must be strictly positive")
    return 0.5 * torch.log(2 * math.pi * sigma**2) + (y - mu) ** 2 / (2 * sigma**2)


def crps_gaussian(mu, sigma, y) -> torch.Tensor:
    """Continuous ranked probability score of N(mu, sigma^2) at y, per sample.

    CRPS = sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)], z = (y - mu)/sigma
    (Gneiting & Raftery 2007); in the units of y, lower is better.
    """
    mu, sigma, y = _same_shape(mu=mu, sigma=sigma, y=y)
    if (sigma <= 0).any():
        raise ValueError("sigma must be strictly positive")
    z = (y - mu) / sigma
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    return sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def mdn_nll(logit_pi, mu, sigma, y) -> torch.Tensor:
    """NLL of y under a mixture of M Gaussians, per sample (log-sum-exp stable).

    Parameters
    ----------
    logit_pi, mu, sigma : shape (n, M); mixture weights are softmax(logit_pi)
    y : shape (n,)

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    logit_pi, mu, sigma = _same_shape(logit_pi=logit_pi, mu=mu, sigma=sigma)
    if logit_pi.dim() != 2:
        raise ValueError(
            f"logit_pi must have shape (n, M), got {tuple(logit_pi.shape)}"
        )
    (y,) = _same_shape(y=y)
    if y.shape != logit_pi.shape[:1]:
        raise ValueError(f"y must have shape ({logit_pi.shape[0]},)")
    if (sigma <= 0).any():
        raise ValueError("sigma must be strictly positive")
    log_pi = torch.log_softmax(logit_pi, dim=1)
    yy = y[:, None]
    log_n = -0.5 * torch.log(2 * math.pi * sigma**2) - (yy - mu) ** 2 / (2 * sigma**2)
    return -torch.logsumexp(log_pi + log_n, dim=1)


def winner_takes_all_loss(preds, y, epsilon: float = 0.0) -> torch.Tensor:
    """Multiple-hypothesis (winner-takes-all) loss, per sample.

    With M hypotheses and squared errors e_m = ||pred_m - y||^2, the loss is
    (1 - epsilon) min_m e_m + epsilon / (M - 1) * sum_{m != best} e_m.
    ``epsilon = 0`` is the hard WTA loss: only the closest hypothesis learns.

    Parameters
    ----------
    preds : shape (n, M) for scalar targets or (n, M, d)
    y : shape (n,) or (n, d)
    epsilon : float in [0, 1)

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    preds = as_tensor(preds, "preds")
    y = as_tensor(y, "y").to(preds.dtype)
    check_finite(preds, "preds")
    check_finite(y, "y")
    if not 0.0 <= float(epsilon) < 1.0:
        raise ValueError(f"epsilon must lie in [0, 1), got {epsilon}")
    if preds.dim() == 2:
        preds, y = preds[:, :, None], y[:, None]
    if preds.dim() != 3 or y.shape != (preds.shape[0], preds.shape[2]):
        raise ValueError(
            f"preds (n, M[, d]) {tuple(preds.shape)} and y (n[, d]) "
            f"{tuple(y.shape)} do not match"
        )
    err = ((preds - y[:, None, :]) ** 2).sum(dim=2)  # (n, M)
    m = err.shape[1]
    best = err.min(dim=1).values
    if m == 1 or epsilon == 0:
        return best
    rest = (err.sum(dim=1) - best) / (m - 1)
    return (1 - epsilon) * best + epsilon * rest


def fit_gaussian_regressor(
    X, y, hidden: int = 64, epochs: int = 1500, lr: float = 5e-3, seed: int = 0
) -> GaussianMLP:
    """Fit a :class:`~tmlbook.models.GaussianMLP` by the mean Gaussian NLL.

    Full batch, Adam.  X : shape (n, d);  y : shape (n,).
    """
    X = as_tensor(X, "X").to(torch.float32)
    y = as_tensor(y, "y").to(torch.float32)
    check_finite(X, "X")
    set_seed(seed)
    model = GaussianMLP(X.shape[1], hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        mu, sigma = model(X)
        loss = gaussian_nll(mu, sigma, y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def fit_mdn(X, y, n_components: int = 3, hidden: int = 64, **fit_kwargs) -> MDN:
    """Fit a :class:`~tmlbook.models.MDN` by the mean mixture NLL, with the book's
    one training loop :func:`tmlbook.training.fit` (Adam, mini-batches).

    X : shape (n, d);  y : shape (n,), real targets.  ``fit_kwargs`` go to ``fit``
    (epochs, lr, batch_size, seed, ...).
    """
    X = as_tensor(X, "X").to(torch.float32)
    y = as_tensor(y, "y").to(torch.float32)
    check_finite(X, "X")
    check_finite(y, "y")
    if X.dim() != 2 or y.shape != X.shape[:1]:
        raise ValueError(
            f"X must be (n, d) and y (n,), got {tuple(X.shape)}, {tuple(y.shape)}"
        )
    set_seed(fit_kwargs.get("seed", 0))
    model = MDN(X.shape[1], hidden, n_components)

    def loss(m, xb, yb, idx):  # no labels for fit: the targets are picked by idx
        return mdn_nll(*m(xb), y[idx.cpu()].to(xb.device)).mean()

    fit(model, X, None, loss_fn=loss, **fit_kwargs)
    return model.eval()
