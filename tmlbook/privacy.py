"""L13: membership inference, canaries, DP-SGD and its accountant, unlearning.

- Attacks: :func:`loss_threshold_mia` (Yeom et al. 2018), :func:`lira_offline`
  (offline LiRA, Carlini et al. 2022), :func:`canary_exposure` (the exposure
  of planted canaries, Carlini et al. 2019).  Membership scores follow the
  ranking convention of :mod:`tmlbook.ood`: **higher = more likely a member**,
  and "member" is the positive class.
- Defence: :func:`~tmlbook.training.per_sample_gradients` and
  :func:`clip_per_sample_gradients`
  (``torch.func``), :func:`dp_sgd_step` and :func:`dp_sgd_train` (Abadi et
  al. 2016), :func:`dp_epsilon` (the RDP accountant of opacus, Mironov 2017).
- Unlearning: :func:`newton_unlearn` (one Newton step, Guo et al. 2020) for
  the L2-regularised logistic regression of :mod:`tmlbook.data_attribution`,
  and SISA shards (:func:`sisa_fit`, :func:`sisa_predict`,
  :func:`sisa_forget`; Bourtoule et al. 2021).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tmlbook.checks import (
    as_tensor,
    as_vector,
    check_alpha,
    check_int,
    check_matrix,
    check_model,
    check_model_labels,
    check_ndim,
    check_number,
    check_seed,
)
from tmlbook.data_attribution import (
    _array,
    _binary_labels,
    logistic_grads,
    logistic_hessian,
)
from tmlbook.ood import _ranking_inputs, _tie_groups, auroc
from tmlbook.training import per_sample_gradients

# ----------------------------------------------------------------------------
# Membership inference
# ----------------------------------------------------------------------------


def _model_inputs(model: nn.Module, X, y, x_name: str = "X", y_name: str = "y"):
    device, dtype = check_model(model)
    X = check_matrix(X, x_name).to(device, dtype)
    y = as_tensor(y, y_name).to(device)
    check_model_labels(model, X, y, y_name)
    return X, y


@torch.no_grad()
def _losses(model: nn.Module, X, y, x_name: str, y_name: str) -> torch.Tensor:
    X, y = _model_inputs(model, X, y, x_name, y_name)
    model.eval()
    return F.cross_entropy(model(X).double(), y, reduction="none").cpu()


@torch.no_grad()
def per_sample_loss(model: nn.Module, X, y) -> torch.Tensor:
    """Cross-entropy of every sample, ``l(f(x_i), y_i)``.

    Parameters
    ----------
    model : nn.Module, (n, d) -> (n, K) logits
    X : shape (n, d);  y : shape (n,), int labels in [0, K)

    Returns
    -------
    torch.Tensor, shape (n,), float64, on the CPU
    """
    return _losses(model, X, y, "X", "y")


@torch.no_grad()
def logit_confidence(model: nn.Module, X, y) -> torch.Tensor:
    """LiRA's statistic ``phi = log(p_y / (1 - p_y))``, computed stably.

    ``phi = z_y - logsumexp_{k != y} z_k`` equals the log-odds of the true
    class without forming ``1 - p_y`` (which rounds to 0 for a confident
    model).

    Returns
    -------
    torch.Tensor, shape (n,), float64, on the CPU
    """
    X, y = _model_inputs(model, X, y)
    model.eval()
    z = model(X).double().cpu()
    z_y = z.gather(1, y.cpu()[:, None])[:, 0]
    others = z.scatter(1, y.cpu()[:, None], -math.inf)
    return z_y - torch.logsumexp(others, dim=1)


def tpr_at_fpr(y_true, y_score, fpr: float = 0.01) -> float:
    """The largest true-positive rate whose false-positive rate is <= ``fpr``.

    Thresholds run over the distinct scores from high to low (tied scores are
    accepted together), as in scikit-learn's ``roc_curve``.  With ``m``
    negatives the smallest non-zero FPR is ``1/m``: at ``fpr < 1/m`` this is the
    TPR at FPR = 0.

    Parameters
    ----------
    y_true : shape (n,), {0, 1} or bool; both classes must occur
    y_score : shape (n,), higher = more positive
    fpr : float in (0, 1)

    Returns
    -------
    float in [0, 1]
    """
    fpr = check_alpha(fpr, "fpr")
    y, s = _ranking_inputs(y_true, y_score)
    tp, fp = _tie_groups(y, s)
    ok = fp / fp[-1] <= fpr + 1e-12
    return float(tp[ok].max() / tp[-1]) if ok.any() else 0.0


def loss_threshold_mia(
    model: nn.Module, X_in, y_in, X_out, y_out, fpr: float = 0.01
) -> dict:
    """Loss-threshold membership inference (Yeom et al. 2018).

    "Member iff the loss is below a threshold tau": the membership score of a
    sample is its negative loss, and sweeping tau gives the ROC curve.

    Parameters
    ----------
    model : nn.Module
        The target model, (n, d) -> (n, K) logits.
    X_in, y_in : shapes (n_in, d), (n_in,)
        Members (training samples of ``model``).
    X_out, y_out : shapes (n_out, d), (n_out,)
        Non-members from the same distribution.
    fpr : float
        The false-positive rate at which the TPR is reported (1 %).

    Returns
    -------
    dict
        ``scores`` (n_in + n_out,) float64, ``-loss``, members first;
        ``membership`` (n_in + n_out,) int64, 1 for members;
        ``auroc`` float; ``tpr_at_fpr`` float.
    """
    loss_in = _losses(model, X_in, y_in, "X_in", "y_in")
    loss_out = _losses(model, X_out, y_out, "X_out", "y_out")
    scores = -torch.cat([loss_in, loss_out])
    membership = torch.cat(
        [torch.ones(len(loss_in)), torch.zeros(len(loss_out))]
    ).long()
    return {
        "scores": scores,
        "membership": membership,
        "auroc": auroc(membership, scores),
        "tpr_at_fpr": tpr_at_fpr(membership, scores, fpr),
    }


def lira_offline(target_phi, shadow_phi, global_variance: bool = False):
    """Offline LiRA membership scores (Carlini et al. 2022).

    For every candidate x, the shadow models were trained *without* x (OUT
    models); their statistics ``phi`` estimate the OUT distribution
    N(mu_out(x), sigma_out(x)^2).  The one-sided test asks how unusually
    *high* the target model's ``phi`` is under it:

        score(x) = Phi((phi_target(x) - mu_out(x)) / sigma_out(x)),

    with Phi the standard normal CDF; a member scores near 1.

    Parameters
    ----------
    target_phi : shape (n,)
        :func:`logit_confidence` of the target model on the candidates.
    shadow_phi : shape (S, n), S >= 2
        The same statistic of S OUT shadow models on the same candidates.
    global_variance : bool
        Use one sigma_out (the root mean per-candidate variance) for every
        candidate, which Carlini et al. recommend with few shadow models.

    Returns
    -------
    torch.Tensor, shape (n,), float64 in [0, 1]; higher = more likely a member
    """
    t = as_vector(target_phi, "target_phi")
    s = as_tensor(shadow_phi, "shadow_phi").to(torch.float64)
    check_ndim(s, 2, "shadow_phi", "(S, n): S shadow models by n candidates")
    if s.shape[1] != t.shape[0]:
        raise ValueError(
            f"shadow_phi has {s.shape[1]} candidates but target_phi has {t.shape[0]}"
        )
    if s.shape[0] < 2:
        raise ValueError("need at least 2 shadow models to estimate a variance")
    if not torch.isfinite(s).all():
        raise ValueError("shadow_phi contains NaN or infinite values")
    mu = s.mean(dim=0)
    var = s.var(dim=0, unbiased=True)
    if global_variance:
        var = var.mean().expand_as(var)
    sd = var.clamp_min(1e-12).sqrt()
    return torch.special.ndtr((t - mu) / sd)


def canary_exposure(canary_loss, reference_losses) -> torch.Tensor:
    """Exposure of planted canaries (Carlini et al. 2019, "The Secret Sharer").

    A canary is one element of a randomness space R; the other ``|R| - 1``
    elements were never trained on.  With ``rank`` the canary's position when
    all of R is sorted by loss (rank 1 = lowest loss),

        ``exposure = log2 |R| - log2 rank``.

    Ties count against the canary (a reference with the same loss ranks
    before it), so exposure is never overstated.  ``exposure = log2 |R|`` when
    the canary has the lowest loss of all, and 0 when it has the highest.

    Parameters
    ----------
    canary_loss : shape (m,)
        The loss of each of m canaries.
    reference_losses : shape (m, N) or (N,)
        The losses of the ``N = |R| - 1`` other candidates of each canary's space
        (one shared row for every canary if 1-D).

    Returns
    -------
    torch.Tensor, shape (m,), float64, in [0, log2(N + 1)]
    """
    c = as_vector(canary_loss, "canary_loss")
    r = as_tensor(reference_losses, "reference_losses").to(torch.float64)
    if r.dim() == 1:
        r = r.expand(c.shape[0], -1)
    check_ndim(r, 2, "reference_losses", "(m, N) or (N,)")
    if r.shape[0] != c.shape[0] or r.shape[1] < 1:
        raise ValueError(
            f"reference_losses must have shape ({c.shape[0]}, N) with N >= 1, "
            f"got {tuple(r.shape)}"
        )
    if not torch.isfinite(r).all():
        raise ValueError("reference_losses contains NaN or infinite values")
    rank = 1 + (r <= c[:, None]).sum(dim=1).double()
    return math.log2(r.shape[1] + 1) - torch.log2(rank)


# ----------------------------------------------------------------------------
# DP-SGD
# ----------------------------------------------------------------------------


def clip_per_sample_gradients(
    model: nn.Module, X, y, max_norm: float
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-sample gradients, each clipped to L2 norm at most ``max_norm`` = C.

    The norm of sample i is taken over *all* parameters together,
    ``||g_i|| = sqrt(sum_k ||g_{i,k}||^2)``, and every parameter's gradient is
    scaled by the same factor ``1 / max(1, ||g_i|| / C)``.

    Parameters
    ----------
    model : nn.Module, no batch norm
    X : shape (b, d);  y : shape (b,)
    max_norm : float > 0

    Returns
    -------
    clipped : dict name -> torch.Tensor of shape (b, *param.shape)
    norms : torch.Tensor, shape (b,)
        The norms ``||g_i||`` *before* clipping.
    """
    C = check_number(max_norm, "max_norm", positive=True)
    grads = per_sample_gradients(model, X, y)
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    norms = flat.norm(dim=1)
    factor = 1.0 / torch.clamp(norms / C, min=1.0)
    clipped = {k: g * factor.view(-1, *[1] * (g.dim() - 1)) for k, g in grads.items()}
    return clipped, norms


def dp_sgd_step(
    model: nn.Module,
    X,
    y,
    lr: float,
    max_norm: float,
    noise_multiplier: float,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One DP-SGD update (Abadi et al. 2016), in place.

        g~ = (sum_i clip_C(g_i) + N(0, sigma^2 C^2 I)) / B,   theta <- theta - lr g~

    Parameters
    ----------
    model : nn.Module, no batch norm
    X : shape (b, d);  y : shape (b,)
        The batch (for Poisson sampling, the samples drawn this step).
    lr : float > 0
    max_norm : float > 0
        The clipping norm C.
    noise_multiplier : float >= 0
        sigma; the noise std on the *sum* of gradients is sigma * C.
    batch_size : int, optional
        The divisor B; default ``len(X)``.  Under Poisson sampling pass the
        *expected* batch size q n, a constant, as opacus does.
    generator : torch.Generator, optional
        A CPU generator for the noise (drawn on the CPU, so the same seed
        gives the same noise on every device).

    Returns
    -------
    dict name -> torch.Tensor of shape param.shape
        The noisy gradient g~ that was applied.
    """
    lr = check_number(lr, "lr", positive=True)
    sigma = check_number(noise_multiplier, "noise_multiplier")
    clipped, _ = clip_per_sample_gradients(model, X, y, max_norm)
    C = float(max_norm)
    B = len(next(iter(clipped.values()))) if batch_size is None else batch_size
    B = check_int(B, "batch_size")
    params = dict(model.named_parameters())
    noisy = {}
    with torch.no_grad():
        for k, g in clipped.items():
            noise = torch.randn(g.shape[1:], generator=generator, dtype=g.dtype)
            noisy[k] = (g.sum(dim=0) + sigma * C * noise.to(g.device)) / B
            params[k].sub_(lr * noisy[k])
    return noisy


def dp_sgd_train(
    model: nn.Module,
    X,
    y,
    *,
    epochs: int = 15,
    batch_size: int = 64,
    lr: float = 0.5,
    max_norm: float = 1.0,
    noise_multiplier: float = 1.0,
    seed: int = 0,
) -> dict:
    """Train with DP-SGD under Poisson sampling, in place.

    Each step includes every sample independently with probability
    q = batch_size / n (the sampling the RDP accountant assumes) and calls
    :func:`dp_sgd_step` with the expected batch size as divisor; there are
    ``round(epochs / q)`` steps.  Pass ``sample_rate`` and ``steps`` of the
    result to :func:`dp_epsilon`.

    Parameters
    ----------
    model : nn.Module, no batch norm
    X : shape (n, d);  y : shape (n,)
    epochs, batch_size, lr, max_norm, noise_multiplier, seed : settings

    Returns
    -------
    dict
        ``sample_rate`` (q), ``steps``, ``noise_multiplier``.
    """
    check_model(model)
    X = check_matrix(X, "X")
    y = as_tensor(y, "y")
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size")
    seed = check_seed(seed)
    n = X.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} samples")
    q = batch_size / n
    steps = round(epochs / q)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        take = torch.rand(n, generator=gen) < q
        if not take.any():  # an empty batch still releases the noise
            with torch.no_grad():
                for prm in model.parameters():
                    noise = torch.randn(prm.shape, generator=gen, dtype=prm.dtype)
                    scale = lr * noise_multiplier * max_norm / batch_size
                    prm.sub_(scale * noise.to(prm))
            continue
        dp_sgd_step(
            model,
            X[take],
            y[take],
            lr,
            max_norm,
            noise_multiplier,
            batch_size=batch_size,
            generator=gen,
        )
    model.eval()
    return {"sample_rate": q, "steps": steps, "noise_multiplier": noise_multiplier}


def dp_epsilon(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float
) -> float:
    """The epsilon of DP-SGD at ``delta``, from opacus's RDP accountant.

    Renyi-DP of the subsampled Gaussian mechanism (Mironov 2017; Mironov,
    Talwar and Zhang 2019) composed over ``steps`` steps and converted to
    (epsilon, delta)-DP, at the orders opacus uses by default
    (``RDPAccountant.DEFAULT_ALPHAS``).

    Parameters
    ----------
    noise_multiplier : float > 0
        sigma, the noise std relative to the clipping norm.
    sample_rate : float in (0, 1]
        q, the Poisson sampling probability of each sample per step.
    steps : int >= 1
    delta : float in (0, 1)

    Returns
    -------
    float > 0
    """
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    sigma = check_number(noise_multiplier, "noise_multiplier", positive=True)
    q = check_number(sample_rate, "sample_rate", positive=True)
    if q > 1:
        raise ValueError(f"sample_rate must lie in (0, 1], got {sample_rate}")
    steps = check_int(steps, "steps")
    delta = check_alpha(delta, "delta")
    orders = list(RDPAccountant.DEFAULT_ALPHAS)
    rdp = compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
    eps, _ = get_privacy_spent(orders=orders, rdp=rdp, delta=delta)
    return float(eps)


# ----------------------------------------------------------------------------
# Unlearning
# ----------------------------------------------------------------------------


def _forget_mask(forget, n: int) -> np.ndarray:
    f = np.asarray(forget.cpu().numpy() if isinstance(forget, torch.Tensor) else forget)
    if f.dtype == bool:
        if f.shape != (n,):
            raise ValueError(f"a boolean forget mask must have shape ({n},)")
        mask = f
    else:
        if f.ndim != 1 or not np.issubdtype(f.dtype, np.integer):
            raise ValueError("forget must be a 1-D array of row indices or a mask")
        if f.size and (f.min() < 0 or f.max() >= n):
            raise ValueError(f"forget holds indices outside [0, {n})")
        if len(np.unique(f)) != len(f):
            raise ValueError("forget holds repeated indices")
        mask = np.zeros(n, dtype=bool)
        mask[f] = True
    if mask.all():
        raise ValueError("forget removes every sample; nothing is left to fit")
    return mask


def newton_unlearn(w, X, y, forget, lam: float) -> np.ndarray:
    """Remove samples from L2-regularised logistic regression by one Newton step.

    Guo et al. (2020): with w* the minimiser on all of D and S the samples to
    forget, the objective on the rest is
    ``L(w) = (1/|D \\ S|) sum_{i not in S} l_i(w) + (lam/2) ||w||^2``, and

        w- = w* - H(w*)^{-1} grad L(w*),

    where H is the Hessian of that same objective.  Exact for a quadratic;
    for logistic regression the error is second order in the step.

    Parameters
    ----------
    w : array, shape (p,)
        The minimiser w* of :func:`tmlbook.data_attribution.fit_logistic`
        on all n samples with the same ``lam``.
    X : array, shape (n, p);  y : array, shape (n,), 0/1
    forget : indices (k,) or a bool mask (n,)
    lam : float > 0

    Returns
    -------
    np.ndarray, shape (p,)
    """
    X = _array(X, "X", 2)
    n, p = X.shape
    y = _binary_labels(y, n)
    w = _array(w, "w", 1)
    if w.shape != (p,):
        raise ValueError(f"w must have shape ({p},) to match X, got {w.shape}")
    lam = check_number(lam, "lam", positive=True)
    keep = ~_forget_mask(forget, n)
    g = logistic_grads(w, X[keep], y[keep]).mean(axis=0) + lam * w
    H = logistic_hessian(w, X[keep], lam)
    return w - np.linalg.solve(H, g)


def sisa_fit(
    X, y, n_shards: int, train_fn: Callable, seed: int = 0
) -> tuple[list, np.ndarray]:
    """SISA training (Bourtoule et al. 2021): one model per disjoint shard.

    Parameters
    ----------
    X : shape (n, d);  y : shape (n,)
    n_shards : int >= 1
    train_fn : callable ``train_fn(X_shard, y_shard) -> model``
    seed : int
        Seeds the random assignment of samples to shards.

    Returns
    -------
    models : list of n_shards models
    shard : np.ndarray, shape (n,), int
        The shard of every sample.
    """
    X = check_matrix(X, "X")
    y = as_tensor(y, "y")
    n_shards = check_int(n_shards, "n_shards")
    if n_shards > X.shape[0]:
        raise ValueError(f"n_shards {n_shards} exceeds the {X.shape[0]} samples")
    rng = np.random.default_rng(check_seed(seed))
    shard = rng.permutation(np.arange(X.shape[0]) % n_shards)
    models = [train_fn(X[shard == s], y[shard == s]) for s in range(n_shards)]
    return models, shard


@torch.no_grad()
def sisa_predict(models: list, X, n_classes: int = 10) -> torch.Tensor:
    """Majority vote of the shard models' predicted labels.

    Ties go to the smallest label.

    Returns
    -------
    torch.Tensor, shape (n,), int64
    """
    X = check_matrix(X, "X")
    if not models:
        raise ValueError("models is empty")
    votes = torch.zeros(X.shape[0], n_classes)
    for m in models:
        device, dtype = check_model(m)
        m.eval()
        pred = m(X.to(device, dtype)).argmax(dim=1).cpu()
        votes += F.one_hot(pred, n_classes).float()
    return votes.argmax(dim=1)


def sisa_forget(
    models: list, shard: np.ndarray, X, y, forget, train_fn: Callable
) -> tuple[list, np.ndarray, int]:
    """Forget samples exactly by retraining only the shards that held them.

    Returns
    -------
    models : list
        A new list: the affected shards retrained without the forgotten
        samples, the others unchanged.
    keep : np.ndarray, shape (n,), bool
        The samples that remain.
    cost : int
        The number of samples the retraining used (sum over retrained shards).
    """
    X = check_matrix(X, "X")
    y = as_tensor(y, "y")
    shard = np.asarray(shard)
    if shard.shape != (X.shape[0],):
        raise ValueError(f"shard must have shape ({X.shape[0]},)")
    drop = _forget_mask(forget, X.shape[0])
    keep = ~drop
    models = list(models)
    cost = 0
    for s in np.unique(shard[drop]):
        rows = torch.from_numpy(np.flatnonzero((shard == s) & keep))
        models[int(s)] = train_fn(X[rows], y[rows])
        cost += len(rows)
    return models, keep, cost
