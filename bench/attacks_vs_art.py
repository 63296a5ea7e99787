"""Time tmlbook's FGSM and PGD against ART 1.20.1 on the same model and batch.

Usage: ``python bench/attacks_vs_art.py`` (needs ``adversarial-robustness-toolbox``).

Model: the shipped reference MLP; batch: the 540 test digits; CPU, one thread.
Each attack is timed as the median of 5 calls after one untimed warm-up call;
the outputs are also checked to be bit-equal.  Prints seconds per attack and
the ratio ART / tmlbook.
"""

from __future__ import annotations

import numpy as np
import torch
from _timing import timed
from torch import nn

from tmlbook.data import load_digits_splits
from tmlbook.models import load_reference_mlp
from tmlbook.robustness import fgsm, pgd_attack


def main(eps: float = 0.1, steps: int = 20) -> None:
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    torch.set_num_threads(1)
    model = load_reference_mlp()
    X, y = load_digits_splits().test
    clf = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(64,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    art_fgsm = FastGradientMethod(
        clf, norm=np.inf, eps=eps, num_random_init=0, batch_size=len(X)
    )
    art_pgd = ProjectedGradientDescent(
        clf,
        norm=np.inf,
        eps=eps,
        eps_step=eps / 4,
        max_iter=steps,
        num_random_init=0,
        batch_size=len(X),
        verbose=False,
    )
    Xn, yn = X.numpy(), y.numpy()
    rows = [
        (
            "FGSM",
            lambda: fgsm(model, X, y, eps).numpy(),
            lambda: art_fgsm.generate(Xn, yn),
        ),
        (
            f"PGD-{steps}",
            lambda: pgd_attack(model, X, y, eps, steps=steps).numpy(),
            lambda: art_pgd.generate(Xn, yn),
        ),
    ]
    print(f"torch {torch.__version__}, batch {len(X)} x 64, eps {eps}, CPU, 1 thread")
    print(
        f"{'attack':<8} {'tmlbook s':>10} {'ART s':>10} {'ART/tmlbook':>12} "
        f"{'bit-equal':>10}"
    )
    for name, ours, theirs in rows:
        t_ours, a = timed(ours)
        t_art, b = timed(theirs)
        print(
            f"{name:<8} {t_ours:10.4f} {t_art:10.4f} {t_art / t_ours:12.2f} "
            f"{str(np.array_equal(a, b)):>10}"
        )


if __name__ == "__main__":
    main()
