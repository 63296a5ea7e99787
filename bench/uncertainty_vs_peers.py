"""Time tmlbook's ECE, AUROC and last-layer Laplace against their peers.

Usage: ``python bench/uncertainty_vs_peers.py [n]`` (needs torchmetrics,
scikit-learn, laplace-torch; ``n`` defaults to 10**6 predictions).

- ``ece`` on n random 10-class predictions vs torchmetrics'
  ``multiclass_calibration_error`` (15 bins, L1);
- ``auroc`` on n binary scores vs scikit-learn's ``roc_auc_score``;
- ``laplace_last_layer`` (fit + probit predictive on the 540 test digits) vs
  laplace-torch's last-layer, full-Hessian ``Laplace`` on the same float64 model.

Each is the median of 5 calls after one warm-up call, CPU, one thread. Prints
seconds and the ratio tmlbook / peer (goal: <= 1.0) and checks the values agree.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import torch
from _timing import timed


def main(n: int = 10**6) -> None:
    from laplace import Laplace
    from sklearn.metrics import roc_auc_score
    from torchmetrics.functional.classification import multiclass_calibration_error

    from tmlbook.bayesian import laplace_last_layer
    from tmlbook.calibration import ece
    from tmlbook.data import load_digits_splits
    from tmlbook.models import load_reference_mlp
    from tmlbook.ood import auroc

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(n, 10, generator=g), 1)
    y = torch.randint(0, 10, (n,), generator=g)
    yb = torch.randint(0, 2, (n,), generator=g).numpy()
    scores = (np.random.default_rng(0).normal(size=n) + yb).astype(np.float64)

    splits = load_digits_splits()
    model = load_reference_mlp().double()
    X, yl = splits.train_full.X.double(), splits.train_full.y
    Xt = splits.test.X.double()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(X, yl), batch_size=len(yl)
    )

    def ours_laplace():
        return laplace_last_layer(model, X, yl, prior_precision=1.0).predict_proba(Xt)

    def theirs_laplace():
        la = Laplace(
            copy.deepcopy(model),
            "classification",
            subset_of_weights="last_layer",
            hessian_structure="full",
            prior_precision=1.0,
        )
        la.fit(loader)
        return la(Xt, pred_type="glm", link_approx="probit")

    rows = [
        (
            f"ece, n={n}",
            lambda: ece(probs, y),
            lambda: float(
                multiclass_calibration_error(probs, y, num_classes=10, n_bins=15)
            ),
        ),
        (
            f"auroc, n={n}",
            lambda: auroc(yb, scores),
            lambda: roc_auc_score(yb, scores),
        ),
        ("last-layer Laplace", ours_laplace, theirs_laplace),
    ]
    print(f"torch {torch.__version__}, CPU, 1 thread, median of 5")
    print(f"{'task':<22} {'tmlbook s':>10} {'peer s':>10} {'ratio':>7} {'agree':>6}")
    for name, ours, theirs in rows:
        t_ours, a = timed(ours)
        t_peer, b = timed(theirs)
        agree = np.allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-5)
        print(
            f"{name:<22} {t_ours:>10.4f} {t_peer:>10.4f} {t_ours / t_peer:>7.2f} "
            f"{agree!s:>6}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10**6)
