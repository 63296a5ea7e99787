"""L5-L6 -- feature attribution: gradients, paths, perturbations, games, CAMs.

Every method explains the **logit** ``f_c(x)`` of one class ``c`` per input:
``target`` is an int64 tensor of shape ``(n,)`` holding one class index per
row of ``x``.  Models map ``(n, ...)`` inputs to ``(n, K)`` logits and are used
in whatever mode they are in (call ``.eval()`` first).  Gradient methods
evaluate many inputs as **one batch** (a path of ``steps`` points for
Integrated Gradients, ``n_samples`` noisy copies for SmoothGrad), never a
Python loop over samples.

Conventions (and where Captum 0.9, the test oracle, differs):

- ``saliency`` takes ``|df_c/dx|`` by default, like Captum's ``Saliency``.
- ``integrated_gradients`` uses a *correct* trapezoid rule by default (the
  weights sum to 1).  Captum's ``riemann_trapezoid`` gives the end points
  weight ``1/(2n)`` and the inner points ``1/n``, so its weights sum to
  ``(n-1)/n`` and its attributions are ours times ``(n-1)/n``.
- ``smoothgrad`` takes the noise from the caller; ``abs=True`` averages
  ``|grad|`` like Captum's ``NoiseTunnel(Saliency)``.
- ``grad_cam`` applies the paper's ReLU by default; Captum's ``LayerGradCam``
  does not (``relu_attributions=False``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tmlbook.checks import as_tensor, check_finite, check_int, check_model

RULES = ("left", "right", "midpoint", "trapezoid", "gauss-legendre")


# ----------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------


def _check_inputs(model, x, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``x`` (n, ...) and ``target`` (n,); move both to the model."""
    device, dtype = check_model(model)
    x = as_tensor(x, "x")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(
            f"x must have shape (n, ...) with n >= 1, got {tuple(x.shape)}"
        )
    check_finite(x, "x")
    target = as_tensor(target, "target")
    if target.dtype.is_floating_point or target.dtype == torch.bool:
        raise TypeError(
            f"target must hold int64 class indices, got dtype {target.dtype}"
        )
    if target.dim() != 1 or target.shape[0] != x.shape[0]:
        raise ValueError(
            f"target must have shape (n,) with n={x.shape[0]} (one class per input), "
            f"got {tuple(target.shape)}"
        )
    return x.to(device, dtype).detach(), target.to(device, torch.int64)


def _check_target_range(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.dim() != 2:
        raise ValueError(f"model must return (n, K) logits, got {tuple(logits.shape)}")
    k = logits.shape[1]
    if int(target.min()) < 0 or int(target.max()) >= k:
        raise ValueError(
            f"target holds classes outside [0, {k}): min {int(target.min())}, "
            f"max {int(target.max())}"
        )


def _baseline_like(x: torch.Tensor, baseline, name: str = "baseline") -> torch.Tensor:
    """A baseline of x's shape: None -> zeros; a number; (...) or (n, ...)."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    b = as_tensor(baseline, name).to(x.device, x.dtype)
    if tuple(b.shape) == tuple(x.shape[1:]):
        b = b.unsqueeze(0)
    if (
        b.dim() != x.dim()
        or b.shape[0] not in (1, x.shape[0])
        or tuple(b.shape[1:]) != tuple(x.shape[1:])
    ):
        raise ValueError(
            f"{name} must have shape {tuple(x.shape)} or {tuple(x.shape[1:])}, "
            f"got {tuple(b.shape)}"
        )
    check_finite(b, name)
    return b.expand_as(x).clone()


def target_logit_grad(model: nn.Module, x: torch.Tensor, target: torch.Tensor):
    """Gradient of each input's target logit, ``d f_{c_i}(x_i) / d x_i``.

    One forward and one backward pass for the whole batch: the gradient of
    ``sum_i f_{c_i}(x_i)`` with respect to ``x`` has row ``i`` equal to the
    gradient of row ``i``'s logit, because rows do not interact.

    Parameters
    ----------
    model : nn.Module
        Maps (n, ...) to (n, K) logits.
    x : torch.Tensor, shape (n, ...), on the model's device
    target : torch.Tensor, shape (n,), int64

    Returns
    -------
    (grad, logit) : torch.Tensor of shape (n, ...) and (n,)
    """
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        logits = model(x)
        _check_target_range(logits, target)
        chosen = logits.gather(1, target[:, None]).squeeze(1)
        (grad,) = torch.autograd.grad(chosen.sum(), x)
    return grad.detach(), chosen.detach()


# ----------------------------------------------------------------------------
# L5: gradients
# ----------------------------------------------------------------------------


def saliency(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, abs: bool = True
) -> torch.Tensor:
    """Vanilla-gradient saliency ``|d f_c(x) / dx|`` (Simonyan et al., 2014).

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64 class per input
    abs : bool
        Take the absolute value (Captum's default); ``False`` keeps the sign.

    Returns
    -------
    torch.Tensor, shape (n, ...), on x's device
    """
    device = as_tensor(x, "x").device
    xs, t = _check_inputs(model, x, target)
    grad, _ = target_logit_grad(model, xs, t)
    return (grad.abs() if abs else grad).to(device)


def input_x_gradient(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Gradient x input, ``x * d f_c(x) / dx`` (Shrikumar et al., 2016).

    Returns
    -------
    torch.Tensor, shape (n, ...)
    """
    device = as_tensor(x, "x").device
    xs, t = _check_inputs(model, x, target)
    grad, _ = target_logit_grad(model, xs, t)
    return (xs * grad).to(device)


# ----------------------------------------------------------------------------
# L6: Integrated Gradients and SmoothGrad
# ----------------------------------------------------------------------------


def path_points(steps: int, rule: str = "trapezoid") -> tuple[np.ndarray, np.ndarray]:
    """Points ``alpha_k`` in [0, 1] and weights ``w_k`` of a quadrature rule.

    ``sum_k w_k g(alpha_k)`` approximates ``int_0^1 g(alpha) d alpha``; the
    weights of every rule sum to 1.

    Parameters
    ----------
    steps : int
        Number of points on the path (>= 2 for the trapezoid rule).
    rule : {"left", "right", "midpoint", "trapezoid", "gauss-legendre"}

    Returns
    -------
    alphas, weights : np.ndarray, shape (steps,)
    """
    m = check_int(steps, "steps")
    if rule == "left":
        return np.arange(m) / m, np.full(m, 1 / m)
    if rule == "right":
        return np.arange(1, m + 1) / m, np.full(m, 1 / m)
    if rule == "midpoint":
        return (np.arange(m) + 0.5) / m, np.full(m, 1 / m)
    if rule == "trapezoid":
        if m < 2:
            raise ValueError("the trapezoid rule needs steps >= 2 (both end points)")
        w = np.full(m, 1 / (m - 1))
        w[0] = w[-1] = 0.5 / (m - 1)
        return np.linspace(0.0, 1.0, m), w
    if rule == "gauss-legendre":
        t, w = np.polynomial.legendre.leggauss(m)
        return (t + 1) / 2, w / 2
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    baseline=None,
    steps: int = 50,
    rule: str = "trapezoid",
) -> torch.Tensor:
    """Integrated Gradients (Sundararajan et al., 2017).

    ``IG_i = (x_i - x'_i) * sum_k w_k * d f_c(x' + alpha_k (x - x')) / dx_i``,
    with the points and weights of :func:`path_points`.  All ``steps * n``
    path points go through the model as one batch.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64
    baseline : None, float, or tensor of shape (...) or (n, ...)
        ``x'``; ``None`` is the all-zeros input.
    steps : int
        Number of points on the path.
    rule : str
        Quadrature rule, see :func:`path_points`.

    Returns
    -------
    torch.Tensor, shape (n, ...)
        Completeness: each row sums to about ``f_c(x) - f_c(x')``.
    """
    device = as_tensor(x, "x").device
    xs, t = _check_inputs(model, x, target)
    base = _baseline_like(xs, baseline)
    alphas, weights = path_points(steps, rule)
    m, n = len(alphas), xs.shape[0]
    a = torch.as_tensor(alphas, dtype=xs.dtype, device=xs.device)
    a = a.reshape(m, 1, *([1] * (xs.dim() - 1)))
    path = base.unsqueeze(0) + a * (xs - base).unsqueeze(0)  # (m, n, ...)
    grads, _ = target_logit_grad(model, path.reshape(m * n, *xs.shape[1:]), t.repeat(m))
    w = torch.as_tensor(weights, dtype=xs.dtype, device=xs.device)
    avg = torch.tensordot(w, grads.reshape(m, n, *xs.shape[1:]), dims=1)
    return ((xs - base) * avg).to(device)


def completeness_gap(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, attributions, baseline=None
) -> torch.Tensor:
    """``sum_i A_i - (f_c(x) - f_c(x'))`` per input: 0 for a complete method.

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    xs, t = _check_inputs(model, x, target)
    base = _baseline_like(xs, baseline)
    attr = as_tensor(attributions, "attributions").to(xs.device, xs.dtype)
    if attr.shape != xs.shape:
        raise ValueError(
            f"attributions must have x's shape {tuple(xs.shape)}, "
            f"got {tuple(attr.shape)}"
        )
    with torch.no_grad():
        fx = model(xs).gather(1, t[:, None]).squeeze(1)
        fb = model(base).gather(1, t[:, None]).squeeze(1)
    return attr.flatten(1).sum(1) - (fx - fb)


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    noise: torch.Tensor,
    abs: bool = True,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al., 2017): average gradients of noisy copies.

    ``(1/S) sum_s |grad f_c(x + noise_s)|`` (``abs=True``) or the signed mean.
    The caller draws the noise (e.g. ``sigma * torch.randn(S, *x.shape)``), so
    results are reproducible and every copy gets its own noise.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64
    noise : torch.Tensor, shape (n_samples, n, ...)
    abs : bool

    Returns
    -------
    torch.Tensor, shape (n, ...)
    """
    device = as_tensor(x, "x").device
    xs, t = _check_inputs(model, x, target)
    noise = as_tensor(noise, "noise").to(xs.device, xs.dtype)
    if noise.dim() != xs.dim() + 1 or tuple(noise.shape[1:]) != tuple(xs.shape):
        raise ValueError(
            f"noise must have shape (n_samples, *x.shape) = (S, {tuple(xs.shape)}), "
            f"got {tuple(noise.shape)}"
        )
    if noise.shape[0] == 0:
        raise ValueError("noise holds no samples (n_samples = 0)")
    check_finite(noise, "noise")
    s = noise.shape[0]
    noisy = (xs.unsqueeze(0) + noise).reshape(s * xs.shape[0], *xs.shape[1:])
    grads, _ = target_logit_grad(model, noisy, t.repeat(s))
    grads = grads.reshape(noise.shape)
    return (grads.abs() if abs else grads).mean(0).to(device)


# ----------------------------------------------------------------------------
# L6: CAM and Grad-CAM
# ----------------------------------------------------------------------------


def _check_layer(model: nn.Module, layer) -> None:
    if not isinstance(layer, nn.Module):
        raise TypeError(
            f"layer must be an nn.Module of the model, got {type(layer).__name__}"
        )
    if not any(m is layer for m in model.modules()):
        raise ValueError(
            f"layer {type(layer).__name__} is not a module of the model; pass one of "
            "model.modules() (e.g. model.conv for SmallCNN)"
        )


def layer_activation_grad(model: nn.Module, layer: nn.Module, x, target):
    """Activations ``A`` of ``layer`` and the gradient of the target logit on them.

    Returns
    -------
    (acts, grads) : torch.Tensor, both of the layer's output shape (n, ...)
    """
    _check_layer(model, layer)
    xs, t = _check_inputs(model, x, target)
    store = {}

    def hook(_module, _inp, out):
        if not isinstance(out, torch.Tensor):
            raise TypeError("the layer must return a single tensor")
        store["a"] = out
        return out

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(xs.requires_grad_(True))
            _check_target_range(logits, t)
            chosen = logits.gather(1, t[:, None]).squeeze(1)
            (grads,) = torch.autograd.grad(chosen.sum(), store["a"])
    finally:
        handle.remove()
    return store["a"].detach(), grads.detach()


def grad_cam(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    relu: bool = True,
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., 2017) at the resolution of ``layer``.

    ``alpha_k = (1/(H W)) sum_ij d f_c / d A^k_ij`` (spatial mean of the
    gradient per channel) and ``L = ReLU(sum_k alpha_k A^k)``.

    Parameters
    ----------
    model : nn.Module
    layer : nn.Module
        A module of ``model`` whose output has shape (n, channels, h, w).
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64
    relu : bool
        Apply the paper's ReLU (Captum's ``LayerGradCam`` does not by default).

    Returns
    -------
    torch.Tensor, shape (n, 1, h, w)
    """
    device = as_tensor(x, "x").device
    acts, grads = layer_activation_grad(model, layer, x, target)
    if acts.dim() != 4:
        raise ValueError(
            "the layer's output must have shape (n, channels, h, w), "
            f"got {tuple(acts.shape)}"
        )
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    cam = (alpha * acts).sum(dim=1, keepdim=True)
    return (F.relu(cam) if relu else cam).to(device)


def class_activation_map(
    features: torch.Tensor, weight: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """CAM (Zhou et al., 2016) for a global-average-pooling + linear head.

    ``CAM_c = sum_k w_{c,k} A^k``, where the logits are
    ``W @ mean_ij A_ij + b``.

    Parameters
    ----------
    features : torch.Tensor, shape (n, channels, h, w)
    weight : torch.Tensor, shape (K, channels)
        The linear head's weight.
    target : torch.Tensor, shape (n,), int64

    Returns
    -------
    torch.Tensor, shape (n, 1, h, w)
    """
    features = as_tensor(features, "features")
    weight = as_tensor(weight, "weight").to(features.device, features.dtype)
    if features.dim() != 4:
        raise ValueError(
            f"features must have shape (n, channels, h, w), got {tuple(features.shape)}"
        )
    if weight.dim() != 2 or weight.shape[1] != features.shape[1]:
        raise ValueError(
            f"weight must have shape (K, {features.shape[1]}), "
            f"got {tuple(weight.shape)}"
        )
    target = as_tensor(target, "target").to(features.device)
    if target.shape != (features.shape[0],) or target.dtype.is_floating_point:
        raise ValueError(f"target must be int64 of shape ({features.shape[0]},)")
    if int(target.min()) < 0 or int(target.max()) >= weight.shape[0]:
        raise ValueError(f"target holds classes outside [0, {weight.shape[0]})")
    w = weight[target][:, :, None, None]
    return (w * features).sum(dim=1, keepdim=True)


def upsample_map(cam: torch.Tensor, size: tuple[int, int], mode: str = "bilinear"):
    """Resize (n, 1, h, w) maps to ``(n, 1, *size)`` for display over the input.

    ``mode`` is ``"bilinear"`` (smooth, the paper's choice) or ``"nearest"``
    (Captum's ``LayerAttribution.interpolate`` default).
    """
    cam = as_tensor(cam, "cam")
    if cam.dim() != 4:
        raise ValueError(f"cam must have shape (n, 1, h, w), got {tuple(cam.shape)}")
    if mode == "nearest":
        return F.interpolate(cam, size=size, mode="nearest")
    if mode == "bilinear":
        return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)
    raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")


# ----------------------------------------------------------------------------
# L5-L6: perturbations -- occlusion, Shapley values, KernelSHAP, LIME
# ----------------------------------------------------------------------------


def _image_shape(x: torch.Tensor, image_shape) -> tuple[int, ...]:
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if math.prod(shape) != math.prod(x.shape[1:]):
            raise ValueError(
                f"image_shape {shape} does not match x's shape {tuple(x.shape)}"
            )
        return shape
    if x.dim() == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError("flat x is not square: pass image_shape=(C, H, W)")
        return (1, side, side)
    if x.dim() == 4:
        return tuple(x.shape[1:])
    raise ValueError(f"x must have shape (n, d) or (n, C, H, W), got {tuple(x.shape)}")


def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    patch: int = 2,
    stride: int = 2,
    baseline: float = 0.0,
    image_shape: tuple[int, int, int] | None = None,
) -> torch.Tensor:
    """Occlusion / prediction difference (Zeiler & Fergus, 2014; Zintgraf et al., 2017).

    ``A_P = f_c(x) - f_c(x with patch P set to the baseline)`` for square
    patches of side ``patch`` moved by ``stride`` (all channels at once).

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, d) flat square images or (n, C, H, W)
    target : torch.Tensor, shape (n,), int64
    patch, stride : int
    baseline : float
        The value an occluded pixel takes.
    image_shape : (C, H, W), optional
        How to read flat inputs; square single-channel by default.

    Returns
    -------
    torch.Tensor, shape (n, rows, cols)
        One value per patch position, ``rows = (H - patch) // stride + 1``.
    """
    device = as_tensor(x, "x").device
    xs, t = _check_inputs(model, x, target)
    c, h, w = _image_shape(xs, image_shape)
    patch = check_int(patch, "patch")
    stride = check_int(stride, "stride")
    if patch > min(h, w):
        raise ValueError(f"patch {patch} is larger than the image ({h}x{w})")
    rows, cols = (h - patch) // stride + 1, (w - patch) // stride + 1
    masks = torch.zeros(rows * cols, h, w, dtype=torch.bool, device=xs.device)
    for r in range(rows):
        for q in range(cols):
            masks[
                r * cols + q,
                r * stride : r * stride + patch,
                q * stride : q * stride + patch,
            ] = True
    img = xs.reshape(-1, 1, c, h, w)
    occluded = torch.where(
        masks[None, :, None], torch.as_tensor(baseline, dtype=xs.dtype), img
    )
    n, p = xs.shape[0], rows * cols
    with torch.no_grad():
        logits = model(xs)
        _check_target_range(logits, t)
        f = logits.gather(1, t[:, None])  # (n, 1)
        fo = model(occluded.reshape(n * p, *xs.shape[1:])).reshape(n, p, -1)
        fo = fo.gather(2, t[:, None, None].expand(n, p, 1)).squeeze(2)
    return (f - fo).reshape(n, rows, cols).to(device)


def _check_groups(groups, d: int) -> tuple[torch.Tensor, int]:
    g = as_tensor(groups, "groups")
    if g.dtype.is_floating_point or g.dtype == torch.bool:
        raise TypeError("groups must hold integer player indices")
    g = g.reshape(-1).to(torch.int64)
    if g.numel() != d:
        raise ValueError(
            f"groups must give one player per feature ({d}), got {g.numel()}"
        )
    p = int(g.max()) + 1
    if int(g.min()) < 0 or sorted(set(g.tolist())) != list(range(p)):
        raise ValueError(
            "groups must use the players 0, 1, ..., p-1, each at least once"
        )
    return g, p


def coalition_values(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    groups,
    masks: torch.Tensor,
    baseline=None,
) -> torch.Tensor:
    """The game ``v(S) = f_c(x_S, baseline elsewhere)`` for given coalitions.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64
    groups : array of shape (d,) or x's feature shape
        Player index (0..p-1) of each input feature (e.g. superpixels).
    masks : torch.Tensor, shape (m, p), bool
        Coalitions: ``masks[j, i]`` says whether player i is present.
    baseline : None (zeros), float, or tensor of x's shape

    Returns
    -------
    torch.Tensor, shape (n, m)
    """
    xs, t = _check_inputs(model, x, target)
    base = _baseline_like(xs, baseline)
    d = math.prod(xs.shape[1:])
    g, p = _check_groups(groups, d)
    masks = as_tensor(masks, "masks").to(xs.device)
    if masks.dim() != 2 or masks.shape[1] != p:
        raise ValueError(f"masks must have shape (m, {p}), got {tuple(masks.shape)}")
    keep = masks.bool()[:, g.to(xs.device)]  # (m, d)
    n, m = xs.shape[0], masks.shape[0]
    xf, bf = xs.reshape(n, 1, d), base.reshape(n, 1, d)
    mixed = torch.where(keep[None], xf, bf).reshape(n * m, *xs.shape[1:])
    with torch.no_grad():
        logits = model(mixed)
        _check_target_range(logits, t)
        v = logits.reshape(n, m, -1).gather(2, t[:, None, None].expand(n, m, 1))
    return v.squeeze(2)


def all_coalitions(p: int) -> torch.Tensor:
    """All ``2**p`` coalitions of ``p`` players as a (2**p, p) bool tensor.

    Row ``j`` is the binary expansion of ``j`` (player i present when bit i is 1).
    """
    p = check_int(p, "p")
    j = torch.arange(2**p)[:, None]
    return (j >> torch.arange(p)[None]) & 1 == 1


def shapley_from_game(values: torch.Tensor) -> torch.Tensor:
    """Exact Shapley values from the values of all ``2**p`` coalitions.

    ``phi_i = sum_{S not containing i} |S|! (p-|S|-1)! / p! [v(S + i) - v(S)]``.

    Parameters
    ----------
    values : torch.Tensor, shape (n, 2**p)
        ``values[:, j]`` is ``v`` of the coalition :func:`all_coalitions` row j.

    Returns
    -------
    torch.Tensor, shape (n, p), float64
    """
    values = as_tensor(values, "values").to(torch.float64)
    if values.dim() == 1:
        values = values[None]
    m = values.shape[1]
    p = m.bit_length() - 1
    if 2**p != m:
        raise ValueError(f"values must have 2**p columns, got {m}")
    sizes = all_coalitions(p).sum(1)
    weight = torch.tensor(
        [
            math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p)
            if s < p
            else 0.0
            for s in range(p + 1)
        ],
        dtype=torch.float64,
    )[sizes]
    phi = torch.zeros(values.shape[0], p, dtype=torch.float64)
    idx = torch.arange(m)
    for i in range(p):
        without = idx[(idx >> i) & 1 == 0]
        phi[:, i] = (
            (values[:, without | (1 << i)] - values[:, without]) * weight[without]
        ).sum(1)
    return phi


def shapley_values(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, groups, baseline=None
) -> torch.Tensor:
    """Exact Shapley values of ``p <= 12`` players (Shapley, 1953).

    The game is :func:`coalition_values`: a player's features keep their
    values, absent players' features take the baseline.  All ``2**p``
    coalitions are evaluated in one batch per input.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64
    groups : array of shape (d,)
        Player of each feature, 0..p-1.
    baseline : None (zeros), float, or tensor

    Returns
    -------
    torch.Tensor, shape (n, p), float64
        Efficiency: rows sum to ``v(all) - v(none)``.
    """
    xs, _ = _check_inputs(model, x, target)
    _, p = _check_groups(groups, math.prod(xs.shape[1:]))
    if p > 12:
        raise ValueError(
            f"exact Shapley values need 2**p coalitions: p={p} > 12, use kernel_shap"
        )
    values = coalition_values(model, x, target, groups, all_coalitions(p), baseline)
    return shapley_from_game(values.cpu())


def shapley_kernel(p: int, sizes) -> np.ndarray:
    """KernelSHAP weight ``(p-1) / (C(p,s) s (p-s))`` of coalitions of size s.

    Infinite for ``s = 0`` and ``s = p`` (those are enforced as constraints).
    """
    s = np.asarray(sizes, dtype=float)
    with np.errstate(divide="ignore"):
        comb = np.array([math.comb(p, int(k)) for k in s.ravel()], dtype=float).reshape(
            s.shape
        )
        return (p - 1) / (comb * s * (p - s))


def kernel_shap(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    groups,
    baseline=None,
    n_samples: int | None = 1000,
    seed: int = 0,
) -> torch.Tensor:
    """KernelSHAP (Lundberg & Lee, 2017): Shapley values by weighted regression.

    Coalitions ``z`` get the Shapley-kernel weight (:func:`shapley_kernel`);
    ``phi`` minimises ``sum_z pi(z) (v(z) - v(0) - z . phi)^2`` subject to the
    efficiency constraint ``sum_i phi_i = v(1) - v(0)``.  With
    ``n_samples=None`` every coalition is used and the result equals the exact
    Shapley values; otherwise coalitions are drawn with probability
    proportional to their kernel weight (then all weights are equal).

    Returns
    -------
    torch.Tensor, shape (n, p), float64
    """
    xs, _ = _check_inputs(model, x, target)
    _, p = _check_groups(groups, math.prod(xs.shape[1:]))
    if p < 2:
        raise ValueError("kernel_shap needs at least 2 players")
    if n_samples is None:
        z = all_coalitions(p)
        sizes = z.sum(1).numpy()
        inner = (sizes > 0) & (sizes < p)
        z = z[torch.from_numpy(inner)]
        w = shapley_kernel(p, sizes[inner])
    else:
        n_samples = check_int(n_samples, "n_samples")
        rng = np.random.default_rng(seed)
        size_w = shapley_kernel(p, np.arange(1, p)) * np.array(
            [math.comb(p, k) for k in range(1, p)]
        )
        sizes = rng.choice(np.arange(1, p), size=n_samples, p=size_w / size_w.sum())
        z = torch.zeros(n_samples, p, dtype=torch.bool)
        for j, s in enumerate(sizes):
            z[j, torch.from_numpy(rng.permutation(p)[:s])] = True
        w = np.ones(n_samples)
    ends = torch.stack(
        [torch.zeros(p, dtype=torch.bool), torch.ones(p, dtype=torch.bool)]
    )
    v = coalition_values(model, x, target, groups, torch.cat([ends, z]), baseline)
    v = v.cpu().double().numpy()
    v0, v1, vz = v[:, 0], v[:, 1], v[:, 2:]
    # eliminate phi_p = (v1 - v0) - sum_{i<p} phi_i  and solve for phi_1..phi_{p-1}
    zf = z.double().numpy()
    a = zf[:, :-1] - zf[:, -1:]
    sw = np.sqrt(w)[:, None]
    phi = np.zeros((xs.shape[0], p))
    for r in range(xs.shape[0]):
        b = vz[r] - v0[r] - zf[:, -1] * (v1[r] - v0[r])
        sol, *_ = np.linalg.lstsq(a * sw, b * sw[:, 0], rcond=None)
        phi[r, :-1] = sol
        phi[r, -1] = (v1[r] - v0[r]) - sol.sum()
    return torch.from_numpy(phi)


def lime(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    groups,
    baseline=None,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    seed: int = 0,
) -> torch.Tensor:
    """LIME (Ribeiro et al., 2016) with a weighted ridge surrogate.

    Draws ``n_samples`` binary masks ``z`` (each player present with
    probability 1/2), weights them by ``pi(z) = exp(-D(z)^2 / width^2)`` with
    ``D`` the cosine distance between ``z`` and the all-ones mask (LIME's
    image default), and fits ``v(z) ~ b + z . g`` by ridge regression with
    penalty ``alpha``.  Returns the coefficients ``g``.

    Returns
    -------
    torch.Tensor, shape (n, p), float64
    """
    from sklearn.linear_model import Ridge

    xs, _ = _check_inputs(model, x, target)
    _, p = _check_groups(groups, math.prod(xs.shape[1:]))
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    if kernel_width <= 0 or alpha < 0:
        raise ValueError("kernel_width must be > 0 and alpha >= 0")
    rng = np.random.default_rng(seed)
    z = rng.random((n_samples, p)) < 0.5
    z[0] = True  # the unperturbed input, as LIME does
    v = coalition_values(model, x, target, groups, torch.from_numpy(z), baseline)
    v = v.cpu().double().numpy()
    norms = np.sqrt(z.sum(1))
    cos = np.where(norms > 0, z.sum(1) / (norms * math.sqrt(p) + 1e-12), 0.0)
    pi = np.exp(-((1 - cos) ** 2) / kernel_width**2)
    out = np.zeros((xs.shape[0], p))
    for r in range(xs.shape[0]):
        out[r] = Ridge(alpha=alpha).fit(z.astype(float), v[r], sample_weight=pi).coef_
    return torch.from_numpy(out)


# ----------------------------------------------------------------------------
# L6: concepts (TCAV)
# ----------------------------------------------------------------------------


def layer_activations(
    model: nn.Module, layer: nn.Module, x: torch.Tensor
) -> torch.Tensor:
    """Output of ``layer`` for inputs ``x``, flattened to (n, units)."""
    _check_layer(model, layer)
    device, dtype = check_model(model)
    xs = as_tensor(x, "x").to(device, dtype)
    store = {}
    handle = layer.register_forward_hook(
        lambda _m, _i, out: store.__setitem__("a", out)
    )
    try:
        with torch.no_grad():
            model(xs)
    finally:
        handle.remove()
    return store["a"].flatten(1)


def concept_activation_vector(
    model: nn.Module,
    layer: nn.Module,
    concept: torch.Tensor,
    random: torch.Tensor,
    seed: int = 0,
) -> torch.Tensor:
    """CAV (Kim et al., 2018): unit normal of a linear concept-vs-random classifier.

    A logistic regression separates the layer activations of ``concept``
    inputs (label 1) from those of ``random`` inputs (label 0); the CAV is its
    weight vector, normalised, pointing towards the concept.

    Returns
    -------
    torch.Tensor, shape (units,)
    """
    from sklearn.linear_model import LogisticRegression

    a = layer_activations(model, layer, concept).cpu().double().numpy()
    b = layer_activations(model, layer, random).cpu().double().numpy()
    if len(a) < 2 or len(b) < 2:
        raise ValueError("concept and random need at least 2 examples each")
    clf = LogisticRegression(max_iter=2000, random_state=seed)
    clf.fit(np.concatenate([a, b]), np.r_[np.ones(len(a)), np.zeros(len(b))])
    v = torch.from_numpy(clf.coef_[0])
    return (v / v.norm()).float()


def tcav_score(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    cav: torch.Tensor,
) -> float:
    """TCAV score: fraction of inputs whose target logit increases along the CAV.

    ``S(x) = grad_a f_c(a(x)) . v`` with ``a`` the layer's (flattened)
    activation; the score is ``mean(S > 0)``.

    Parameters
    ----------
    model, layer : the model and one of its modules
    x : torch.Tensor, shape (n, ...)
    target : torch.Tensor, shape (n,), int64
    cav : torch.Tensor, shape (units,), from :func:`concept_activation_vector`

    Returns
    -------
    float in [0, 1]
    """
    _, grads = layer_activation_grad(model, layer, x, target)
    g = grads.flatten(1)
    cav = as_tensor(cav, "cav").to(g.device, g.dtype).reshape(-1)
    if cav.numel() != g.shape[1]:
        raise ValueError(
            f"cav must have {g.shape[1]} entries (layer units), got {cav.numel()}"
        )
    return float(((g @ cav) > 0).double().mean())


# ----------------------------------------------------------------------------
# L6: evaluation -- deletion curves, cascading randomisation
# ----------------------------------------------------------------------------


def deletion_curve(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    attributions: torch.Tensor,
    baseline=None,
    output: str = "prob",
) -> torch.Tensor:
    """Deletion curve (Samek et al., 2017): remove the top-attributed features first.

    Row ``i``, column ``k`` is the model's output for class ``c_i`` after the
    ``k`` features with the largest attributions (ties broken by feature
    index) are set to the baseline, ``k = 0, ..., d``.  All ``d + 1`` inputs
    go through the model as one batch.

    Parameters
    ----------
    attributions : torch.Tensor, x's shape
    baseline : None (zeros), float or tensor of x's shape
    output : {"prob", "logit"}
        Softmax probability of the target class, or its logit.

    Returns
    -------
    torch.Tensor, shape (n, d + 1)
    """
    xs, t = _check_inputs(model, x, target)
    base = _baseline_like(xs, baseline)
    attr = as_tensor(attributions, "attributions").to(xs.device)
    if attr.shape != xs.shape:
        raise ValueError(
            f"attributions must have x's shape {tuple(xs.shape)}, "
            f"got {tuple(attr.shape)}"
        )
    if output not in ("prob", "logit"):
        raise ValueError(f"output must be 'prob' or 'logit', got {output!r}")
    n, d = xs.shape[0], math.prod(xs.shape[1:])
    order = torch.argsort(
        attr.reshape(n, d).double(), dim=1, descending=True, stable=True
    )
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(d, device=xs.device).expand(n, d))
    k = torch.arange(d + 1, device=xs.device)
    removed = rank[:, None, :] < k[None, :, None]  # (n, d+1, d)
    mixed = torch.where(removed, base.reshape(n, 1, d), xs.reshape(n, 1, d))
    with torch.no_grad():
        logits = model(mixed.reshape(n * (d + 1), *xs.shape[1:])).reshape(n, d + 1, -1)
        _check_target_range(logits[:, 0], t)
        if output == "prob":
            logits = logits.softmax(-1)
        out = logits.gather(2, t[:, None, None].expand(n, d + 1, 1)).squeeze(2)
    return out.cpu()


def deletion_auc(curve: torch.Tensor) -> torch.Tensor:
    """Area under deletion curves over the fraction removed in [0, 1] (trapezoid).

    Parameters
    ----------
    curve : torch.Tensor, shape (n, d + 1)

    Returns
    -------
    torch.Tensor, shape (n,); lower = the attribution found the evidence faster
    """
    curve = as_tensor(curve, "curve").double()
    if curve.dim() != 2 or curve.shape[1] < 2:
        raise ValueError(
            f"curve must have shape (n, d + 1) with d >= 1, got {tuple(curve.shape)}"
        )
    d = curve.shape[1] - 1
    return ((curve[:, 1:] + curve[:, :-1]) / 2).sum(1) / d


def cascading_randomisation(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    explain: Callable = saliency,
    seed: int = 0,
) -> list[tuple[str, torch.Tensor]]:
    """Model-randomisation sanity check (Adebayo et al., 2018), top layer first.

    Re-initialises the model's parameterised layers one after another from
    the output towards the input (cumulatively, on a copy), and explains
    ``(x, target)`` after each step with ``explain(model, x, target)``.

    Returns
    -------
    list of (name, attributions)
        ``("original", A_0)`` first, then one entry per randomised layer, named
        as in ``model.named_modules()``; every ``A`` has x's shape.
    """
    check_model(model)
    layers = [
        name
        for name, m in model.named_modules()
        if hasattr(m, "reset_parameters")
        and any(True for _ in m.parameters(recurse=False))
    ]
    if not layers:
        raise ValueError("the model has no layers with parameters to randomise")
    rand_model = copy.deepcopy(model)
    modules = dict(rand_model.named_modules())
    out = [("original", explain(model, x, target))]
    torch.manual_seed(seed)
    for name in reversed(layers):
        modules[name].reset_parameters()
        out.append((name, explain(rand_model, x, target)))
    return out


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of two maps per input (average ranks for ties).

    Parameters
    ----------
    a, b : torch.Tensor, shape (n, ...)

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    from scipy.stats import rankdata

    a = as_tensor(a, "a").detach().cpu().double().flatten(1).numpy()
    b = as_tensor(b, "b").detach().cpu().double().flatten(1).numpy()
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {a.shape} and {b.shape}"
        )
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    return torch.from_numpy(
        np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1), 0.0)
    )


# ----------------------------------------------------------------------------
# L5: counterfactual explanations
# ----------------------------------------------------------------------------


def counterfactual(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    lam: float = 1.0,
    steps: int = 300,
    lr: float = 0.01,
) -> torch.Tensor:
    """Counterfactual explanation (Wachter et al., 2017) by proximal gradient.

    Minimises ``lam * CE(f(x'), c) + ||x' - x||_1`` over ``x'`` in [0, 1]:
    a gradient step on the prediction term, then the L1 proximal step (soft
    thresholding of ``x' - x`` by ``lr``), then clipping to [0, 1].  The L1
    term keeps the change sparse: few pixels move.  Wachter et al. use a
    squared distance to a desired output; the cross-entropy ``-log p_c`` is
    the variant used here because its gradient does not vanish when
    ``p_c(x)`` starts near 0.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (n, ...), values in [0, 1]
    target : torch.Tensor, shape (n,), int64
        The **desired** class ``c`` of each counterfactual.
    lam, steps, lr : weight of the prediction term, iterations, step size

    Returns
    -------
    torch.Tensor, x's shape
    """
    device = as_tensor(x, "x").device
    xs, t = _check_inputs(model, x, target)
    if float(xs.min()) < 0 or float(xs.max()) > 1:
        raise ValueError("x must lie in [0, 1] (pixel range)")
    steps = check_int(steps, "steps")
    if lam <= 0 or lr <= 0:
        raise ValueError("lam and lr must be > 0")
    xc = xs.clone()
    for _ in range(steps):
        with torch.enable_grad():
            z = xc.clone().requires_grad_(True)
            logits = model(z)
            _check_target_range(logits, t)
            loss = lam * F.cross_entropy(logits, t, reduction="sum")
            (g,) = torch.autograd.grad(loss, z)
        delta = xc - lr * g - xs
        delta = torch.sign(delta) * torch.clamp(delta.abs() - lr, min=0.0)
        xc = (xs + delta).clamp(0.0, 1.0)
    return xc.detach().to(device)


# ----------------------------------------------------------------------------
# L7: feature visualisation
# ----------------------------------------------------------------------------


def feature_visualisation(
    model: nn.Module,
    target: torch.Tensor,
    shape: tuple[int, ...] = (64,),
    l2: float = 0.05,
    steps: int = 200,
    lr: float = 0.05,
) -> torch.Tensor:
    """Class visualisation by projected gradient ascent (Olah et al., 2017).

    ``x* = argmax_{x in [0,1]^d} f_c(x) - l2 * ||x||^2``, started from a grey
    image (0.5 everywhere): each step moves along the gradient and clips to
    [0, 1].

    Parameters
    ----------
    model : nn.Module
    target : torch.Tensor, shape (n,), int64
        One class per image to synthesise.
    shape : tuple
        Shape of one input, (64,) for flat digits.
    l2, steps, lr : penalty weight, iterations and step size

    Returns
    -------
    torch.Tensor, shape (n, *shape), values in [0, 1]
    """
    target = as_tensor(target, "target")
    x0 = torch.full((max(target.shape[0], 1), *shape), 0.5)
    xs, t = _check_inputs(model, x0, target)
    steps = check_int(steps, "steps")
    if l2 < 0 or lr <= 0:
        raise ValueError("l2 must be >= 0 and lr > 0")
    for _ in range(steps):
        grad, _ = target_logit_grad(model, xs, t)
        xs = (xs + lr * (grad - 2 * l2 * xs)).clamp(0.0, 1.0)
    return xs.detach().cpu()
