"""L4 -- tmlbook.robustness: attacks, BPDA, NES, certificates, test-time adaptation.

References: ART 1.20.1 (FGSM / PGD, bit for bit), scipy (Clopper-Pearson via
``binomtest``, normal quantile), closed forms and properties.
"""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import beta, binomtest, norm
from torch import nn

from tmlbook import set_seed
from tmlbook.data import load_digits_splits
from tmlbook.models import MLP, load_reference_mlp
from tmlbook.robustness import (
    ABSTAIN,
    BNMLP,
    QuantisedModel,
    QueryCounter,
    adversarial_training,
    bn_adapt,
    bpda_quantise,
    certify,
    certify_smoothed,
    contrast_shift,
    dct_matrix,
    fgsm,
    fit_with_noise,
    input_gradient,
    jpeg_quantise,
    mean_entropy,
    nes_gradient,
    noise_counts,
    pgd_attack,
    quantise,
    robust_accuracy,
    tent_adapt,
    train_bn_mlp,
)
from tmlbook.training import evaluate, fit

torch.set_num_threads(1)
EPSILONS = [0.0, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5]


@pytest.fixture(scope="module")
def test_split():
    return load_digits_splits().test


@pytest.fixture(scope="module")
def ref_model():
    return load_reference_mlp()


@pytest.fixture(scope="module")
def bn_model():
    return train_bn_mlp(seed=0, epochs=30)


# ---------------------------------------------------------------- attacks


@pytest.mark.parametrize("attack", [fgsm, pgd_attack])
@pytest.mark.parametrize("eps", [0.05, 0.2, 0.5])
def test_attack_stays_in_ball_and_pixel_range(attack, eps, ref_model, test_split):
    X, y = test_split
    x_adv = attack(ref_model, X, y, eps)
    assert x_adv.shape == X.shape and x_adv.dtype == torch.float32
    assert float((x_adv - X).abs().max()) <= eps + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    # the budget is used: some pixel moves by (almost) eps
    assert float((x_adv - X).abs().max()) >= eps - 1e-6


@pytest.mark.parametrize("attack", [fgsm, pgd_attack])
def test_eps_zero_returns_x(attack, ref_model, test_split):
    X, y = test_split
    assert torch.equal(attack(ref_model, X, y, 0.0), X)


def test_pgd_never_weaker_than_fgsm(ref_model, test_split):
    X, y = test_split
    for eps in (0.05, 0.1, 0.2):
        acc_f = robust_accuracy(ref_model, X, y, fgsm, eps=eps)
        acc_p = robust_accuracy(ref_model, X, y, pgd_attack, eps=eps, steps=20)
        assert acc_p <= acc_f, (eps, acc_p, acc_f)


def test_robust_accuracy_reference_numbers(ref_model, test_split):
    """The figures quoted in the chapter (curriculum prototype p1)."""
    X, y = test_split
    fg = [robust_accuracy(ref_model, X, y, fgsm, eps=e) for e in (0.05, 0.1, 0.2)]
    np.testing.assert_allclose(fg, [0.837, 0.443, 0.006], atol=0.0015)
    pg = [
        robust_accuracy(ref_model, X, y, pgd_attack, eps=e, steps=20, random_start=True)
        for e in (0.05, 0.1, 0.2)
    ]
    np.testing.assert_allclose(pg, [0.831, 0.394, 0.002], atol=0.0015)


def test_fgsm_sign_zero_and_true_labels():
    """A pixel with zero gradient stays put; the loss uses the given labels."""
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]]))
    x = torch.full((1, 3), 0.5)
    up = fgsm(model, x, torch.tensor([0]), 0.1)  # raise logit 1: x0 down, x2 up
    torch.testing.assert_close(up, torch.tensor([[0.4, 0.5, 0.6]]))
    down = fgsm(model, x, torch.tensor([1]), 0.1)
    torch.testing.assert_close(down, torch.tensor([[0.6, 0.5, 0.4]]))


def _art_classifier(model):
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(64,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )


@pytest.mark.parametrize("eps", EPSILONS)
def test_fgsm_bit_equal_to_art(eps, ref_model, test_split):
    from art.attacks.evasion import FastGradientMethod

    X, y = test_split
    art = FastGradientMethod(
        _art_classifier(ref_model),
        norm=np.inf,
        eps=eps,
        targeted=False,
        num_random_init=0,
        batch_size=len(X),
    )
    expected = art.generate(X.numpy(), y.numpy())
    assert np.array_equal(fgsm(ref_model, X, y, eps).numpy(), expected)


@pytest.mark.parametrize(
    "eps,alpha,steps",
    [(0.05, 0.0125, 20), (0.1, 0.025, 20), (0.2, 0.05, 10), (0.3, 0.5, 3)],
)
def test_pgd_bit_equal_to_art(eps, alpha, steps, ref_model, test_split):
    from art.attacks.evasion import ProjectedGradientDescent

    X, y = test_split
    art = ProjectedGradientDescent(
        _art_classifier(ref_model),
        norm=np.inf,
        eps=eps,
        eps_step=alpha,
        max_iter=steps,
        targeted=False,
        num_random_init=0,
        batch_size=len(X),
        verbose=False,
    )
    expected = art.generate(X.numpy(), y.numpy())
    ours = pgd_attack(ref_model, X, y, eps, alpha=alpha, steps=steps)
    assert np.array_equal(ours.numpy(), expected)


def test_pgd_default_alpha_and_random_start(ref_model, test_split):
    X, y = test_split.X[:50], test_split.y[:50]
    torch.testing.assert_close(
        pgd_attack(ref_model, X, y, 0.1),
        pgd_attack(ref_model, X, y, 0.1, alpha=0.025, steps=20),
        rtol=0,
        atol=0,
    )
    a = pgd_attack(ref_model, X, y, 0.1, random_start=True, seed=3)
    b = pgd_attack(ref_model, X, y, 0.1, random_start=True, seed=3)
    c = pgd_attack(ref_model, X, y, 0.1, random_start=True, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float((a - X).abs().max()) <= 0.1 + 1e-6


def test_input_gradient_matches_autograd_and_leaves_params(ref_model, test_split):
    X, y = test_split.X[:20], test_split.y[:20]
    g = input_gradient(ref_model, X, y)
    x = X.clone().requires_grad_(True)
    F.cross_entropy(ref_model(x), y).backward()
    torch.testing.assert_close(g, x.grad, rtol=0, atol=0)
    ref_model.zero_grad(set_to_none=True)
    input_gradient(ref_model, X, y)
    assert all(p.grad is None for p in ref_model.parameters())


def test_attack_errors(ref_model, test_split):
    X, y = test_split.X[:5], test_split.y[:5]
    with pytest.raises(ValueError, match="eps"):
        fgsm(ref_model, X, y, -0.1)
    with pytest.raises(ValueError, match="eps"):
        pgd_attack(ref_model, X, y, float("nan"))
    with pytest.raises(TypeError, match="eps"):
        fgsm(ref_model, X, y, "0.1")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fgsm(ref_model, X * 16, y, 0.1)
    with pytest.raises(ValueError, match="shape"):
        fgsm(ref_model, X, y[:3], 0.1)
    with pytest.raises(TypeError, match="integer"):
        fgsm(ref_model, X, y.float(), 0.1)
    with pytest.raises(ValueError, match="labels outside"):
        fgsm(ref_model, X, y + 10, 0.1)
    with pytest.raises(ValueError, match="steps"):
        pgd_attack(ref_model, X, y, 0.1, steps=0)
    with pytest.raises(TypeError, match="floating"):
        fgsm(ref_model, (X * 16).long(), y, 0.1)
    with pytest.raises(TypeError, match="attack"):
        robust_accuracy(ref_model, X, y, attack="pgd")


def test_attacks_keep_input_device_and_are_deterministic(ref_model, test_split):
    X, y = test_split.X[:30], test_split.y[:30]
    a = pgd_attack(ref_model, X, y, 0.1, steps=5)
    assert a.device == X.device
    assert torch.equal(a, pgd_attack(ref_model, X, y, 0.1, steps=5))


@pytest.mark.gpu
def test_attacks_on_cuda_match_cpu(ref_model, test_split):
    X, y = test_split.X[:100], test_split.y[:100]
    cuda_model = copy.deepcopy(ref_model).cuda()
    out = pgd_attack(cuda_model, X.cuda(), y.cuda(), 0.1, steps=5)
    assert out.is_cuda
    same = (out.cpu() == pgd_attack(ref_model, X, y, 0.1, steps=5)).float().mean()
    assert float(same) > 0.99  # sign flips of near-zero gradients may differ


# ------------------------------------------------------- adversarial training


def test_adversarial_training_is_deterministic_and_helps(test_split):
    s = load_digits_splits()
    models = []
    for _ in range(2):
        set_seed(0)
        m = MLP()
        hist = adversarial_training(
            m,
            *s.train_full,
            eps=0.1,
            alpha=0.025,
            steps=7,
            epochs=5,
            seed=0,
            progress=False,
        )
        models.append(m)
    assert len(hist["loss"]) == 5 and hist["loss"][-1] < hist["loss"][0]
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(p, q)
    X, y = test_split
    robust = robust_accuracy(models[0], X, y, pgd_attack, eps=0.1, steps=20)
    standard = robust_accuracy(
        load_reference_mlp(), X, y, pgd_attack, eps=0.1, steps=20
    )
    assert robust >= standard + 0.15, (robust, standard)
    assert evaluate(models[0], X, y) >= 0.85


# ---------------------------------------------------------------- BPDA


def test_bpda_forward_is_quantise_and_gradient_is_identity():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 64, generator=gen, dtype=torch.float64).requires_grad_(True)
    w = torch.randn(4, 64, generator=gen, dtype=torch.float64)
    out = bpda_quantise(x, 4)
    assert torch.equal(out, quantise(x.detach(), 4))
    (out * w).sum().backward()
    assert torch.equal(x.grad, w)
    x.grad = None
    (quantise(x, 4) * w).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(w))  # the obfuscated gradient


def test_quantisation_defence_naive_vs_bpda(ref_model, test_split):
    X, y = test_split
    defended = QuantisedModel(ref_model, levels=4)
    clean = evaluate(defended, X, y)
    naive = pgd_attack(defended, X, y, 0.2, steps=20)
    assert torch.equal(naive, X)  # zero gradient, sign(0) = 0: nothing moves
    bpda_model = QuantisedModel(ref_model, levels=4, bpda=True)
    bpda = pgd_attack(bpda_model, X, y, 0.2, steps=20)
    assert clean >= 0.95
    assert evaluate(defended, bpda, y) <= 0.01


def test_quantise_errors():
    with pytest.raises(ValueError, match="levels"):
        quantise(torch.zeros(2), 0)
    with pytest.raises(ValueError, match="levels"):
        bpda_quantise(torch.zeros(2), 2.5)
    with pytest.raises(ValueError, match="levels"):
        QuantisedModel(nn.Linear(2, 2), levels=-1)


def test_dct_matrix_matches_scipy():
    from scipy.fft import dctn

    d = dct_matrix(8)
    torch.testing.assert_close(
        d @ d.T, torch.eye(8, dtype=torch.float64), rtol=0, atol=1e-14
    )
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(8, 8, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(
        (d @ img @ d.T).numpy(), dctn(img.numpy(), norm="ortho"), atol=1e-13
    )


def test_jpeg_quantise_defence(ref_model, test_split):
    X, y = test_split
    out = jpeg_quantise(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    fine = jpeg_quantise(X.double(), step=1e-9)
    torch.testing.assert_close(fine, X.double(), rtol=0, atol=1e-7)  # <= 8 * 7.5e-9
    x = X[:5].clone().requires_grad_(True)
    ref_model(jpeg_quantise(x)).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))  # shattered gradient
    with torch.no_grad():
        acc = float((ref_model(out).argmax(1) == y).float().mean())
    assert acc >= 0.95
    with pytest.raises(ValueError, match="64"):
        jpeg_quantise(torch.zeros(2, 63))
    with pytest.raises(ValueError, match="step"):
        jpeg_quantise(X, step=0.0)


# ---------------------------------------------------------------- NES


def test_nes_counts_2n_queries_and_estimates_the_formula():
    """With a black box whose loss is exactly w.x, g_hat = (U^T U / N) w."""
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(8, generator=gen, dtype=torch.float64)

    calls = []

    def black_box(z):
        calls.append(z.shape[0])
        loss = z @ w
        return torch.stack([-loss, torch.zeros_like(loss)], dim=1)  # log p_0 = -w.z

    x = torch.rand(8, generator=gen, dtype=torch.float64)
    n, sigma, seed = 50, 1e-2, 7
    g = nes_gradient(black_box, x, 0, n_samples=n, sigma=sigma, seed=seed)
    assert calls == [2 * n]
    gen_u = torch.Generator().manual_seed(seed)
    u = torch.randn(n, 8, generator=gen_u, dtype=torch.float64)
    torch.testing.assert_close(g, u.T @ (u @ w) / n, rtol=1e-9, atol=1e-12)


def test_nes_cosine_close_to_one_for_linear_model():
    torch.manual_seed(0)
    model = nn.Linear(64, 10).double()
    counter = QueryCounter(model)
    x = torch.rand(64, dtype=torch.float64)
    g_hat = nes_gradient(counter, x, 3, n_samples=2000, sigma=1e-3, seed=0)
    assert counter.queries == 4000
    g = input_gradient(model, x[None], torch.tensor([3]))[0]
    assert float(F.cosine_similarity(g, g_hat, dim=0)) > 0.97


def test_nes_on_reference_mlp(ref_model, test_split):
    counter = QueryCounter(ref_model)
    cos = []
    for i in range(10):
        x, y = test_split.X[i], int(test_split.y[i])
        g_hat = nes_gradient(counter, x, y, n_samples=200, sigma=1e-3, seed=i)
        g = input_gradient(ref_model, x[None], torch.tensor([y]))[0].double()
        cos.append(float(F.cosine_similarity(g, g_hat, dim=0)))
    assert counter.queries == 10 * 400
    assert min(cos) >= 0.7


def test_nes_errors():
    bb = QueryCounter(nn.Linear(4, 2))
    with pytest.raises(ValueError, match="sigma"):
        nes_gradient(bb, torch.zeros(4), 0, sigma=0.0)
    with pytest.raises(ValueError, match="n_samples"):
        nes_gradient(bb, torch.zeros(4), 0, n_samples=0)
    with pytest.raises(ValueError, match=r"\(d,\)"):
        nes_gradient(bb, torch.zeros(2, 4), 0)
    with pytest.raises(ValueError, match="label"):
        nes_gradient(bb, torch.zeros(4), 5)
    with pytest.raises(TypeError, match="callable"):
        nes_gradient(None, torch.zeros(4), 0)


# ------------------------------------------------------ randomised smoothing


@pytest.mark.parametrize(
    "counts,n,sigma,alpha",
    [
        ([990, 10, 0], 1000, 0.25, 0.001),
        ([0, 1000, 0], 1000, 0.5, 0.001),
        ([3, 2, 95], 100, 0.12, 0.05),
        ([70, 30], 100, 1.0, 0.01),
        ([5, 0, 0, 0], 5, 0.25, 0.1),
    ],
)
def test_certify_radius_equals_reference(counts, n, sigma, alpha):
    c, radius = certify(np.array(counts), n, sigma, alpha)
    n_a = max(counts)
    p_low = beta.ppf(alpha, n_a, n - n_a + 1)
    # independent route to the same Clopper-Pearson bound
    p_low_2 = binomtest(n_a, n).proportion_ci(1 - 2 * alpha, method="exact").low
    assert abs(p_low - p_low_2) < 1e-12
    assert p_low > 0.5
    assert c == int(np.argmax(counts))
    assert abs(radius - sigma * norm.ppf(p_low)) <= 1e-9


@pytest.mark.parametrize(
    "counts,n,alpha",
    [
        ([50, 50], 100, 0.001),
        ([60, 40], 100, 0.001),  # p_hat 0.6 but p_low ~ 0.44
        ([0, 0, 10], 10, 0.1),  # p_low = 0.1 ** 0.1 ~ 0.79: certified, see below
        ([1, 0], 1, 0.5),  # p_low = 0.5 exactly: abstain
    ],
)
def test_certify_abstains_iff_lower_bound_at_most_half(counts, n, alpha):
    c, radius = certify(np.array(counts), n, 0.25, alpha)
    n_a = max(counts)
    p_low = beta.ppf(alpha, n_a, n - n_a + 1)
    if p_low <= 0.5:
        assert (c, radius) == (ABSTAIN, 0.0)
    else:
        assert c == int(np.argmax(counts)) and radius > 0


def test_certify_guess_and_errors():
    c, r = certify(np.array([400, 600]), 1000, 0.5, 0.001, guess=0)
    assert (c, r) == (ABSTAIN, 0.0)
    with pytest.raises(ValueError, match="sum"):
        certify(np.array([5, 5]), 11, 0.5)
    with pytest.raises(ValueError, match="non-negative integers"):
        certify(np.array([5.0, 5.0]), 10, 0.5)
    with pytest.raises(ValueError, match="sigma"):
        certify(np.array([5, 5]), 10, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        certify(np.array([5, 5]), 10, 0.5, alpha=1.5)
    with pytest.raises(ValueError, match="guess"):
        certify(np.array([5, 5]), 10, 0.5, guess=2)


def test_noise_counts_and_certify_smoothed(ref_model, test_split):
    x = test_split.X[0]
    counts = noise_counts(ref_model, x, 0.25, 300, seed=1, batch_size=128)
    assert counts.shape == (10,) and counts.sum() == 300
    assert np.array_equal(counts, noise_counts(ref_model, x, 0.25, 300, seed=1))
    c, r = certify_smoothed(ref_model, x, 0.25, n0=50, n=500, alpha=0.001, seed=0)
    r_max = 0.25 * norm.ppf(0.001 ** (1 / 500))  # radius of a perfect count
    assert c == int(test_split.y[0]) and 0 < r <= r_max + 1e-12


def test_noise_counts_rejects_bad_input(ref_model, test_split):
    x = test_split.X[0]
    with pytest.raises(ValueError, match="sigma"):
        noise_counts(ref_model, x, -0.25, 10)
    with pytest.raises(ValueError, match="n must be"):
        noise_counts(ref_model, x, 0.25, 0)


def test_fit_with_noise_at_sigma_zero_is_fit():
    """Zero noise is plain ERM: the same weights as fit with the same seed."""
    s = load_digits_splits()
    X, y = s.train.X[:300], s.train.y[:300]
    models = []
    for train in ("fit", "noise 0", "noise 0.3", "noise 0.3"):
        set_seed(0)
        m = MLP(hidden=(16,))
        if train == "fit":
            fit(m, X, y, epochs=2, device="cpu", progress=False)
        else:
            fit_with_noise(m, X, y, sigma=float(train.split()[1]), epochs=2)
        models.append(torch.cat([p.detach().flatten() for p in m.parameters()]))
    assert torch.equal(models[0], models[1])
    assert not torch.equal(models[1], models[2])
    assert torch.equal(models[2], models[3])  # seeded noise
    with pytest.raises(ValueError, match="labels outside"):
        fit_with_noise(MLP(n_out=3), X, y, sigma=0.1)


# -------------------------------------------------- test-time adaptation


def test_bn_adapt_sets_test_statistics(bn_model, test_split):
    xs = contrast_shift(test_split.X)
    adapted = bn_adapt(bn_model, xs)
    first_linear, first_bn = adapted.net[0], adapted.net[1]
    with torch.no_grad():
        h = first_linear(xs)
    torch.testing.assert_close(first_bn.running_mean, h.mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        first_bn.running_var, h.var(0, unbiased=True), rtol=1e-4, atol=1e-5
    )
    for (k, p), q in zip(
        bn_model.named_parameters(), adapted.parameters(), strict=True
    ):
        assert torch.equal(p, q), k
    assert not adapted.training


def test_tent_updates_only_bn_affine(bn_model, test_split):
    xs = contrast_shift(test_split.X)
    before = copy.deepcopy(bn_model.state_dict())
    adapted = tent_adapt(bn_model, xs, epochs=2, lr=1e-2)
    for k, v in bn_model.state_dict().items():  # the source model is untouched
        assert torch.equal(v, before[k]), k
    changed = {
        k
        for k, v in adapted.state_dict().items()
        if v.dtype.is_floating_point and not torch.equal(v, before[k])
    }
    bn_names = {
        f"net.{i}" for i, m in enumerate(bn_model.net) if isinstance(m, nn.BatchNorm1d)
    }
    affine = {f"{b}.{w}" for b in bn_names for w in ("weight", "bias")}
    stats = {f"{b}.{w}" for b in bn_names for w in ("running_mean", "running_var")}
    assert affine <= changed
    assert changed <= affine | stats
    assert all(p.requires_grad for p in adapted.parameters())


def test_adaptation_recovers_contrast_shift(bn_model, test_split):
    X, y = test_split
    xs = contrast_shift(X)
    assert evaluate(bn_model, X, y) >= 0.95
    source = evaluate(bn_model, xs, y)
    assert source <= 0.7
    assert evaluate(bn_adapt(bn_model, xs), xs, y) >= 0.95
    assert evaluate(tent_adapt(bn_model, xs), xs, y) >= 0.95
    # TENT lowers the mean entropy on the shifted data
    with torch.no_grad():
        h_bn = mean_entropy(bn_adapt(bn_model, xs)(xs))
        h_tent = mean_entropy(tent_adapt(bn_model, xs, epochs=5)(xs))
    assert float(h_tent) < float(h_bn)


def test_mean_entropy_closed_form():
    logits = torch.tensor([[0.0, 0.0], [100.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(
        mean_entropy(logits), torch.tensor(np.log(2) / 2, dtype=torch.float64)
    )


def test_adaptation_errors(ref_model, test_split):
    with pytest.raises(ValueError, match="batch-norm"):
        bn_adapt(ref_model, test_split.X)
    with pytest.raises(ValueError, match="batch-norm"):
        tent_adapt(ref_model, test_split.X)
    with pytest.raises(ValueError, match="at least 2"):
        bn_adapt(BNMLP(), test_split.X[:1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        contrast_shift(test_split.X * 2 + 1)
