"""L10/L11 -- ranking metrics and confidence scores used for OOD detection.

Ranking metrics take scikit-learn's argument order ``(y_true, y_score)``:
``y_true`` is 1 for the *positive* class and a higher ``y_score`` means "more
positive".  Scores in this module are *confidence* scores: **higher = more
in-distribution**.  pytorch-ood returns *outlier* scores (higher = more OOD),
i.e. the negatives of these (MSP = -max softmax, energy = -T logsumexp(z/T),
Mahalanobis = +distance); rankings are the same with the sign flipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tmlbook.checks import as_binary, as_tensor, as_vector, check_finite, check_ndim


def _ranking_inputs(y_true, y_score) -> tuple[torch.Tensor, torch.Tensor]:
    s = as_vector(y_score, "y_score")
    y = as_binary(y_true, "y_true", s.shape[0])
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        raise ValueError(
            "y_true must contain both classes (got only "
            f"{'positives' if n_pos else 'negatives'}); the metric is undefined"
        )
    return y, s


def _tie_groups(y: torch.Tensor, s: torch.Tensor):
    """Cumulative true and false positives at each distinct threshold (high to low)."""
    order = torch.argsort(-s, stable=True)
    s, y = s[order], y[order].to(torch.float64)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # last element of each tie group
    tp = torch.cumsum(y, 0)[last]
    fp = torch.cumsum(1 - y, 0)[last]
    return tp, fp


def auroc(y_true, y_score) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative).

    Ties between a positive and a negative count 1/2 (the trapezoid rule on
    the ROC curve, as in scikit-learn's ``roc_auc_score``).

    Parameters
    ----------
    y_true : shape (n,), {0, 1} or bool; both classes must occur
    y_score : shape (n,), higher = more positive

    Returns
    -------
    float in [0, 1]; 0.5 for an uninformative (e.g. constant) score
    """
    y, s = _ranking_inputs(y_true, y_score)
    tp, fp = _tie_groups(y, s)
    tpr = torch.cat([torch.zeros(1, dtype=torch.float64), tp / tp[-1]])
    fpr = torch.cat([torch.zeros(1, dtype=torch.float64), fp / fp[-1]])
    return float(torch.trapezoid(tpr, fpr))


def aupr(y_true, y_score) -> float:
    """Area under the precision--recall curve as average precision.

    AP = sum_t (R_t - R_{t-1}) P_t over distinct thresholds t (no
    interpolation; equals scikit-learn's ``average_precision_score``).
    The chance level is the positive rate, not 0.5.
    """
    y, s = _ranking_inputs(y_true, y_score)
    tp, fp = _tie_groups(y, s)
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    d_recall = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return float((d_recall * precision).sum())


def fpr_at_tpr(y_true, y_score, tpr: float = 0.95) -> float:
    """False-positive rate at the first threshold whose TPR reaches ``tpr``.

    Thresholds run over the distinct scores from high to low (tied scores are
    accepted together).  Which class is "positive" is the caller's choice and
    matters: FPR@95%TPR with in-distribution as positive (the usual OOD
    convention: 95 % of ID kept, the fraction of OOD let through) differs from
    OOD as positive (pass ``1 - y`` and ``-score``).

    Returns
    -------
    float in [0, 1]; lower is better
    """
    if not 0.0 < float(tpr) <= 1.0:
        raise ValueError(f"tpr must lie in (0, 1], got {tpr}")
    y, s = _ranking_inputs(y_true, y_score)
    tp, fp = _tie_groups(y, s)
    rates = tp / tp[-1]
    i = int(torch.nonzero(rates >= float(tpr) - 1e-12)[0])
    return float(fp[i] / fp[-1])


def _logits(logits) -> torch.Tensor:
    z = as_tensor(logits, "logits")
    check_ndim(z, 2, "logits", "(n, K)")
    if not z.dtype.is_floating_point:
        raise TypeError(f"logits must be floating point, got {z.dtype}")
    check_finite(z, "logits")
    return z.to(torch.float64)


def msp_score(logits) -> torch.Tensor:
    """Maximum softmax probability; shape (n,); higher = more in-distribution."""
    return torch.softmax(_logits(logits), dim=1).max(dim=1).values


def max_logit_score(logits) -> torch.Tensor:
    """Largest logit; shape (n,); higher = more in-distribution."""
    return _logits(logits).max(dim=1).values


def energy_score(logits, temperature: float = 1.0) -> torch.Tensor:
    """Negative free energy T logsumexp(z / T); shape (n,); higher = more ID.

    pytorch-ood's ``EnergyBased`` returns the energy -T logsumexp(z/T).
    """
    if not float(temperature) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    t = float(temperature)
    return t * torch.logsumexp(_logits(logits) / t, dim=1)


def odin_score(
    model: nn.Module,
    X: torch.Tensor,
    temperature: float = 1000.0,
    epsilon: float = 0.0014,
) -> torch.Tensor:
    """ODIN: temperature-scaled MSP after a small input step that raises it.

    x~ = x - epsilon * sign(grad_x CE(f(x) / T, y^)), y^ = argmax f(x);
    score = max softmax(f(x~) / T).  Higher = more in-distribution.

    Parameters
    ----------
    model : nn.Module, (n, d) -> (n, K) logits
    X : shape (n, d)
    temperature, epsilon : T > 0 and the step size (input units)

    Returns
    -------
    torch.Tensor, shape (n,), float64
    """
    if not float(temperature) > 0 or float(epsilon) < 0:
        raise ValueError("temperature must be > 0 and epsilon >= 0")
    X = as_tensor(X, "X")
    check_finite(X, "X")
    device = next(model.parameters()).device
    model.eval()
    x = X.to(device, torch.float32).detach().requires_grad_(True)
    logits = model(x) / temperature
    loss = F.cross_entropy(logits, logits.argmax(dim=1))
    (grad,) = torch.autograd.grad(loss, x)
    x_hat = x.detach() - epsilon * grad.sign()
    with torch.no_grad():
        z = model(x_hat) / temperature
    return torch.softmax(z.double(), dim=1).max(dim=1).values.cpu()


def fit_mahalanobis(features, y, ridge: float = 1e-6):
    """Class means and the shared precision matrix for :func:`mahalanobis_score`.

    The shared covariance is the pooled within-class covariance divided by N
    (pytorch-ood sums without dividing, which rescales the distances but keeps
    their ranking); ``ridge`` times the identity is added before inversion.

    Parameters
    ----------
    features : shape (n, d), e.g. penultimate activations of training data
    y : shape (n,), int labels

    Returns
    -------
    means : torch.Tensor, shape (K, d);  precision : shape (d, d), float64
    """
    f = as_tensor(features, "features").to(torch.float64)
    check_ndim(f, 2, "features", "(n, d)")
    check_finite(f, "features")
    y = as_tensor(y, "y").long()
    classes = torch.unique(y)
    means = torch.stack([f[y == c].mean(dim=0) for c in classes])
    centred = f - means[torch.searchsorted(classes, y)]
    cov = centred.T @ centred / f.shape[0]
    cov = cov + ridge * torch.eye(f.shape[1], dtype=torch.float64)
    return means, torch.linalg.inv(cov)


def mahalanobis_score(features, means, precision) -> torch.Tensor:
    """Negative smallest squared Mahalanobis distance to a class mean.

    score(x) = -min_k (f - mu_k)^T P (f - mu_k); shape (n,); higher = more ID.
    """
    f = as_tensor(features, "features").to(torch.float64)
    check_ndim(f, 2, "features", "(n, d)")
    check_finite(f, "features")
    mu = as_tensor(means, "means").to(torch.float64)
    prec = as_tensor(precision, "precision").to(torch.float64)
    if mu.shape[1] != f.shape[1] or prec.shape != (f.shape[1], f.shape[1]):
        raise ValueError(
            f"features (n, {f.shape[1]}) do not match means {tuple(mu.shape)} "
            f"and precision {tuple(prec.shape)}"
        )
    diff = f[:, None, :] - mu[None, :, :]  # (n, K, d)
    d2 = torch.einsum("nkd,de,nke->nk", diff, prec, diff)
    return -d2.min(dim=1).values


def penultimate_features(model: nn.Module, X) -> torch.Tensor:
    """Inputs of the model's last ``nn.Linear`` layer; shape (n, h), float64."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    store: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda m, i, o: store.append(i[0].detach()))
    try:
        X = as_tensor(X, "X")
        param = next(model.parameters())
        model.eval()
        with torch.no_grad():
            model(X.to(param.device, param.dtype))
    finally:
        handle.remove()
    return store[0].double().cpu()
