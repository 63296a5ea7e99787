"""L5-L6 -- tmlbook.attribution against Captum 0.9 and closed forms.

Captum is a test-only oracle.  Where its conventions differ from the book's
(trapezoid weights, Grad-CAM's ReLU) the difference is asserted, not hidden.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tmlbook import set_seed
from tmlbook.attribution import (
    all_coalitions,
    cascading_randomisation,
    class_activation_map,
    coalition_values,
    completeness_gap,
    concept_activation_vector,
    counterfactual,
    deletion_auc,
    deletion_curve,
    feature_visualisation,
    grad_cam,
    input_x_gradient,
    integrated_gradients,
    kernel_shap,
    lime,
    occlusion,
    path_points,
    rank_correlation,
    saliency,
    shapley_from_game,
    shapley_values,
    smoothgrad,
    tcav_score,
    upsample_map,
)
from tmlbook.data import load_digits_splits
from tmlbook.models import SmallCNN, load_reference_mlp
from tmlbook.training import fit

captum_attr = pytest.importorskip("captum.attr")

torch.set_num_threads(1)
# 8 superpixels of 2x4 pixels: player = 2 * (row // 2) + (col // 4)
SUPER8 = (2 * (torch.arange(8)[:, None] // 2) + torch.arange(8)[None, :] // 4).reshape(
    64
)


@pytest.fixture(scope="module")
def digits():
    test = load_digits_splits().test
    return test.X[:16].clone(), test.y[:16].clone()


@pytest.fixture(scope="module")
def mlp():
    return load_reference_mlp()


@pytest.fixture(scope="module")
def cnn():
    set_seed(0)
    model = SmallCNN()
    X, y = load_digits_splits().train
    fit(model, X[:400], y[:400], epochs=3, seed=0, device="cpu")
    return model.eval()


def linear_model(seed=0):
    torch.manual_seed(seed)
    lin = nn.Linear(64, 10).double()
    return lin


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("abs_", [True, False])
def test_saliency_matches_captum(mlp, digits, abs_):
    X, y = digits
    ours = saliency(mlp, X, y, abs=abs_)
    ref = captum_attr.Saliency(mlp).attribute(X.clone(), target=y, abs=abs_)
    assert ours.shape == X.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


def test_input_x_gradient_matches_captum(mlp, digits):
    X, y = digits
    ref = captum_attr.InputXGradient(mlp).attribute(X.clone(), target=y)
    torch.testing.assert_close(input_x_gradient(mlp, X, y), ref, rtol=0, atol=1e-6)


def test_linear_model_local_equals_global():
    """For f(x) = Wx + b: grad x input = IG(zero baseline) = w_c * x."""
    lin = linear_model()
    x = torch.rand(5, 64, dtype=torch.float64)
    c = torch.tensor([0, 3, 3, 9, 1])
    contrib = lin.weight[c].detach() * x
    torch.testing.assert_close(input_x_gradient(lin, x, c), contrib, rtol=0, atol=1e-12)
    for rule in ("left", "midpoint", "trapezoid", "gauss-legendre"):
        ig = integrated_gradients(lin, x, c, steps=7, rule=rule)
        torch.testing.assert_close(ig, contrib, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- IG


@pytest.mark.parametrize(
    "rule", ["left", "right", "midpoint", "trapezoid", "gauss-legendre"]
)
def test_path_weights_sum_to_one_and_integrate_polynomials(rule):
    a, w = path_points(9, rule)
    assert a.shape == w.shape == (9,)
    assert abs(w.sum() - 1) < 1e-12
    assert a.min() >= 0 and a.max() <= 1
    # every rule integrates a linear function exactly except left/right
    err = abs((w * a).sum() - 0.5)
    assert err < 1e-12 if rule not in ("left", "right") else err > 1e-3


@pytest.mark.parametrize(
    "rule,captum_method",
    [
        ("gauss-legendre", "gausslegendre"),
        ("left", "riemann_left"),
        ("right", "riemann_right"),
        ("midpoint", "riemann_middle"),
    ],
)
def test_ig_matches_captum(mlp, digits, rule, captum_method):
    X, y = digits
    base = torch.full_like(X, 0.1)
    ours = integrated_gradients(mlp, X, y, baseline=base, steps=20, rule=rule)
    ref = captum_attr.IntegratedGradients(mlp).attribute(
        X.clone(), baselines=base, target=y, n_steps=20, method=captum_method
    )
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_captum_trapezoid_is_scaled_by_n_minus_1_over_n(mlp, digits):
    """Documented convention difference: Captum's trapezoid weights sum to (n-1)/n."""
    X, y = digits
    n = 10
    ours = integrated_gradients(mlp, X, y, steps=n, rule="trapezoid")
    ref = captum_attr.IntegratedGradients(mlp).attribute(
        X.clone(), target=y, n_steps=n, method="riemann_trapezoid"
    )
    torch.testing.assert_close(ref, ours * (n - 1) / n, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ref, ours, atol=1e-4)


def test_ig_completeness_error_shrinks_with_steps(mlp, digits):
    X, y = digits
    errs = []
    for m in (4, 16, 64, 256):
        ig = integrated_gradients(mlp, X, y, steps=m, rule="trapezoid")
        gap = completeness_gap(mlp, X, y, ig)
        errs.append(float(gap.abs().mean()))
    assert errs[0] > errs[1] > errs[2] > errs[3]
    assert errs[3] < 1e-2 * errs[0]
    # curriculum L6: relative completeness error <= 1e-3 at 256 steps
    with torch.no_grad():
        diff = (mlp(X) - mlp(torch.zeros_like(X))).gather(1, y[:, None]).squeeze(1)
    for rule in ("midpoint", "trapezoid", "gauss-legendre"):
        ig = integrated_gradients(mlp, X, y, steps=256, rule=rule)
        rel = completeness_gap(mlp, X, y, ig).abs() / diff.abs()
        assert float(rel.mean()) <= 1e-3, rule


def test_ig_baseline_shapes(mlp, digits):
    X, y = digits
    a = integrated_gradients(mlp, X, y, baseline=0.2, steps=8)
    b = integrated_gradients(mlp, X, y, baseline=torch.full((64,), 0.2), steps=8)
    c = integrated_gradients(mlp, X, y, baseline=torch.full_like(X, 0.2), steps=8)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    # the baseline itself gets zero attribution
    assert float(integrated_gradients(mlp, X, y, baseline=X, steps=8).abs().max()) == 0


# ---------------------------------------------------------------- SmoothGrad


def test_smoothgrad_matches_captum_noise_tunnel(mlp, digits):
    """Captum draws noise as torch.normal over (n*S, ...) rows i*S + s; replay it."""
    X, y = digits
    S, sigma = 8, 0.15
    torch.manual_seed(123)
    ref = captum_attr.NoiseTunnel(captum_attr.Saliency(mlp)).attribute(
        X.clone(), target=y, nt_type="smoothgrad", nt_samples=S, stdevs=sigma
    )
    torch.manual_seed(123)
    size = (X.shape[0] * S,) + tuple(X.shape[1:])
    drawn = torch.normal(0, torch.tensor(sigma).repeat(size))
    noise = drawn.reshape(X.shape[0], S, *X.shape[1:]).transpose(0, 1)
    ours = smoothgrad(mlp, X, y, noise, abs=True)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_smoothgrad_signed_and_zero_noise(mlp, digits):
    X, y = digits
    zero = torch.zeros(3, *X.shape)
    torch.testing.assert_close(
        smoothgrad(mlp, X, y, zero, abs=False), saliency(mlp, X, y, abs=False)
    )
    torch.manual_seed(0)
    noise = 0.1 * torch.randn(5, *X.shape)
    loop = torch.stack(
        [saliency(mlp, X + noise[s], y, abs=False) for s in range(5)]
    ).mean(0)
    torch.testing.assert_close(
        smoothgrad(mlp, X, y, noise, abs=False), loop, atol=1e-6, rtol=0
    )


# ---------------------------------------------------------------- Grad-CAM


@pytest.mark.parametrize("relu", [True, False])
def test_grad_cam_matches_captum(cnn, digits, relu):
    X, y = digits
    ours = grad_cam(cnn, cnn.conv, X, y, relu=relu)
    ref = captum_attr.LayerGradCam(cnn, cnn.conv).attribute(
        X.clone(), target=y, relu_attributions=relu
    )
    assert ours.shape == (16, 1, 8, 8)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_captum_grad_cam_has_no_relu_by_default(cnn, digits):
    X, y = digits
    ref = captum_attr.LayerGradCam(cnn, cnn.conv).attribute(X.clone(), target=y)
    torch.testing.assert_close(
        ref, grad_cam(cnn, cnn.conv, X, y, relu=False), rtol=1e-5, atol=1e-6
    )
    assert float(ref.min()) < 0  # negative evidence survives without the ReLU


def test_grad_cam_is_cam_over_hw_for_gap_linear_head(cnn, digits):
    X, y = digits
    feats = cnn.features(X).detach()
    cam = class_activation_map(feats, cnn.head.weight.detach(), y)
    gc = grad_cam(cnn, cnn.conv, X, y, relu=False)
    assert float((gc - cam / 64).abs().max()) <= 1e-6


def test_upsample(cnn, digits):
    X, y = digits
    m = grad_cam(cnn, cnn.conv, X, y)
    assert upsample_map(m, (16, 16)).shape == (16, 1, 16, 16)
    ref = captum_attr.LayerAttribution.interpolate(m, (16, 16))
    torch.testing.assert_close(upsample_map(m, (16, 16), mode="nearest"), ref)


# ---------------------------------------------------------------- occlusion


def test_occlusion_matches_captum(mlp, digits):
    X, y = digits
    ours = occlusion(mlp, X, y, patch=2, stride=2)
    assert ours.shape == (16, 4, 4)
    # Captum on images: wrap the MLP so it sees (n, 1, 8, 8)
    wrapped = nn.Sequential(nn.Flatten(), mlp)
    ref = captum_attr.Occlusion(wrapped).attribute(
        X.reshape(-1, 1, 8, 8).clone(),
        target=y,
        sliding_window_shapes=(1, 2, 2),
        strides=(1, 2, 2),
        baselines=0.0,
    )
    up = ours.repeat_interleave(2, 1).repeat_interleave(2, 2)
    torch.testing.assert_close(up, ref[:, 0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- Shapley


def _game_shapley(p, v):
    values = torch.tensor(
        [v(frozenset(i for i in range(p) if j >> i & 1)) for j in range(2**p)]
    )
    return shapley_from_game(values[None].double())[0]


def test_shapley_symmetry_dummy_efficiency_on_a_game():
    # players 0 and 1 symmetric, player 3 a dummy, an interaction between 1 and 2
    def v(S):
        return (
            2.0 * (0 in S)
            + 2.0 * (1 in S)
            + 1.0 * (2 in S)
            + 3.0 * (1 in S and 2 in S)
            + 1.5 * (0 in S and 2 in S)
        )

    phi = _game_shapley(4, v)
    assert abs(phi.sum() - (v(frozenset(range(4))) - v(frozenset()))) < 1e-12
    assert phi[1] > phi[0]  # same alone, but 1 has the larger interaction with 2
    assert abs(phi[3]) < 1e-12
    # the glove game: symmetric players get equal shares
    phi_g = _game_shapley(3, lambda S: float(min(len(S & {0, 1}), len(S & {2}))))
    torch.testing.assert_close(
        phi_g, torch.tensor([1 / 6, 1 / 6, 2 / 3], dtype=torch.float64)
    )


def test_shapley_on_linear_model_equals_group_contributions():
    lin = linear_model()
    x = torch.rand(3, 64, dtype=torch.float64)
    c = torch.tensor([1, 4, 7])
    phi = shapley_values(lin, x, c, SUPER8)
    contrib = (lin.weight[c].detach() * x).reshape(3, 64)
    expect = torch.zeros(3, 8, dtype=torch.float64).index_add_(1, SUPER8, contrib)
    torch.testing.assert_close(phi, expect, rtol=0, atol=1e-10)


def test_shapley_efficiency_on_mlp(mlp, digits):
    X, y = digits
    phi = shapley_values(mlp, X[:4], y[:4], SUPER8)
    ends = coalition_values(mlp, X[:4], y[:4], SUPER8, all_coalitions(8)[[0, -1]])
    torch.testing.assert_close(
        phi.sum(1), (ends[:, 1] - ends[:, 0]).double(), rtol=0, atol=1e-5
    )


def test_shapley_matches_captum_shapley_value(mlp, digits):
    """Captum enumerates all p! orderings: keep p = 5 so the oracle stays fast."""
    X, y = digits
    groups = torch.arange(64) // 13
    ours = shapley_values(mlp, X[:2], y[:2], groups)
    ref = captum_attr.ShapleyValues(mlp).attribute(
        X[:2].clone(), target=y[:2], baselines=0.0, feature_mask=groups[None]
    )
    per_player = torch.stack([ref[:, groups == i][:, 0] for i in range(5)], 1)
    torch.testing.assert_close(ours, per_player.double(), rtol=0, atol=1e-5)


def test_kernel_shap_all_coalitions_is_exact(mlp, digits):
    X, y = digits
    exact = shapley_values(mlp, X[:3], y[:3], SUPER8)
    ks = kernel_shap(mlp, X[:3], y[:3], SUPER8, n_samples=None)
    torch.testing.assert_close(ks, exact, rtol=0, atol=1e-5)
    sampled = kernel_shap(mlp, X[:3], y[:3], SUPER8, n_samples=2000, seed=0)
    torch.testing.assert_close(
        sampled.sum(1), exact.sum(1), rtol=0, atol=1e-5
    )  # efficiency
    assert float((sampled - exact).abs().max()) < 0.25 * float(exact.abs().max())


def test_lime_recovers_a_linear_model_and_tracks_shapley(mlp, digits):
    lin = linear_model()
    x = torch.rand(2, 64, dtype=torch.float64)
    c = torch.tensor([2, 5])
    contrib = lin.weight[c].detach() * x
    expect = torch.zeros(2, 8, dtype=torch.float64).index_add_(1, SUPER8, contrib)
    g = lime(lin, x, c, SUPER8, n_samples=300, alpha=1e-8)
    torch.testing.assert_close(g, expect, rtol=0, atol=1e-6)
    from scipy.stats import spearmanr

    X, y = digits
    phi = shapley_values(mlp, X[:4], y[:4], SUPER8)
    g = lime(mlp, X[:4], y[:4], SUPER8, n_samples=1000)
    rho = np.mean([spearmanr(phi[i], g[i]).statistic for i in range(4)])
    assert rho >= 0.7


# ---------------------------------------------------------------- TCAV


def test_tcav_on_linear_head_is_all_or_nothing(cnn, digits):
    """After the GAP, the logit is linear: grad . v is the same for every input."""
    X, _y = digits
    target = torch.zeros(16, dtype=torch.int64)
    torch.manual_seed(0)
    concept = X.clone()
    concept[:, :2] = 1.0
    random = torch.rand(16, 64) * 0.5
    cav = concept_activation_vector(cnn, cnn.conv, concept, random)
    assert cav.shape == (32 * 64,) and abs(float(cav.norm()) - 1) < 1e-5
    score = tcav_score(cnn, cnn.conv, X, target, cav)
    assert 0.0 <= score <= 1.0
    head = nn.Sequential(nn.Identity(), nn.Linear(64, 10))
    lin_cav = torch.randn(64)
    s = tcav_score(head, head[0], X, target, lin_cav)
    expect = float(head[1].weight[0].detach() @ lin_cav > 0)
    assert s == expect


# ---------------------------------------------------------------- evaluation


def test_deletion_curve_endpoints_and_reference(mlp, digits):
    X, y = digits
    attr = saliency(mlp, X, y)
    curve = deletion_curve(mlp, X, y, attr)
    assert curve.shape == (16, 65)
    p = torch.softmax(mlp(X), 1).gather(1, y[:, None]).squeeze(1).detach()
    torch.testing.assert_close(curve[:, 0], p)
    p0 = torch.softmax(mlp(torch.zeros(1, 64)), 1)[0, y].detach()
    torch.testing.assert_close(curve[:, -1], p0)
    # reference: a loop over k with explicit top-k masks
    i = 3
    order = np.argsort(-attr[i].numpy(), kind="stable")
    for k in (1, 10, 40):
        z = X[i].clone()
        z[torch.from_numpy(order[:k].copy())] = 0
        ref = torch.softmax(mlp(z[None]), 1)[0, y[i]].item()
        assert abs(curve[i, k].item() - ref) < 1e-6
    auc = deletion_auc(curve)
    assert auc.shape == (16,)
    np.testing.assert_allclose(
        auc.numpy(), np.trapezoid(curve.double().numpy(), dx=1 / 64, axis=1), atol=1e-12
    )


def test_ig_beats_random_order_on_deletion(mlp, digits):
    X, y = digits
    ig = integrated_gradients(mlp, X, y, steps=32)
    rnd = torch.rand(X.shape, generator=torch.Generator().manual_seed(0))
    auc_ig = deletion_auc(deletion_curve(mlp, X, y, ig)).mean()
    auc_rnd = deletion_auc(deletion_curve(mlp, X, y, rnd)).mean()
    assert auc_ig < auc_rnd


def test_cascading_randomisation(mlp, digits):
    X, y = digits
    maps = cascading_randomisation(mlp, X, y, explain=saliency, seed=0)
    names = [n for n, _ in maps]
    assert names == ["original", "net.4", "net.2", "net.0"]
    # the original model is untouched
    torch.testing.assert_close(maps[0][1], saliency(mlp, X, y))
    rho = rank_correlation(maps[0][1], maps[-1][1])
    assert float(rho.abs().mean()) <= 0.3
    # rank_correlation vs scipy
    from scipy.stats import spearmanr

    r = spearmanr(maps[0][1][0].numpy(), maps[1][1][0].numpy()).statistic
    assert abs(float(rank_correlation(maps[0][1], maps[1][1])[0]) - r) < 1e-10


def test_counterfactual_flips_and_stays_sparse(mlp, digits):
    X, y = digits
    want = (y[:4] + 1) % 10
    xc = counterfactual(mlp, X[:4], want, lam=1.0, steps=300, lr=0.01)
    assert xc.shape == (4, 64) and float(xc.min()) >= 0 and float(xc.max()) <= 1
    assert (mlp(xc).argmax(1) == want).all()
    changed = ((xc - X[:4]).abs() > 1e-6).sum(1)
    assert (changed < 64).all()


# ---------------------------------------------------------------- errors


def test_errors_name_the_problem(mlp, cnn, digits):
    X, y = digits
    with pytest.raises(ValueError, match="target"):
        saliency(mlp, X, y[:3])
    with pytest.raises(ValueError, match="outside"):
        saliency(mlp, X, torch.full((16,), 10))
    with pytest.raises(TypeError, match="int64"):
        saliency(mlp, X, y.float())
    with pytest.raises(ValueError, match="rule"):
        integrated_gradients(mlp, X, y, rule="simpson")
    with pytest.raises(ValueError, match="steps >= 2"):
        integrated_gradients(mlp, X, y, steps=1)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(mlp, X, y, baseline=torch.zeros(3))
    with pytest.raises(ValueError, match="noise"):
        smoothgrad(mlp, X, y, torch.zeros(4, 64))
    with pytest.raises(ValueError, match="not a module"):
        grad_cam(cnn, nn.Conv2d(1, 1, 1), X, y)
    with pytest.raises(ValueError, match="12"):
        shapley_values(mlp, X[:1], y[:1], torch.arange(64) % 13)
    with pytest.raises(ValueError, match="NaN"):
        saliency(mlp, torch.full((2, 64), math.nan), y[:2])


def test_feature_visualisation_closed_form_for_linear_model():
    """max_x w.x - l2 |x|^2 on [0,1]^d is clip(w / (2 l2), 0, 1), coordinatewise."""
    lin = linear_model()
    c = torch.tensor([3, 7])
    x = feature_visualisation(lin, c, l2=0.5, steps=2000, lr=0.05)
    expect = (lin.weight[c].detach() / (2 * 0.5)).clamp(0, 1)
    torch.testing.assert_close(x, expect, atol=1e-4, rtol=0)


def test_feature_visualisation_is_predicted_as_its_class(mlp):
    x = feature_visualisation(mlp, torch.arange(10), l2=0.05, steps=200)
    assert (mlp(x).argmax(1) == torch.arange(10)).all()
