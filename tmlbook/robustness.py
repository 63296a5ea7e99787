"""L4 -- adversarial and test-time generalisation.

Attacks (FGSM, PGD), adversarial training, the straight-through trick behind
BPDA, a zeroth-order (NES) gradient estimate, randomised-smoothing
certificates, and test-time adaptation (BN statistics, TENT).

Attack conventions, shared by every attack in this module (and by ART's
``FastGradientMethod`` / ``ProjectedGradientDescent`` with ``clip_values=(0, 1)``
and labels given, which the tests check bit for bit):

1. the loss is the cross-entropy averaged over the batch, computed on the
   **true** labels ``y`` (not on the model's predictions);
2. a step moves the input by ``alpha * sign(grad_x loss)``, with
   ``sign(0) = 0`` (a pixel with zero gradient does not move);
3. after each step the perturbation is projected onto the L-infinity ball of
   radius ``eps`` around the clean input, and then the result is clamped to
   the valid pixel range [0, 1];
4. PGD starts at the clean input unless ``random_start=True``.

Inputs are images in [0, 1] of shape (n, ...), labels are int64 of shape (n,).
Attacks run on the device of the model and return tensors on the device of
the input.  They use the model in whatever mode it is in: call ``.eval()``
first for models with batch norm or dropout.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import beta, norm
from torch import nn

from tmlbook.checks import as_tensor, check_finite, check_labels, check_ndim
from tmlbook.device import progress_enabled

ABSTAIN = -1
"""The class :func:`certify` returns when it cannot certify any class."""


# ----------------------------------------------------------------------------
# Input checks shared by the attacks
# ----------------------------------------------------------------------------

def _check_eps(eps, name: str = "eps") -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, got {type(eps).__name__}")
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {eps}")
    return eps


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _check_images(x, name: str = "x") -> torch.Tensor:
    x = as_tensor(x, name)
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (n, ...), got shape {tuple(x.shape)}")
    check_finite(x, name)
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(
            f"{name} must lie in [0, 1] (pixel range), got values in "
            f"[{float(x.min()):.3g}, {float(x.max()):.3g}]"
        )
    return x


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    p = next(model.parameters(), None)
    if p is None:
        return torch.device("cpu"), torch.float32
    return p.device, p.dtype


def _prepare(model, x, y):
    """Validate (x, y) and move them to the model's device and dtype."""
    x = _check_images(x)
    y = as_tensor(y, "y")
    if y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must have shape (n,) with n={x.shape[0]}, got {tuple(y.shape)}"
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    device, dtype = _model_device_dtype(model)
    return x.to(device, dtype).detach(), y.to(device, torch.int64), x.device


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of the batch-mean cross-entropy with respect to the inputs.

    Parameters
    ----------
    model : nn.Module
        Maps (n, ...) inputs to (n, K) logits.
    x : torch.Tensor, shape (n, ...), on the model's device
    y : torch.Tensor, shape (n,), int64 true labels

    Returns
    -------
    torch.Tensor, shape (n, ...)
        d/dx (1/n) sum_i CE(f(x_i), y_i).  The model's parameter gradients are
        left untouched.
    """
    with torch.enable_grad():  # works inside a torch.no_grad() block too
        x = x.detach().clone().requires_grad_(True)
        logits = model(x)
        check_labels(y, x.shape[0], logits.shape[1])
        loss = F.cross_entropy(logits, y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _project(x_new: torch.Tensor, x_clean: torch.Tensor, eps: float) -> torch.Tensor:
    """Project onto the L-inf ball around ``x_clean``, then clamp to [0, 1]."""
    delta = torch.clamp(x_new - x_clean, -eps, eps)
    return torch.clamp(x_clean + delta, 0.0, 1.0)


# ----------------------------------------------------------------------------
# White-box attacks
# ----------------------------------------------------------------------------

def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
         eps: float) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al., 2015), L-infinity.

    x_adv = clamp_[0,1]( x + eps * sign(grad_x CE(f(x), y)) ), with the
    conventions of this module: batch-mean cross-entropy on the true labels,
    sign(0) = 0, projection onto the eps-ball and then clamping to [0, 1].

    Parameters
    ----------
    model : nn.Module
        Maps (n, ...) inputs to (n, K) logits.
    x : torch.Tensor, shape (n, ...)
        Clean inputs in [0, 1].
    y : torch.Tensor, shape (n,)
        True labels in [0, K).
    eps : float
        Perturbation budget, >= 0.  ``eps = 0`` returns ``x`` unchanged.

    Returns
    -------
    torch.Tensor, shape (n, ...)
        Adversarial inputs with ||x_adv - x||_inf <= eps and values in [0, 1],
        on the device of ``x``.
    """
    eps = _check_eps(eps)
    x0, y, out_device = _prepare(model, x, y)
    grad = input_gradient(model, x0, y)
    x_adv = _project(x0 + eps * grad.sign(), x0, eps)
    return x_adv.detach().to(out_device)


def pgd_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    alpha: float | None = None,
    steps: int = 20,
    random_start: bool = False,
    seed: int = 0,
) -> torch.Tensor:
    """Projected gradient descent on the loss, L-infinity (Madry et al., 2018).

    Repeats ``steps`` times::

        x <- clamp_[0,1]( x0 + clip_[-eps, eps]( x + alpha * sign(grad_x CE) - x0 ) )

    i.e. a signed gradient step of size ``alpha`` on the batch-mean
    cross-entropy of the **true** labels, projection onto the eps-ball around
    the clean input ``x0``, then clamping to [0, 1].  Random start is **off**
    by default (so the attack is deterministic and equals ART's with
    ``num_random_init=0``); with ``random_start=True`` it starts from
    ``x0 + U(-eps, eps)`` (seeded), clamped to [0, 1].

    Parameters
    ----------
    model : nn.Module
        Maps (n, ...) inputs to (n, K) logits.
    x : torch.Tensor, shape (n, ...)
        Clean inputs in [0, 1].
    y : torch.Tensor, shape (n,)
        True labels.
    eps : float
        Budget, >= 0.
    alpha : float, optional
        Step size, > 0; default ``eps / 4``.
    steps : int
        Number of gradient steps, >= 1.
    random_start : bool
        Start at a uniformly random point of the eps-ball.
    seed : int
        Seeds the random start (ignored without it).

    Returns
    -------
    torch.Tensor, shape (n, ...)
        Adversarial inputs, ||x_adv - x||_inf <= eps, values in [0, 1].
    """
    eps = _check_eps(eps)
    alpha = eps / 4 if alpha is None else _check_eps(alpha, "alpha")
    steps = _check_positive_int(steps, "steps")
    x0, y, out_device = _prepare(model, x, y)
    x_adv = x0.clone()
    if random_start:
        gen = torch.Generator().manual_seed(int(seed))
        noise = (2 * torch.rand(x0.shape, generator=gen, dtype=x0.dtype) - 1) * eps
        x_adv = torch.clamp(x0 + noise.to(x0.device), 0.0, 1.0)
    for _ in range(steps):
        grad = input_gradient(model, x_adv, y)
        x_adv = _project(x_adv + alpha * grad.sign(), x0, eps)
    return x_adv.detach().to(out_device)


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    attack=pgd_attack, **attack_kwargs) -> float:
    """Accuracy of ``model`` on ``attack(model, x, y, **attack_kwargs)``.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...), in [0, 1]
    y : torch.Tensor, shape (n,)
    attack : callable
        ``attack(model, x, y, **attack_kwargs) -> x_adv``, e.g. :func:`fgsm`
        or :func:`pgd_attack` (the default).
    **attack_kwargs
        Passed on, e.g. ``eps=0.1``.

    Returns
    -------
    float in [0, 1]
    """
    if not callable(attack):
        raise TypeError("attack must be a function attack(model, x, y, **kwargs)")
    x_adv = attack(model, x, y, **attack_kwargs)
    device, dtype = _model_device_dtype(model)
    with torch.no_grad():
        pred = model(x_adv.to(device, dtype)).argmax(dim=1).cpu()
    return float((pred == as_tensor(y, "y").cpu()).double().mean())


def adversarial_training(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float = 0.1,
    alpha: float = 0.025,
    steps: int = 7,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    random_start: bool = False,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> dict[str, list[float]]:
    """PGD adversarial training (Madry et al., 2018), trained in place.

    Minimises E max_{||delta||_inf <= eps} CE(f(x + delta), y): each
    mini-batch is replaced by its PGD adversarial examples (``steps`` steps
    of size ``alpha``, crafted with the model in evaluation mode) and Adam
    takes one step on their cross-entropy.  Mini-batch order (and the random
    start, if on) are seeded by ``seed``.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.
    x : torch.Tensor, shape (n, d), in [0, 1]
    y : torch.Tensor, shape (n,)
    eps, alpha, steps, random_start : settings of the inner PGD attack.
    epochs, lr, batch_size : training budget.
    seed : int
    device : torch.device, optional
        Defaults to the model's current device.
    progress : bool, optional
        Progress bar; ``None`` draws one unless ``TML_QUIET`` is set.

    Returns
    -------
    dict
        ``{"loss": [...]}``: mean adversarial training loss per epoch.
    """
    from tqdm.auto import tqdm

    eps = _check_eps(eps)
    alpha = _check_eps(alpha, "alpha")
    x = _check_images(x)
    y = as_tensor(y, "y")
    check_labels(y, x.shape[0], int(y.max()) + 1 if len(y) else 1)
    epochs = _check_positive_int(epochs, "epochs")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if device is not None:
        model.to(device)
    dev, dtype = _model_device_dtype(model)
    x, y = x.to(dev, dtype), y.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(int(seed))
    history: dict[str, list[float]] = {"loss": []}
    bar = tqdm(range(epochs), desc="adv. training", leave=False,
               disable=not progress_enabled(progress))
    for epoch in bar:
        order = torch.randperm(x.shape[0], generator=gen).to(dev)
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = order[start:start + batch_size]
            model.eval()
            x_adv = pgd_attack(model, x[idx], y[idx], eps, alpha=alpha, steps=steps,
                               random_start=random_start,
                               seed=int(seed) * 100_003 + epoch * 1009 + start)
            model.train()
            loss = F.cross_entropy(model(x_adv), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history["loss"].append(total / x.shape[0])
    model.eval()
    return history


# ----------------------------------------------------------------------------
# Obfuscated gradients and BPDA
# ----------------------------------------------------------------------------

def quantise(x: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Round each pixel to the nearest multiple of 1/levels: round(levels*x)/levels.

    Its gradient is zero almost everywhere, which is what makes it look like
    a defence against gradient attacks.

    Parameters
    ----------
    x : torch.Tensor, any shape
    levels : int, >= 1

    Returns
    -------
    torch.Tensor, same shape
    """
    levels = _check_positive_int(levels, "levels")
    return torch.round(x * levels) / levels


class _StraightThroughQuantise(torch.autograd.Function):
    """Forward: quantise.  Backward: pass the gradient through unchanged."""

    @staticmethod
    def forward(ctx, x, levels):
        return torch.round(x * levels) / levels

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None


def bpda_quantise(x: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Quantise in the forward pass; behave like the identity in the backward pass.

    The backward pass differentiable approximation (BPDA, Athalye et al.,
    2018) replaces the gradient of a non-differentiable preprocessing step
    g by the gradient of a smooth g' with g'(x) ~ g(x); here g' = identity
    (a "straight-through" estimator), so d bpda_quantise / dx = I.

    Parameters
    ----------
    x : torch.Tensor, any shape
    levels : int, >= 1

    Returns
    -------
    torch.Tensor, same shape, equal to ``quantise(x, levels)``
    """
    levels = _check_positive_int(levels, "levels")
    return _StraightThroughQuantise.apply(x, levels)


class QuantisedModel(nn.Module):
    """A "quantisation defence": ``model(quantise(x, levels))``.

    With ``bpda=False`` gradients through the rounding are zero, so gradient
    attacks see a flat loss.  With ``bpda=True`` the forward pass is the same
    but the rounding is differentiated as the identity (:func:`bpda_quantise`).

    Shapes
    ------
    ``forward``: (n, ...) -> logits (n, K)
    """

    def __init__(self, model: nn.Module, levels: int = 4, bpda: bool = False):
        super().__init__()
        self.model = model
        self.levels = _check_positive_int(levels, "levels")
        self.bpda = bool(bpda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = bpda_quantise(x, self.levels) if self.bpda else quantise(x, self.levels)
        return self.model(q)


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal DCT-II matrix D, shape (n, n), with D @ D.T = I.

    Row u is the u-th cosine basis vector; the 2-D transform of an n x n
    image X is D @ X @ D.T and its inverse D.T @ C @ D.
    """
    n = _check_positive_int(n, "n")
    k = torch.arange(n, dtype=torch.float64)
    d = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    d = d * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d.to(dtype)


def jpeg_quantise(x: torch.Tensor, step: float = 0.05) -> torch.Tensor:
    """A JPEG-style defence for 8x8 digits: quantise the 2-D DCT coefficients.

    Coefficient (u, v) of the orthonormal 8x8 DCT is rounded to a multiple of
    ``step * (1 + u + v)`` (coarser for higher frequencies, as in JPEG), the
    image is transformed back and clamped to [0, 1].  Like :func:`quantise`,
    its gradient is zero almost everywhere.  Computed in the dtype of ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape (n, 64)
    step : float, > 0

    Returns
    -------
    torch.Tensor, shape (n, 64)
    """
    x = as_tensor(x, "x")
    check_ndim(x, 2, "x", "(n, 64)")
    if x.shape[1] != 64:
        raise ValueError(f"x must have 64 columns (8x8 pixels), got {x.shape[1]}")
    step = _check_eps(step, "step")
    if step == 0:
        raise ValueError("step must be > 0")
    d = dct_matrix(8, x.dtype).to(x.device)
    u = torch.arange(8, device=x.device)
    table = step * (1 + u[:, None] + u[None, :]).to(x.dtype)
    coeffs = d @ x.reshape(-1, 8, 8) @ d.T
    coeffs = torch.round(coeffs / table) * table
    return torch.clamp((d.T @ coeffs @ d).reshape(-1, 64), 0.0, 1.0)


# ----------------------------------------------------------------------------
# Black-box access and the NES gradient estimate
# ----------------------------------------------------------------------------

class QueryCounter:
    """Score-based black-box access to a model, counting queries.

    Calling it returns the model's log-probabilities (no gradients) and adds
    the number of inputs evaluated to ``queries``.

    Parameters
    ----------
    model : nn.Module
        Maps (m, ...) inputs to (m, K) logits.

    Shapes
    ------
    ``__call__``: (m, ...) -> log-probabilities (m, K), on the CPU
    """

    def __init__(self, model: nn.Module):
        _model_device_dtype(model)
        self.model = model
        self.queries = 0

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = as_tensor(x, "x")
        device, dtype = _model_device_dtype(self.model)
        self.queries += int(x.shape[0])
        return torch.log_softmax(self.model(x.to(device, dtype)), dim=1).cpu()


def nes_gradient(
    black_box,
    x: torch.Tensor,
    y: int,
    n_samples: int = 200,
    sigma: float = 1e-3,
    seed: int = 0,
) -> torch.Tensor:
    """Zeroth-order (NES) estimate of grad_x CE(f(x), y) from loss queries only.

    With Gaussian directions u_1..u_N ~ N(0, I) and antithetic pairs
    (Ilyas et al., 2018; Chen et al., 2017)::

        g_hat = 1 / (2 sigma N) * sum_i [l(x + sigma u_i) - l(x - sigma u_i)] u_i

    where l(z) = -log p_y(z) is read off the black box.  Uses exactly
    ``2 * n_samples`` queries (one batched call).

    Parameters
    ----------
    black_box : callable
        ``black_box(z) -> log-probabilities`` of shape (m, K) for z of shape
        (m, d); e.g. a :class:`QueryCounter`.
    x : torch.Tensor, shape (d,)
        One input.
    y : int
        Its true label.
    n_samples : int
        N, the number of direction pairs (>= 1).
    sigma : float
        Finite-difference step, > 0.
    seed : int
        Seeds the directions.

    Returns
    -------
    torch.Tensor, shape (d,), float64
    """
    if not callable(black_box):
        raise TypeError("black_box must be callable: z (m, d) -> log-probs (m, K)")
    x = as_tensor(x, "x")
    check_ndim(x, 1, "x", "(d,)")
    check_finite(x, "x")
    n_samples = _check_positive_int(n_samples, "n_samples")
    sigma = _check_eps(sigma, "sigma")
    if sigma == 0:
        raise ValueError("sigma must be > 0")
    gen = torch.Generator().manual_seed(int(seed))
    u = torch.randn(n_samples, x.shape[0], generator=gen, dtype=torch.float64)
    x64 = x.detach().cpu().to(torch.float64)
    queries = torch.cat([x64 + sigma * u, x64 - sigma * u])  # (2N, d)
    log_p = as_tensor(black_box(queries), "black_box output").to(torch.float64)
    if log_p.dim() != 2 or log_p.shape[0] != 2 * n_samples:
        raise ValueError(f"black_box must return shape ({2 * n_samples}, K), "
                         f"got {tuple(log_p.shape)}")
    if not 0 <= int(y) < log_p.shape[1]:
        raise ValueError(f"y must be a label in [0, {log_p.shape[1]}), got {y}")
    loss = -log_p[:, int(y)]
    diff = loss[:n_samples] - loss[n_samples:]  # (N,)
    return (diff[:, None] * u).sum(dim=0) / (2 * sigma * n_samples)


# ----------------------------------------------------------------------------
# Randomised smoothing (Cohen et al., 2019)
# ----------------------------------------------------------------------------

def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion.

    p_low = Beta quantile at alpha with parameters (k, n - k + 1); 0 if k = 0.

    Parameters
    ----------
    k : int, successes in [0, n]
    n : int, trials >= 1
    alpha : float in (0, 1)

    Returns
    -------
    float
    """
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


def certify(counts, n: int, sigma: float, alpha: float = 0.001,
            guess: int | None = None) -> tuple[int, float]:
    """Certify the smoothed classifier at one input from Monte-Carlo counts.

    The smoothed classifier is g(x) = argmax_c P(f(x + e) = c), e ~ N(0,
    sigma^2 I).  With n_A = counts[c_A] and the one-sided Clopper-Pearson
    lower bound p_low on P(f(x + e) = c_A) at level 1 - alpha,

    * if p_low > 1/2, return (c_A, sigma * Phi^{-1}(p_low)): with probability
      at least 1 - alpha over the noise draws, g predicts c_A everywhere in
      the L2 ball of that radius (Cohen et al., 2019, Theorem 1 with
      p_B <= 1 - p_low);
    * otherwise abstain: return (ABSTAIN, 0.0).

    Parameters
    ----------
    counts : array-like of int, shape (K,)
        How often the base classifier predicted each class on n noisy copies.
    n : int
        The number of noisy copies; must equal ``counts.sum()``.
    sigma : float
        Noise standard deviation, > 0.
    alpha : float in (0, 1)
        Allowed failure probability.
    guess : int, optional
        The class c_A to certify.  Cohen et al. pick it on a *separate*
        selection sample (see :func:`certify_smoothed`); default
        ``argmax(counts)`` (smallest index on ties).

    Returns
    -------
    (int, float)
        The class and the certified L2 radius, or ``(ABSTAIN, 0.0)``.
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts must have shape (K,), got {counts.shape}")
    if not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
        raise ValueError("counts must hold non-negative integers")
    if int(counts.sum()) != int(n):
        raise ValueError(f"counts sum to {int(counts.sum())} but n = {n}")
    sigma = _check_eps(sigma, "sigma")
    if sigma == 0:
        raise ValueError("sigma must be > 0")
    c_a = int(np.argmax(counts)) if guess is None else int(guess)
    if not 0 <= c_a < counts.size:
        raise ValueError(f"guess must be a class in [0, {counts.size}), got {guess}")
    p_low = clopper_pearson_lower(int(counts[c_a]), int(n), alpha)
    if p_low <= 0.5:
        return ABSTAIN, 0.0
    return c_a, float(sigma * norm.ppf(p_low))


@torch.no_grad()
def noise_counts(model: nn.Module, x: torch.Tensor, sigma: float, n: int,
                 seed: int = 0, batch_size: int = 1000) -> np.ndarray:
    """Count the base classifier's predictions on n Gaussian-noised copies of x.

    The noisy copies x + e, e ~ N(0, sigma^2 I), are **not** clamped to
    [0, 1]: the certificate is about this exact noise distribution.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (d,) or (1, d)
    sigma : float, > 0
    n : int, >= 1
    seed : int
    batch_size : int

    Returns
    -------
    np.ndarray of int64, shape (K,), summing to n
    """
    x = as_tensor(x, "x").reshape(1, -1)
    device, dtype = _model_device_dtype(model)
    gen = torch.Generator().manual_seed(int(seed))
    counts = None
    done = 0
    while done < n:
        m = min(batch_size, n - done)
        noise = sigma * torch.randn(m, x.shape[1], generator=gen)
        pred = model((x + noise).to(device, dtype)).argmax(dim=1).cpu()
        if counts is None:
            k = model(x.to(device, dtype)).shape[1]
            counts = np.zeros(k, dtype=np.int64)
        counts += np.bincount(pred.numpy(), minlength=counts.size)
        done += m
    return counts


def certify_smoothed(model: nn.Module, x: torch.Tensor, sigma: float, n0: int = 100,
                     n: int = 1000, alpha: float = 0.001,
                     seed: int = 0) -> tuple[int, float]:
    """Cohen et al.'s CERTIFY: pick c_A on n0 draws, bound p_A on n fresh draws.

    Parameters
    ----------
    model : nn.Module
        The base classifier f.
    x : torch.Tensor, shape (d,)
    sigma, alpha : see :func:`certify`.
    n0, n : int
        Selection and estimation sample sizes.
    seed : int
        The two samples use seeds ``seed`` and ``seed + 1``.

    Returns
    -------
    (int, float) as :func:`certify`.
    """
    guess = int(np.argmax(noise_counts(model, x, sigma, n0, seed=seed)))
    counts = noise_counts(model, x, sigma, n, seed=seed + 1)
    return certify(counts, n, sigma, alpha, guess=guess)


def fit_with_noise(model: nn.Module, x: torch.Tensor, y: torch.Tensor, sigma: float, *,
                   epochs: int = 30, lr: float = 1e-3, batch_size: int = 64,
                   seed: int = 0) -> dict[str, list[float]]:
    """Train with Gaussian data augmentation x + N(0, sigma^2 I), in place.

    A base classifier for randomised smoothing must be accurate under the
    noise it will be smoothed with; training on noisy copies does that.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,)
    sigma : float, >= 0
    epochs, lr, batch_size, seed : as :func:`tmlbook.training.fit`.

    Returns
    -------
    dict
        ``{"loss": [...]}`` per epoch.
    """
    sigma = _check_eps(sigma, "sigma")
    x = as_tensor(x, "x")
    y = as_tensor(y, "y")
    check_ndim(x, 2, "x", "(n, d)")
    check_labels(y, x.shape[0], int(y.max()) + 1)
    dev, dtype = _model_device_dtype(model)
    x, y = x.to(dev, dtype), y.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(int(seed))
    history: dict[str, list[float]] = {"loss": []}
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = order[start:start + batch_size]
            noise = sigma * torch.randn(len(idx), x.shape[1], generator=gen,
                                        dtype=dtype)
            idx = idx.to(dev)
            loss = F.cross_entropy(model(x[idx] + noise.to(dev)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history["loss"].append(total / x.shape[0])
    model.eval()
    return history


# ----------------------------------------------------------------------------
# Test-time adaptation: BN statistics and TENT
# ----------------------------------------------------------------------------

class BNMLP(nn.Module):
    """A ReLU MLP with batch normalisation after each hidden linear layer.

    64-128-BN-ReLU-128-BN-ReLU-10 by default; the model for test-time
    adaptation, whose only test-time knobs are the BN statistics and the BN
    affine parameters (gamma, beta).

    Shapes
    ------
    ``forward``: (n, n_in) -> logits (n, n_out)
    """

    def __init__(self, n_in: int = 64, hidden: tuple[int, ...] = (128, 128),
                 n_out: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.n_in = n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"BNMLP expects inputs of shape (n, {self.n_in}), got {tuple(x.shape)}"
            )
        return self.net(x)


def train_bn_mlp(seed: int = 0, epochs: int = 30) -> BNMLP:
    """Train :class:`BNMLP` on ``train_full`` (Adam, lr 1e-3, batch 64) on the CPU."""
    from tmlbook.data import load_digits_splits
    from tmlbook.device import set_seed
    from tmlbook.training import fit

    set_seed(seed)
    model = BNMLP()
    fit(model, *load_digits_splits().train_full, epochs=epochs, seed=seed, device="cpu",
        progress=False)
    return model


def contrast_shift(x: torch.Tensor, scale: float = 0.4,
                   offset: float = 0.3) -> torch.Tensor:
    """The test-time covariate shift of this chapter: x -> scale * x + offset.

    Parameters
    ----------
    x : torch.Tensor, shape (n, d), in [0, 1]

    Returns
    -------
    torch.Tensor, shape (n, d); in [0, 1] when scale + offset <= 1 and offset >= 0.
    """
    x = _check_images(x)
    return scale * x + offset


_BatchNorm = nn.modules.batchnorm._BatchNorm


def _bn_layers(model: nn.Module) -> list[_BatchNorm]:
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not layers:
        raise ValueError("model has no batch-norm layers: nothing to adapt")
    return layers


@torch.no_grad()
def _recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    for bn in _bn_layers(model):
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
    model.train()
    for start in range(0, x.shape[0], batch_size):
        model(x[start:start + batch_size])
    model.eval()


def bn_adapt(model: nn.Module, x: torch.Tensor,
             batch_size: int | None = None) -> nn.Module:
    """Test-time BN adaptation: replace the BN statistics by those of the test data.

    Returns a copy of ``model`` whose batch-norm running means and variances
    are the (cumulative) averages of the batch statistics of ``x``; no
    parameter changes.  With ``batch_size=None`` one batch of all of ``x``
    gives the exact test-set statistics.

    Parameters
    ----------
    model : nn.Module
        With at least one batch-norm layer.
    x : torch.Tensor, shape (n, d)
        Unlabelled test inputs.
    batch_size : int, optional

    Returns
    -------
    nn.Module
        The adapted copy, in evaluation mode; ``model`` is not changed.
    """
    x = as_tensor(x, "x")
    check_finite(x, "x")
    if x.shape[0] < 2:
        raise ValueError("need at least 2 test inputs to estimate BN statistics")
    adapted = copy.deepcopy(model)
    dev, dtype = _model_device_dtype(adapted)
    _recompute_bn_stats(adapted, x.to(dev, dtype), batch_size or x.shape[0])
    return adapted


def mean_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy (nats) of softmax(logits): -(1/n) sum_i sum_c p_ic log p_ic.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, K)

    Returns
    -------
    torch.Tensor, shape ()
    """
    log_p = torch.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def tent_adapt(model: nn.Module, x: torch.Tensor, *, epochs: int = 5, lr: float = 1e-3,
               batch_size: int = 64, seed: int = 0) -> nn.Module:
    """TENT (Wang et al., 2021): minimise prediction entropy on test data.

    Works on a copy of ``model``.  Only the BN affine parameters (gamma,
    beta) are trained, every other parameter is frozen; BN layers normalise
    with the statistics of the current test batch.  For ``epochs`` passes
    over ``x`` in seeded random batches, Adam takes one step on
    :func:`mean_entropy` of each batch.  Finally the BN running statistics are
    recomputed on all of ``x`` (as :func:`bn_adapt`), so that the returned
    model predicts in evaluation mode independently of batch composition.

    Parameters
    ----------
    model : nn.Module
        With batch-norm layers.
    x : torch.Tensor, shape (n, d)
        Unlabelled test inputs.
    epochs, lr, batch_size, seed : adaptation budget.

    Returns
    -------
    nn.Module
        The adapted copy, in evaluation mode; ``model`` is not changed.
    """
    x = as_tensor(x, "x")
    check_finite(x, "x")
    if x.shape[0] < 2:
        raise ValueError("need at least 2 test inputs")
    adapted = copy.deepcopy(model)
    dev, dtype = _model_device_dtype(adapted)
    x = x.to(dev, dtype)
    bns = _bn_layers(adapted)
    for p in adapted.parameters():
        p.requires_grad_(False)
    affine = []
    for bn in bns:
        if bn.weight is None:
            raise ValueError("TENT needs BN layers with affine parameters")
        bn.weight.requires_grad_(True)
        bn.bias.requires_grad_(True)
        affine += [bn.weight, bn.bias]
    opt = torch.optim.Adam(affine, lr=lr)
    gen = torch.Generator().manual_seed(int(seed))
    adapted.train()  # BN uses test-batch statistics
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=gen).to(dev)
            for start in range(0, x.shape[0], batch_size):
                idx = order[start:start + batch_size]
                if len(idx) < 2:
                    continue
                loss = mean_entropy(adapted(x[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
    for p in adapted.parameters():
        p.requires_grad_(True)
    _recompute_bn_stats(adapted, x, x.shape[0])
    return adapted
