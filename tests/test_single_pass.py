"""L11 single-pass methods: DUQ and evidential networks, against closed forms.

References: the kernel and loss formulas of van Amersfoort et al. (2020) and Sensoy
et al. (2018) written out by hand, torch.distributions' Dirichlet KL divergence, and
a property (a trained DUQ is more confident on its data than far away).
"""

import pytest
import torch
import torch.nn.functional as F

from tmlbook import set_seed
from tmlbook.bayesian import (
    duq_loss,
    evidential_loss,
    evidential_uncertainty,
    fit_duq,
    fit_evidential,
)
from tmlbook.models import MLP, DUQNet


def test_evidential_loss_is_the_expected_squared_error_plus_the_dirichlet_kl():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    alpha = F.softplus(logits) + 1
    S = alpha.sum(1, keepdim=True)
    p = alpha / S
    onehot = F.one_hot(y, 4).double()
    # E_{p ~ Dir(alpha)} ||y - p||^2 = sum_k (y_k - E p_k)^2 + Var p_k
    var = alpha * (S - alpha) / (S**2 * (S + 1))
    mse = ((onehot - p) ** 2 + var).sum(1)
    tilde = onehot + (1 - onehot) * alpha
    kl = torch.distributions.kl_divergence(
        torch.distributions.Dirichlet(tilde),
        torch.distributions.Dirichlet(torch.ones_like(tilde)),
    )
    for weight in (0.0, 0.3, 1.0):
        expected = (mse + weight * kl).mean()
        torch.testing.assert_close(
            evidential_loss(logits, y, weight), expected, rtol=1e-10, atol=1e-12
        )


def test_evidential_uncertainty_is_classes_over_strength():
    logits = torch.tensor(
        [[-50.0, -50.0, -50.0], [10.0, 0.0, -3.0]], dtype=torch.float64
    )
    probs, u = evidential_uncertainty(logits)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, dtype=torch.float64))
    assert abs(float(u[0]) - 1.0) < 1e-12  # no evidence: u = 1, uniform probs
    alpha = F.softplus(logits[1]) + 1
    assert abs(float(u[1]) - 3 / float(alpha.sum())) < 1e-12
    with pytest.raises(ValueError, match="logits"):
        evidential_uncertainty(torch.zeros(3))
    with pytest.raises(ValueError):
        evidential_loss(torch.zeros(2, 3), torch.tensor([0, 3]))


def test_duq_kernels_and_centroid_average_follow_the_formulas():
    set_seed(0)
    net = DUQNet(n_in=3, hidden=(5, 6), n_out=2, centroid_dim=4, length_scale=0.3)
    x = torch.randn(5, 3)
    y = torch.tensor([0, 1, 1, 0, 1])
    phi = torch.relu(net.features(x))
    e = net.total / net.count[:, None]
    for c in range(2):
        z = phi @ net.W[c].T  # (n, m)
        expected = torch.exp(-((z - e[c]) ** 2).mean(1) / (2 * 0.3**2))
        torch.testing.assert_close(net(x)[:, c], expected)
    count, total = net.count.clone(), net.total.clone()
    net.update_centroids(x, y)
    for c in range(2):
        members = phi[y == c] @ net.W[c].T
        torch.testing.assert_close(net.count[c], 0.99 * count[c] + 0.01 * len(members))
        torch.testing.assert_close(
            net.total[c], 0.99 * total[c] + 0.01 * members.sum(0)
        )
    with pytest.raises(ValueError, match="length_scale"):
        DUQNet(length_scale=0.0)


def test_duq_loss_is_bce_plus_the_two_sided_gradient_penalty():
    set_seed(0)
    net = DUQNet(n_in=3, hidden=(8, 8), n_out=2, centroid_dim=4)
    x = torch.randn(6, 3)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    kernels = net(x)
    target = F.one_hot(y, 2).float()
    bce = -(target * kernels.log() + (1 - target) * (1 - kernels).log()).sum() / 6
    torch.testing.assert_close(duq_loss(net, x, y, lam=0.0), bce, rtol=1e-5, atol=1e-6)
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(xg).sum(), xg)
    penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(
        duq_loss(net, x, y, lam=2.0), bce + 2.0 * penalty, rtol=1e-5, atol=1e-6
    )


def test_trained_duq_is_confident_on_its_data_and_not_far_away():
    g = torch.Generator().manual_seed(0)
    X = torch.cat(
        [
            torch.randn(100, 2, generator=g) * 0.3 + 2,
            torch.randn(100, 2, generator=g) * 0.3 - 2,
        ]
    )
    y = torch.cat([torch.zeros(100), torch.ones(100)]).long()
    set_seed(0)
    net = DUQNet(n_in=2, hidden=(32, 32), n_out=2, centroid_dim=8)
    fit_duq(net, X, y, lam=0.5, epochs=40, lr=3e-3, device="cpu", progress=False)
    with torch.no_grad():
        on_data = net(X).max(1).values.mean()
        far = net(torch.tensor([[15.0, -15.0], [-12.0, 14.0]])).max(1).values.mean()
        accuracy = (net(X).argmax(1) == y).float().mean()
    assert accuracy == 1.0
    assert on_data > 0.5 and far < 0.5 * on_data, (float(on_data), float(far))


def test_an_evidential_network_learns_the_classes():
    g = torch.Generator().manual_seed(1)
    X = torch.cat(
        [torch.randn(80, 2, generator=g) + 3, torch.randn(80, 2, generator=g) - 3]
    )
    y = torch.cat([torch.zeros(80), torch.ones(80)]).long()
    set_seed(0)
    net = MLP(n_in=2, hidden=(16,), n_out=2)
    fit_evidential(net, X, y, epochs=30, lr=1e-2, device="cpu", progress=False)
    with torch.no_grad():
        probs, u = evidential_uncertainty(net(X))
    assert (probs.argmax(1) == y).float().mean() > 0.97
    assert float(u.mean()) < 0.5  # evidence has been collected for the data
