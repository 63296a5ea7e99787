"""Time tmlbook's Integrated Gradients and Grad-CAM against Captum 0.9.

Usage: ``python bench/attribution_vs_captum.py`` (needs ``captum``).

IG: the shipped reference MLP, 64 test digits, 50 steps, zero baseline, with the
Gauss-Legendre rule on both sides (Captum's default, and the rule on which the two
agree).  Grad-CAM: a ``SmallCNN`` (untrained: speed does not depend on the
weights) at its convolutional block, on the same 64 digits.  CPU, one thread;
each method is timed as the median of 5 calls after one untimed warm-up call,
and the outputs are checked to agree.  Prints seconds per method and the ratio
tmlbook / Captum (goal: <= 1.0).
"""

from __future__ import annotations

import torch
from _timing import timed

from tmlbook import set_seed
from tmlbook.attribution import grad_cam, integrated_gradients
from tmlbook.data import load_digits_splits
from tmlbook.models import SmallCNN, load_reference_mlp


def main(n: int = 64, steps: int = 50) -> None:
    from captum.attr import IntegratedGradients, LayerGradCam

    torch.set_num_threads(1)
    set_seed(0)
    test = load_digits_splits().test
    X, y = test.X[:n].clone(), test.y[:n].clone()
    mlp = load_reference_mlp()
    cnn = SmallCNN().eval()
    ig = IntegratedGradients(mlp)
    gc = LayerGradCam(cnn, cnn.conv)
    rows = [
        (
            f"IG ({steps} steps)",
            lambda: integrated_gradients(mlp, X, y, steps=steps, rule="gauss-legendre"),
            lambda: ig.attribute(X, target=y, n_steps=steps, method="gausslegendre"),
        ),
        (
            "Grad-CAM",
            lambda: grad_cam(cnn, cnn.conv, X, y, relu=True),
            lambda: gc.attribute(X, target=y, relu_attributions=True),
        ),
    ]
    print(f"torch {torch.__version__}, {n} digits, CPU, 1 thread, median of 5")
    print(
        f"{'method':<16} {'tmlbook s':>10} {'Captum s':>10} {'ratio':>8} {'agree':>6}"
    )
    for name, ours, theirs in rows:
        t_ours, a = timed(ours)
        t_theirs, b = timed(theirs)
        agree = bool(torch.allclose(a, b.detach(), rtol=1e-4, atol=1e-5))
        print(
            f"{name:<16} {t_ours:>10.4f} {t_theirs:>10.4f} "
            f"{t_ours / t_theirs:>8.2f} {agree!s:>6}"
        )
    print("ratio = tmlbook / Captum (lower is faster)")


if __name__ == "__main__":
    main()
