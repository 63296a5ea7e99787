"""Every model class of the book: small networks for the 8x8 digits and toy data.

- :class:`MLP`             the reference ReLU MLP ("M-mlp": 64-128-128-10)
- :class:`SmallCNN`        conv16-conv32-GAP-linear, for CAM / Grad-CAM
- :class:`BNMLP`           the MLP with batch norm, for test-time adaptation (L4)
- :class:`DomainAdaptNet`  features, label head and domain head, for DANN (L2)
- :class:`DUQNet`          RBF kernels around class centroids, for DUQ (L11)
- :class:`MDN`             a mixture density network for 1-D regression (L12)
- :class:`BagOfEmbeddings` a bag-of-embeddings text classifier, for GCG (L13)
"""

from __future__ import annotations

from importlib import resources

import torch
from torch import nn


class MLP(nn.Module):
    """A ReLU multi-layer perceptron.

    The book's reference model ("M-mlp") is ``MLP()``: 64-128-128-10.

    Parameters
    ----------
    n_in : int
        Input features (64 for flat digits).
    hidden : tuple of int
        Widths of the hidden layers.
    n_out : int
        Number of classes.

    Shapes
    ------
    ``forward``: (n, n_in) -> logits (n, n_out)
    """

    batch_norm = False  # BNMLP: a BatchNorm1d after each hidden linear layer

    def __init__(
        self, n_in: int = 64, hidden: tuple[int, ...] = (128, 128), n_out: int = 10
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            norm = [nn.BatchNorm1d(h)] if self.batch_norm else []
            layers += [nn.Linear(width, h), *norm, nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.n_in = n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (n, {self.n_in}), "
                f"got {tuple(x.shape)}"
            )
        return self.net(x)


class SmallCNN(nn.Module):
    """conv16 - conv32 - global average pooling - linear, for 1x8x8 digits.

    The global-average-pooling head makes CAM and Grad-CAM coincide (up to
    a factor 1/(H*W)), which the explainability chapters use.

    Shapes
    ------
    ``forward``: (n, 64) or (n, 1, 8, 8) -> logits (n, n_classes)
    ``features``: -> activations (n, 32, 8, 8) before pooling
    """

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(32, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == 64:
            x = x.reshape(-1, 1, 8, 8)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(
                f"SmallCNN expects (n, 64) or (n, 1, 8, 8), got {tuple(x.shape)}"
            )
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class BNMLP(MLP):
    """A ReLU MLP with batch normalisation after each hidden linear layer.

    64-128-BN-ReLU-128-BN-ReLU-10 by default; the model for test-time
    adaptation, whose only test-time knobs are the BN statistics and the BN
    affine parameters (gamma, beta).

    Shapes
    ------
    ``forward``: (n, n_in) -> logits (n, n_out)
    """

    batch_norm = True


class DomainAdaptNet(nn.Module):
    """Feature extractor, label head and domain head for 2-D toy data.

    Shapes
    ------
    ``features``: (n, n_in) -> (n, hidden)
    ``forward``: (n, n_in) -> label logits (n, n_classes)
    ``domain_logit``: features (n, hidden) -> (n,)
    """

    def __init__(self, n_in: int = 2, hidden: int = 32, n_classes: int = 2):
        super().__init__()
        self.feature_net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.label_head = nn.Linear(hidden, n_classes)
        self.domain_head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.label_head(self.features(x))

    def domain_logit(self, f: torch.Tensor) -> torch.Tensor:
        return self.domain_head(f).squeeze(1)


REFERENCE_WEIGHTS = "mlp_digits.pt"
REFERENCE_BN_WEIGHTS = "bn_mlp_digits.pt"


def _shipped_state(name: str) -> dict[str, torch.Tensor]:
    path = resources.files("tmlbook") / "weights" / name
    with resources.as_file(path) as p:
        return torch.load(p, map_location="cpu", weights_only=True)


def load_reference_mlp(device: torch.device | str = "cpu") -> MLP:
    """The shipped reference ``MLP()`` trained on ``train_full`` (see ``bench/``).

    Shipping the weights keeps exercises' thresholds stable across torch
    versions; :func:`tmlbook.training.train_reference_mlp` re-creates them.

    Returns
    -------
    MLP
        In evaluation mode, on ``device``.
    """
    model = MLP()
    model.load_state_dict(_shipped_state(REFERENCE_WEIGHTS))
    return model.to(device).eval()


def load_reference_bn_mlp(device: torch.device | str = "cpu") -> nn.Module:
    """The shipped batch-norm MLP (:class:`tmlbook.robustness.BNMLP`) trained on
    ``train_full``, the model of test-time adaptation.

    :func:`tmlbook.training.train_reference_bn_mlp` re-creates these weights bit
    for bit on the CPU (a test checks it); loading them saves the training.

    Returns
    -------
    BNMLP
        In evaluation mode, on ``device``.
    """
    from tmlbook.robustness import BNMLP

    model = BNMLP()
    model.load_state_dict(_shipped_state(REFERENCE_BN_WEIGHTS))
    return model.to(device).eval()


# --- Part III (uncertainty): models with dropout, Bayesian layers, two heads ---


class DropoutMLP(nn.Module):
    """A ReLU MLP with dropout after every hidden layer (for MC dropout).

    Shapes
    ------
    ``forward``: (n, n_in) -> (n, n_out)
    """

    def __init__(
        self,
        n_in: int = 64,
        hidden: tuple[int, ...] = (128, 128),
        n_out: int = 10,
        p: float = 0.2,
    ):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability p must lie in [0, 1), got {p}")
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(p)]
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BayesLinear(nn.Module):
    """A linear layer with a mean-field Gaussian posterior over its weights.

    Each forward pass draws weights w = mu + softplus(rho) * eps with
    eps ~ N(0, I) (the reparameterisation trick); ``kl()`` is the closed-form
    KL divergence to the prior N(0, prior_sigma^2 I).
    """

    def __init__(self, n_in: int, n_out: int, prior_sigma: float = 1.0):
        super().__init__()
        self.w_mu = nn.Parameter(torch.randn(n_out, n_in) / n_in**0.5)
        self.w_rho = nn.Parameter(torch.full((n_out, n_in), -5.0))
        self.b_mu = nn.Parameter(torch.zeros(n_out))
        self.b_rho = nn.Parameter(torch.full((n_out,), -5.0))
        self.prior_sigma = prior_sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_sigma = nn.functional.softplus(self.w_rho)
        b_sigma = nn.functional.softplus(self.b_rho)
        w = self.w_mu + w_sigma * torch.randn_like(w_sigma)
        b = self.b_mu + b_sigma * torch.randn_like(b_sigma)
        return nn.functional.linear(x, w, b)

    def kl(self) -> torch.Tensor:
        total = torch.zeros(())
        s0 = self.prior_sigma
        for mu, rho in ((self.w_mu, self.w_rho), (self.b_mu, self.b_rho)):
            s = nn.functional.softplus(rho)
            total = (
                total + (torch.log(s0 / s) + (s**2 + mu**2) / (2 * s0**2) - 0.5).sum()
            )
        return total


class BayesMLP(nn.Module):
    """1-D regression ReLU network of :class:`BayesLinear` layers (Bayes by Backprop).

    Shapes
    ------
    ``forward``: (n, n_in) -> (n, 1), one posterior sample per call
    """

    def __init__(self, n_in: int = 1, hidden: int = 50, prior_sigma: float = 1.0):
        super().__init__()
        self.l1 = BayesLinear(n_in, hidden, prior_sigma)
        self.l2 = BayesLinear(hidden, 1, prior_sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(torch.relu(self.l1(x)))

    def kl(self) -> torch.Tensor:
        return self.l1.kl() + self.l2.kl()


class GaussianMLP(nn.Module):
    """Regression MLP with a mean and a standard-deviation head.

    sigma = softplus(raw) + min_sigma keeps the variance positive.

    Shapes
    ------
    ``forward``: (n, n_in) -> (mu (n,), sigma (n,))
    """

    def __init__(self, n_in: int = 1, hidden: int = 64, min_sigma: float = 1e-3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.head = nn.Linear(hidden, 2)
        self.min_sigma = min_sigma

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.head(self.body(x))
        sigma = nn.functional.softplus(out[:, 1]) + self.min_sigma
        return out[:, 0], sigma


class DUQNet(nn.Module):
    """Deterministic uncertainty quantification (van Amersfoort et al., 2020).

    A ReLU feature map phi(x) (h features), one matrix W_c (m x h) per class and a
    centroid e_c (m,) per class.  The output for class c is the RBF kernel value

        kappa_c(x) = exp(-||W_c phi(x) - e_c||^2 / (2 m sigma^2))   in (0, 1],

    and the confidence is max_c kappa_c(x).  The centroids are not trained by the
    gradient: :meth:`update_centroids` keeps them at an exponential moving average
    of the class means of W_c phi(x).

    Shapes
    ------
    ``forward``: (n, n_in) -> kernel values (n, n_out)
    """

    def __init__(
        self,
        n_in: int = 64,
        hidden: tuple[int, ...] = (128, 128),
        n_out: int = 10,
        centroid_dim: int = 32,
        length_scale: float = 0.1,
        gamma: float = 0.99,
    ):
        super().__init__()
        if length_scale <= 0 or not 0.0 < gamma < 1.0:
            raise ValueError("length_scale must be > 0 and gamma lie in (0, 1)")
        self.features = MLP(n_in, hidden[:-1], hidden[-1])
        self.W = nn.Parameter(torch.randn(n_out, centroid_dim, hidden[-1]) * 0.05)
        self.register_buffer("count", torch.full((n_out,), 12.0))
        self.register_buffer("total", torch.randn(n_out, centroid_dim) * 0.05 * 12)
        self.length_scale, self.gamma = length_scale, gamma
        self.n_in = n_in

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """W_c phi(x) for every class: (n, n_out, centroid_dim)."""
        phi = torch.relu(self.features(x))
        return torch.einsum("cmh,nh->ncm", self.W, phi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embed(x)
        centroids = self.total / self.count[:, None]
        d2 = ((z - centroids) ** 2).mean(-1)  # mean over the m dimensions
        return torch.exp(-d2 / (2 * self.length_scale**2))

    @torch.no_grad()
    def update_centroids(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """e_c <- EMA of the mean of W_c phi(x_i) over the batch's members of c."""
        z = self.embed(x)
        onehot = nn.functional.one_hot(y, z.shape[1]).to(z.dtype)  # (n, C)
        self.count.mul_(self.gamma).add_((1 - self.gamma) * onehot.sum(0))
        sums = torch.einsum("nc,ncm->cm", onehot, z)
        self.total.mul_(self.gamma).add_((1 - self.gamma) * sums)


class MDN(nn.Module):
    """A mixture density network for 1-D targets (Bishop, 1994).

    A tanh body and three heads: mixture logits, means and standard deviations
    (softplus + ``min_sigma``) of M Gaussian components.

    Shapes
    ------
    ``forward``: (n, n_in) -> (logit_pi, mu, sigma), each (n, M)
    """

    def __init__(
        self,
        n_in: int = 1,
        hidden: int = 64,
        n_components: int = 3,
        min_sigma: float = 1e-3,
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.head = nn.Linear(hidden, 3 * n_components)
        self.n_components, self.min_sigma = n_components, min_sigma

    def forward(self, x: torch.Tensor):
        logit_pi, mu, raw = self.head(self.body(x)).chunk(3, dim=1)
        return logit_pi, mu, nn.functional.softplus(raw) + self.min_sigma


# --- Part IV (advanced topics): a text classifier over bags of tokens ---


class BagOfEmbeddings(nn.Module):
    """A bag-of-embeddings text classifier: mean token embedding, then an MLP.

    The input is a *bag*: the frequency of each vocabulary token in the text
    (counts divided by the length), so the mean embedding is ``bag @ E``.  A
    one-hot token enters the bag linearly, which is what lets an attack take
    gradients with respect to one-hot tokens
    (:func:`tmlbook.security.gcg_suffix_attack`).

    Parameters
    ----------
    vocab_size : int
    dim : int
        Embedding width.
    hidden : int
        Width of the hidden tanh layer.
    n_out : int
        Number of classes.

    Shapes
    ------
    ``forward``: bags (n, vocab_size) -> logits (n, n_out)
    """

    def __init__(
        self, vocab_size: int = 100, dim: int = 16, hidden: int = 32, n_out: int = 2
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Parameter(torch.randn(vocab_size, dim))  # as nn.Embedding
        self.head = nn.Sequential(
            nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, n_out)
        )

    def forward(self, bags: torch.Tensor) -> torch.Tensor:
        if bags.dim() != 2 or bags.shape[1] != self.vocab_size:
            raise ValueError(
                f"BagOfEmbeddings expects bags of shape (n, {self.vocab_size}), "
                f"got {tuple(bags.shape)}"
            )
        return self.head(bags @ self.embedding)
