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

from tmlbook.checks import (
    as_tensor,
    check_finite,
    check_images,
    check_int,
    check_labels,
    check_matrix,
    check_model,
    check_ndim,
    check_number,
    check_seed,
)
from tmlbook.data import load_digits_splits
from tmlbook.device import set_seed
from tmlbook.models import BNMLP
from tmlbook.training import fit

ABSTAIN = -1
"""The class :func:`certify` returns when it cannot certify any class."""


# ----------------------------------------------------------------------------
# Pieces shared by the attacks
# ----------------------------------------------------------------------------


def _prepare(model, x, y):
    """Validate (x, y) and move them to the model's device and dtype."""
    x = check_images(x)
    y = as_tensor(y, "y")
    check_labels(y, x.shape[0], None)  # the range is checked against the logits
    device, dtype = check_model(model)
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


def fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
) -> torch.Tensor:
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
    eps = check_number(eps, "eps")
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
    eps = check_number(eps, "eps")
    alpha = eps / 4 if alpha is None else check_number(alpha, "alpha")
    steps = check_int(steps, "steps")
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


def robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack=pgd_attack,
    **attack_kwargs,
) -> float:
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
    device, dtype = check_model(model)
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

    Minimises E max_{||delta||_inf <= eps} CE(f(x + delta), y): the loss of
    each mini-batch of :func:`tmlbook.training.fit` is the cross-entropy of
    its PGD adversarial examples (``steps`` steps of size ``alpha``, crafted
    with the model in evaluation mode).  Mini-batch order and the random
    starts, if on, are seeded by ``seed``.

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.
    x : torch.Tensor, shape (n, d), in [0, 1]
    y : torch.Tensor, shape (n,), int64 labels in [0, K)
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
    eps = check_number(eps, "eps")
    alpha = check_number(alpha, "alpha")
    steps = check_int(steps, "steps")
    x = check_images(x)
    pgd = dict(alpha=alpha, steps=steps, random_start=random_start)
    starts = torch.Generator().manual_seed(check_seed(seed))  # seeds of random starts

    def adversarial_loss(model, xb, yb, idx):
        model.eval()  # craft the attack on the model as it predicts
        start_seed = int(torch.randint(2**31, (1,), generator=starts))
        x_adv = pgd_attack(model, xb, yb, eps, seed=start_seed, **pgd)
        model.train()
        return F.cross_entropy(model(x_adv), yb)

    return fit(
        model,
        x,
        y,
        loss_fn=adversarial_loss,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=check_model(model)[0] if device is None else device,
        progress=progress,
    )


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
    levels = check_int(levels, "levels")
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
    levels = check_int(levels, "levels")
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
        self.levels = check_int(levels, "levels")
        self.bpda = bool(bpda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = bpda_quantise(x, self.levels) if self.bpda else quantise(x, self.levels)
        return self.model(q)


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal DCT-II matrix D, shape (n, n), with D @ D.T = I.

    Row u is the u-th cosine basis vector; the 2-D transform of an n x n
    image X is D @ X @ D.T and its inverse D.T @ C @ D.
    """
    n = check_int(n, "n")
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
    step = check_number(step, "step", positive=True)
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
        check_model(model)
        self.model = model
        self.queries = 0

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = as_tensor(x, "x")
        device, dtype = check_model(self.model)
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
    n_samples = check_int(n_samples, "n_samples")
    sigma = check_number(sigma, "sigma", positive=True)
    gen = torch.Generator().manual_seed(int(seed))
    u = torch.randn(n_samples, x.shape[0], generator=gen, dtype=torch.float64)
    x64 = x.detach().cpu().to(torch.float64)
    queries = torch.cat([x64 + sigma * u, x64 - sigma * u])  # (2N, d)
    log_p = as_tensor(black_box(queries), "black_box output").to(torch.float64)
    if log_p.dim() != 2 or log_p.shape[0] != 2 * n_samples:
        raise ValueError(
            f"black_box must return shape ({2 * n_samples}, K), "
            f"got {tuple(log_p.shape)}"
        )
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


def certify(
    counts, n: int, sigma: float, alpha: float = 0.001, guess: int | None = None
) -> tuple[int, float]:
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
    sigma = check_number(sigma, "sigma", positive=True)
    c_a = int(np.argmax(counts)) if guess is None else int(guess)
    if not 0 <= c_a < counts.size:
        raise ValueError(f"guess must be a class in [0, {counts.size}), got {guess}")
    p_low = clopper_pearson_lower(int(counts[c_a]), int(n), alpha)
    if p_low <= 0.5:
        return ABSTAIN, 0.0
    return c_a, float(sigma * norm.ppf(p_low))


@torch.no_grad()
def noise_counts(
    model: nn.Module,
    x: torch.Tensor,
    sigma: float,
    n: int,
    seed: int = 0,
    batch_size: int = 1000,
) -> np.ndarray:
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
    check_finite(x, "x")
    sigma = check_number(sigma, "sigma", positive=True)
    n = check_int(n, "n")
    batch_size = check_int(batch_size, "batch_size")
    device, dtype = check_model(model)
    gen = torch.Generator().manual_seed(check_seed(seed))
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


def certify_smoothed(
    model: nn.Module,
    x: torch.Tensor,
    sigma: float,
    n0: int = 100,
    n: int = 1000,
    alpha: float = 0.001,
    seed: int = 0,
) -> tuple[int, float]:
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


def fit_with_noise(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    sigma: float,
    *,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train with Gaussian data augmentation x + N(0, sigma^2 I), in place.

    A base classifier for randomised smoothing must be accurate under the
    noise it will be smoothed with; training on noisy copies does that.  The
    loop is :func:`tmlbook.training.fit` on the model's current device, with
    fresh noise for every mini-batch, drawn by a generator seeded with
    ``seed + 1`` (``seed`` itself seeds the mini-batch order).

    Parameters
    ----------
    model : nn.Module
        Maps (n, d) inputs to (n, K) logits.
    x : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), int64 labels in [0, K)
    sigma : float, >= 0
    epochs, lr, batch_size, seed : as :func:`tmlbook.training.fit`.

    Returns
    -------
    dict
        ``{"loss": [...]}`` per epoch.
    """
    sigma = check_number(sigma, "sigma")
    noise_gen = torch.Generator().manual_seed(check_seed(seed) + 1)

    def noisy_loss(model, xb, yb, idx):
        noise = torch.randn(xb.shape, generator=noise_gen, dtype=xb.dtype)
        return F.cross_entropy(model(xb + sigma * noise.to(xb.device)), yb)

    return fit(
        model,
        x,
        y,
        loss_fn=noisy_loss,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=check_model(model)[0],
        progress=False,
    )


# ----------------------------------------------------------------------------
# Test-time adaptation: BN statistics and TENT
# ----------------------------------------------------------------------------


def train_bn_mlp(seed: int = 0, epochs: int = 30) -> BNMLP:
    """Train :class:`tmlbook.models.BNMLP` on ``train_full`` on the CPU.

    Adam, lr 1e-3, batch 64, ``epochs`` epochs of :func:`tmlbook.training.fit`.

    Returns
    -------
    BNMLP
        64-128-BN-128-BN-10, in evaluation mode.
    """
    set_seed(seed)
    model = BNMLP()
    fit(
        model,
        *load_digits_splits().train_full,
        epochs=epochs,
        seed=seed,
        device="cpu",
        progress=False,
    )
    return model


def contrast_shift(
    x: torch.Tensor, scale: float = 0.4, offset: float = 0.3
) -> torch.Tensor:
    """The test-time covariate shift of this chapter: x -> scale * x + offset.

    Parameters
    ----------
    x : torch.Tensor, shape (n, d), in [0, 1]

    Returns
    -------
    torch.Tensor, shape (n, d); in [0, 1] when scale + offset <= 1 and offset >= 0.
    """
    x = check_images(x)
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
        model(x[start : start + batch_size])
    model.eval()


def bn_adapt(
    model: nn.Module, x: torch.Tensor, batch_size: int | None = None
) -> nn.Module:
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
    dev, dtype = check_model(adapted)
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


def tent_adapt(
    model: nn.Module,
    x: torch.Tensor,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> nn.Module:
    """TENT (Wang et al., 2021): minimise prediction entropy on test data.

    Works on a copy of ``model``.  Only the BN affine parameters (gamma,
    beta) are trained, every other parameter is frozen; BN layers normalise
    with the statistics of the current test batch.  The loop is
    :func:`tmlbook.training.fit` without labels: for ``epochs`` passes over
    ``x`` in seeded random batches, Adam takes one step on
    :func:`mean_entropy` of each batch (a last batch of one input is
    skipped).  Finally the BN running statistics are recomputed on all of
    ``x`` (as :func:`bn_adapt`), so that the returned model predicts in
    evaluation mode independently of batch composition.

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
    x = check_matrix(x, "x")
    if x.shape[0] < 2:
        raise ValueError("need at least 2 test inputs")
    adapted = copy.deepcopy(model)
    device, dtype = check_model(adapted)
    bns = _bn_layers(adapted)
    for p in adapted.parameters():
        p.requires_grad_(False)
    for bn in bns:
        if bn.weight is None:
            raise ValueError("TENT needs BN layers with affine parameters")
        bn.weight.requires_grad_(True)
        bn.bias.requires_grad_(True)

    def entropy_loss(model, xb, yb, idx):
        if len(xb) < 2:  # batch statistics need two inputs
            return None
        return mean_entropy(model(xb))

    fit(
        adapted,
        x,
        loss_fn=entropy_loss,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=device,
        progress=False,
    )
    for p in adapted.parameters():
        p.requires_grad_(True)
    _recompute_bn_stats(adapted, x.to(device, dtype), x.shape[0])
    return adapted
