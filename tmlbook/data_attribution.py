"""L7 -- training-data attribution: influence functions, LiSSA, Lanczos, TracIn.

Influence functions are shown on L2-regularised logistic regression, where
the Hessian is exact and small and leave-one-out retraining is cheap, so
every approximation can be compared with the ground truth it approximates.

The objective (with a bias column appended to ``X`` by :func:`with_bias`) is

``J(w) = (1/n) sum_i l_i(w) + (lam/2) ||w||^2``,  ``l_i = BCE(sigmoid(w.x_i), y_i)``,

with Hessian ``H = (1/n) sum_i s_i (1 - s_i) x_i x_i^T + lam I``.  Removing
training point ``z`` (dropping its term, keeping the ``1/n``) moves the
optimum by about ``(1/n) H^{-1} grad l_z`` and the test loss by about
``(1/n) grad l_test^T H^{-1} grad l_z = -I(z, z_test) / n``, where
``I(z, z_test) = -grad l_test^T H^{-1} grad l_z`` is Koh & Liang's (2017)
influence of up-weighting ``z`` on the test loss.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from scipy.stats import rankdata
from torch import nn

from tmlbook.checks import as_tensor
from tmlbook.training import per_sample_gradients


def _array(a, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    if not isinstance(a, (np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be an array or tensor, got {type(a).__name__}")
    a = np.asarray(a, dtype=np.float64)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if a.ndim not in dims:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, dims))} dimensions, "
            f"got shape {a.shape}"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _binary_labels(y, n: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must hold 0/1 labels for binary logistic regression")
    return y.astype(np.float64)


# ----------------------------------------------------------------------------
# L2-regularised logistic regression
# ----------------------------------------------------------------------------


def with_bias(X) -> np.ndarray:
    """Append a column of ones: (n, d) -> (n, d + 1), float64."""
    X = _array(X, "X", 2)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def binary_digits(
    a: int = 1, b: int = 7, n_train: int = 200, flip: float = 0.0, seed: int = 0
):
    """Digits ``a`` (label 0) vs ``b`` (label 1) with a bias column, float64.

    ``n_train`` points are drawn (seeded) from the book's ``train_full``
    split; the test set is every ``a``/``b`` digit of the ``test`` split.
    ``flip`` > 0 flips that fraction of the training labels.

    Returns
    -------
    dict with ``X`` (n_train, 65), ``y`` (n_train,), ``X_test``, ``y_test``,
    and ``flipped`` (n_train,) bool
    """
    from tmlbook.data import load_digits_splits

    if a == b or not (0 <= a <= 9 and 0 <= b <= 9):
        raise ValueError(f"need two different digits in 0..9, got {a} and {b}")
    splits = load_digits_splits()
    Xf, yf = splits.train_full.X.numpy(), splits.train_full.y.numpy()
    keep = np.flatnonzero((yf == a) | (yf == b))
    if n_train > len(keep):
        raise ValueError(
            f"only {len(keep)} training digits are {a} or {b}, asked for {n_train}"
        )
    rng = np.random.default_rng(seed)
    idx = rng.choice(keep, size=n_train, replace=False)
    y = (yf[idx] == b).astype(np.float64)
    flipped = np.zeros(n_train, dtype=bool)
    if flip > 0:
        flipped[rng.choice(n_train, size=round(flip * n_train), replace=False)] = True
        y = np.where(flipped, 1 - y, y)
    Xt, yt = splits.test.X.numpy(), splits.test.y.numpy()
    tk = (yt == a) | (yt == b)
    return {
        "X": with_bias(Xf[idx]),
        "y": y,
        "X_test": with_bias(Xt[tk]),
        "y_test": (yt[tk] == b).astype(np.float64),
        "flipped": flipped,
    }


def logistic_loss(w, X, y) -> np.ndarray:
    """Per-sample binary cross-entropy ``l_i(w)``, shape (n,)."""
    z = X @ w
    return np.logaddexp(0.0, z) - y * z


def fit_logistic(X, y, lam: float, sample_weight=None, w0=None) -> np.ndarray:
    """Minimise ``(1/n) sum_i a_i l_i(w) + (lam/2) ||w||^2`` with L-BFGS.

    Parameters
    ----------
    X : array, shape (n, p)
        Include a bias column yourself (:func:`with_bias`).
    y : array, shape (n,), 0/1
    lam : float > 0
    sample_weight : array, shape (n,), optional
        ``a_i`` (0 drops a point, as in leave-one-out); ones by default.
    w0 : array, shape (p,), optional
        Warm start.

    Returns
    -------
    np.ndarray, shape (p,)
    """
    X = _array(X, "X", 2)
    n, p = X.shape
    y = _binary_labels(y, n)
    if lam <= 0:
        raise ValueError(f"lam must be > 0 (the Hessian must be invertible), got {lam}")
    a = (
        np.ones(n)
        if sample_weight is None
        else _array(sample_weight, "sample_weight", 1)
    )
    if a.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},)")

    def fun(w):
        z = X @ w
        s = 1 / (1 + np.exp(-z))
        f = (a * (np.logaddexp(0.0, z) - y * z)).sum() / n + lam / 2 * w @ w
        return f, X.T @ (a * (s - y)) / n + lam * w

    start = np.zeros(p) if w0 is None else np.asarray(w0, dtype=np.float64)
    res = minimize(
        fun,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "gtol": 1e-12, "ftol": 1e-15},
    )
    return res.x


def logistic_grads(w, X, y) -> np.ndarray:
    """Per-sample loss gradients ``(sigmoid(w.x_i) - y_i) x_i``, shape (n, p)."""
    X = _array(X, "X", 2)
    y = _binary_labels(y, X.shape[0])
    s = 1 / (1 + np.exp(-(X @ w)))
    return (s - y)[:, None] * X


def logistic_hessian(w, X, lam: float) -> np.ndarray:
    """Exact Hessian of the regularised mean objective, shape (p, p)."""
    X = _array(X, "X", 2)
    s = 1 / (1 + np.exp(-(X @ w)))
    return (X * (s * (1 - s))[:, None]).T @ X / X.shape[0] + lam * np.eye(X.shape[1])


# ----------------------------------------------------------------------------
# Influence and its inverse-Hessian-vector products
# ----------------------------------------------------------------------------


def influence_scores(train_grads, test_grads, hessian) -> np.ndarray:
    """Influence ``I(z, z_t) = -grad l_t^T H^{-1} grad l_z`` (Koh & Liang, 2017).

    Solves one linear system per test point (``s_t = H^{-1} grad l_t``) and
    takes dot products with every training gradient.

    Parameters
    ----------
    train_grads : array, shape (n, p)
    test_grads : array, shape (p,) or (m, p)
    hessian : array, shape (p, p), symmetric positive definite

    Returns
    -------
    np.ndarray, shape (n,) or (m, n)
        Negative: up-weighting z lowers the test loss (a helpful point).
    """
    G = _array(train_grads, "train_grads", 2)
    T = _array(test_grads, "test_grads", (1, 2))
    H = _array(hessian, "hessian", 2)
    p = G.shape[1]
    if H.shape != (p, p) or T.shape[-1] != p:
        raise ValueError(
            f"shapes disagree: train_grads {G.shape}, test_grads {T.shape}, "
            f"hessian {H.shape}"
        )
    s_test = np.linalg.solve(H, np.atleast_2d(T).T)  # (p, m)
    scores = -(G @ s_test).T
    return scores[0] if T.ndim == 1 else scores


def _as_hvp(hvp) -> Callable[[np.ndarray], np.ndarray]:
    if callable(hvp):
        return hvp
    H = _array(hvp, "hvp", 2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"a Hessian matrix must be square, got {H.shape}")
    return lambda v: H @ v


def lissa_inverse_hvp(
    hvp, v, steps: int = 1000, scale: float = 10.0, damping: float = 0.0
) -> np.ndarray:
    """LiSSA (Agarwal et al., 2017): ``H^{-1} v`` from Hessian-vector products.

    ``h_0 = v``, ``h_j = v + (I - (H + damping I) / scale) h_{j-1}``, and
    ``H^{-1} v ~ h_J / scale``: a truncated Neumann series of
    ``(H / scale)^{-1}``.  Converges when ``scale`` exceeds the largest
    eigenvalue of ``H + damping I``.  (Deterministic: full-batch HVPs.)

    Parameters
    ----------
    hvp : callable ``u -> H u`` or an array of shape (p, p)
    v : array, shape (p,)
    steps : int
        ``J``, the number of recursion steps.
    scale : float
        ``s``; forgetting to divide by it returns ``s`` times the answer.
    damping : float
        ``delta`` added to the Hessian's diagonal.

    Returns
    -------
    np.ndarray, shape (p,)
    """
    hvp = _as_hvp(hvp)
    v = _array(v, "v", 1)
    if scale <= 0 or damping < 0:
        raise ValueError("scale must be > 0 and damping >= 0")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    h = v.copy()
    for _ in range(int(steps)):
        h = v + h - (hvp(h) + damping * h) / scale
        if not np.isfinite(h).all():
            raise ValueError(
                "LiSSA diverged: scale must exceed the largest eigenvalue of H"
            )
    return h / scale


def lanczos_top_eigen(
    hvp, dim: int, k: int, n_iter: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` eigenpairs of a symmetric ``H`` from HVPs (Lanczos).

    Lanczos with full re-orthogonalisation.

    Builds an orthonormal Krylov basis ``Q`` of ``n_iter`` vectors from a
    seeded random start, diagonalises the small tridiagonal ``T = Q^T H Q``
    and returns its largest Ritz pairs (the idea behind Arnoldi influence,
    Schioppa et al., 2022).

    Parameters
    ----------
    hvp : callable ``u -> H u`` or an array of shape (dim, dim)
    dim, k : int
        Size of ``H`` and number of eigenpairs.
    n_iter : int, optional
        Krylov dimension, default ``min(dim, 2k + 20)``.

    Returns
    -------
    eigenvalues : np.ndarray, shape (k,), descending
    eigenvectors : np.ndarray, shape (dim, k), orthonormal columns
    """
    hvp = _as_hvp(hvp)
    if not 1 <= k <= dim:
        raise ValueError(f"need 1 <= k <= dim, got k={k}, dim={dim}")
    m = min(dim, 2 * k + 20) if n_iter is None else int(n_iter)
    if not k <= m <= dim:
        raise ValueError(f"n_iter must lie in [k, dim] = [{k}, {dim}], got {m}")
    q = np.random.default_rng(seed).standard_normal(dim)
    Q = np.zeros((dim, m))
    alpha, beta = np.zeros(m), np.zeros(m)
    Q[:, 0] = q / np.linalg.norm(q)
    for j in range(m):
        u = hvp(Q[:, j])
        alpha[j] = Q[:, j] @ u
        u = u - Q[:, : j + 1] @ (Q[:, : j + 1].T @ u)  # full re-orthogonalisation
        u = u - Q[:, : j + 1] @ (Q[:, : j + 1].T @ u)
        if j + 1 < m:
            beta[j] = np.linalg.norm(u)
            if beta[j] < 1e-12:  # invariant subspace found: restart orthogonally
                r = np.random.default_rng(seed + j + 1).standard_normal(dim)
                r -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ r)
                beta[j] = 0.0
                Q[:, j + 1] = r / np.linalg.norm(r)
            else:
                Q[:, j + 1] = u / beta[j]
    T = np.diag(alpha) + np.diag(beta[: m - 1], 1) + np.diag(beta[: m - 1], -1)
    vals, vecs = np.linalg.eigh(T)
    top = np.argsort(vals)[::-1][:k]
    return vals[top], Q @ vecs[:, top]


def low_rank_inverse_hvp(eigenvalues, eigenvectors, v) -> np.ndarray:
    """``H^{-1} v ~ U diag(1/lambda) U^T v`` from top eigenpairs.

    Returns an array of v's shape, (p,) or (p, m).
    """
    lam = _array(eigenvalues, "eigenvalues", 1)
    U = _array(eigenvectors, "eigenvectors", 2)
    v = _array(v, "v", (1, 2))
    if (lam <= 0).any():
        raise ValueError("eigenvalues must be > 0 to invert")
    return U @ ((U.T @ v) / (lam if v.ndim == 1 else lam[:, None]))


def leave_one_out(X, y, lam: float, indices, X_test, y_test, w=None) -> np.ndarray:
    """Ground truth: change in mean test loss when each training point is removed.

    Retrains with point ``i``'s weight set to 0 (warm-started from ``w``) and
    returns ``L_test(w_{-i}) - L_test(w)``.

    Returns
    -------
    np.ndarray, shape (len(indices),)
    """
    X = _array(X, "X", 2)
    Xt = _array(X_test, "X_test", 2)
    yt = _binary_labels(y_test, Xt.shape[0], "y_test")
    w = fit_logistic(X, y, lam) if w is None else np.asarray(w, dtype=np.float64)
    base = logistic_loss(w, Xt, yt).mean()
    out = []
    for i in np.asarray(indices, dtype=int):
        a = np.ones(X.shape[0])
        a[i] = 0.0
        wi = fit_logistic(X, y, lam, sample_weight=a, w0=w)
        out.append(logistic_loss(wi, Xt, yt).mean() - base)
    return np.array(out)


# ----------------------------------------------------------------------------
# TracIn with checkpoints
# ----------------------------------------------------------------------------


def per_sample_grads(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Per-sample cross-entropy gradients w.r.t. all parameters, flattened:
    :func:`tmlbook.training.per_sample_gradients`, one row per sample.

    Returns
    -------
    torch.Tensor, shape (n, n_params)
    """
    g = per_sample_gradients(model, X, y)
    return torch.cat([v.reshape(v.shape[0], -1) for v in g.values()], dim=1)


def train_sgd_checkpoints(
    model: nn.Module,
    X,
    y,
    epochs: int = 30,
    lr: float = 0.2,
    batch_size: int = 32,
    every: int = 5,
    seed: int = 0,
) -> list[dict[str, torch.Tensor]]:
    """Plain SGD that saves a checkpoint (state dict) every ``every`` epochs.

    TracIn needs the checkpoints and the SGD learning rate of each; the
    book's :func:`tmlbook.training.fit` uses Adam and keeps no checkpoints.

    Returns
    -------
    list of ``epochs // every`` state dicts (CPU copies)
    """
    X = as_tensor(X, "X").float()
    y = as_tensor(y, "y")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    ckpts = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(X.shape[0], generator=gen)
        for s in range(0, X.shape[0], batch_size):
            idx = order[s : s + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % every == 0:
            ckpts.append(
                {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            )
    model.eval()
    return ckpts


def _check_checkpoints(checkpoints, lrs) -> list[float]:
    if not isinstance(checkpoints, (list, tuple)) or not checkpoints:
        raise ValueError("checkpoints must be a non-empty list of state dicts")
    lrs = (
        [float(lrs)] * len(checkpoints) if np.isscalar(lrs) else [float(a) for a in lrs]
    )
    if len(lrs) != len(checkpoints):
        raise ValueError(
            f"need one learning rate per checkpoint: {len(lrs)} vs {len(checkpoints)}"
        )
    return lrs


def tracin_scores(
    model, checkpoints, lrs, X_train, y_train, X_test, y_test
) -> torch.Tensor:
    """TracIn-CP (Pruthi et al., 2020).

    ``TracIn(z, z') = sum_k eta_k grad l(w_k, z) . grad l(w_k, z')``.

    Parameters
    ----------
    model : nn.Module
        The architecture; its weights are replaced by each checkpoint in turn
        (on a copy).
    checkpoints : list of state dicts
    lrs : float or list of floats, the learning rate in force at each checkpoint

    Returns
    -------
    torch.Tensor, shape (m_test, n_train)
        Positive: ``z`` (a proponent) lowered the loss on ``z'``.
    """
    import copy

    lrs = _check_checkpoints(checkpoints, lrs)
    work = copy.deepcopy(model)
    total = 0.0
    for state, eta in zip(checkpoints, lrs, strict=True):
        work.load_state_dict(state)
        g_tr = per_sample_grads(work, X_train, y_train)
        g_te = per_sample_grads(work, X_test, y_test)
        total = total + eta * g_te @ g_tr.T
    return total.cpu()


def tracin_self_influence(model, checkpoints, lrs, X, y) -> torch.Tensor:
    """TracIn self-influence ``sum_k eta_k ||grad l(w_k, z)||^2`` per training point.

    High self-influence flags points the model had to work hard to fit,
    often mislabelled ones.

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    import copy

    lrs = _check_checkpoints(checkpoints, lrs)
    work = copy.deepcopy(model)
    total = 0.0
    for state, eta in zip(checkpoints, lrs, strict=True):
        work.load_state_dict(state)
        total = total + eta * per_sample_grads(work, X, y).pow(2).sum(1)
    return total.cpu()


# ----------------------------------------------------------------------------
# Evaluation: linear datamodeling score, mislabel detection
# ----------------------------------------------------------------------------


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / den) if den > 0 else 0.0


def linear_datamodeling_score(attributions, masks, outputs) -> float:
    """Linear datamodeling score (Park et al., 2023).

    For each test point ``t``: the Spearman correlation, over subsets ``S``,
    between the predicted ``sum_{i in S} tau_t(i)`` and the output
    ``f_t(theta_S)`` of a model retrained on ``S``; averaged over test points.

    Parameters
    ----------
    attributions : array, shape (m, n)
        ``tau_t(i)``: attribution of training point i to test output t (sign
        such that larger means "raises the output").
    masks : array, shape (s, n), bool
        Training subsets.
    outputs : array, shape (s, m)
        Measured outputs of the retrained models.

    Returns
    -------
    float in [-1, 1]
    """
    tau = _array(attributions, "attributions", 2)
    M = np.asarray(
        masks.detach().cpu().numpy() if isinstance(masks, torch.Tensor) else masks
    )
    out = _array(outputs, "outputs", 2)
    if (
        M.ndim != 2
        or M.shape[1] != tau.shape[1]
        or out.shape != (M.shape[0], tau.shape[0])
    ):
        raise ValueError(
            f"shapes disagree: attributions {tau.shape} (m, n), "
            f"masks {M.shape} (s, n), "
            f"outputs {out.shape} (s, m)"
        )
    pred = M.astype(np.float64) @ tau.T  # (s, m)
    return float(
        np.mean([_spearman(pred[:, t], out[:, t]) for t in range(tau.shape[0])])
    )


def mislabel_ranking(scores) -> np.ndarray:
    """Training indices ordered from most to least suspicious (highest score first).

    Ties keep index order, so the ranking is deterministic.

    Returns
    -------
    np.ndarray, shape (n,), int64
    """
    s = _array(scores, "scores", 1)
    return np.argsort(-s, kind="stable").astype(np.int64)


def detection_auroc(scores, is_positive) -> float:
    """AUROC of ``scores`` for finding the positives (e.g. flipped labels).

    The Mann-Whitney statistic with ties counted as 1/2: the probability
    that a random positive scores above a random negative.
    """
    s = _array(scores, "scores", 1)
    pos = np.asarray(
        is_positive.cpu().numpy()
        if isinstance(is_positive, torch.Tensor)
        else is_positive
    )
    if pos.shape != s.shape:
        raise ValueError(f"is_positive must have shape {s.shape}, got {pos.shape}")
    pos = pos.astype(bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("AUROC needs at least one positive and one negative")
    r = rankdata(s)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fraction_found(ranking, is_positive, k: int) -> float:
    """Fraction of all positives among the top-``k`` of a ranking."""
    pos = np.asarray(is_positive).astype(bool)
    return float(pos[np.asarray(ranking)[:k]].sum() / max(pos.sum(), 1))
