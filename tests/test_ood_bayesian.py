"""L10/L11 -- tmlbook.ood and tmlbook.bayesian.

References: scikit-learn (``roc_auc_score``, ``average_precision_score``,
``roc_curve``), pytorch-ood 0.4 (scores equal up to sign), laplace-torch 0.3
(last-layer GGN posterior and probit predictive, float64), closed forms.
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from tmlbook import set_seed
from tmlbook.bayesian import (
    bayes_by_backprop,
    bbb_predict,
    deep_ensemble,
    laplace_last_layer,
    mc_dropout_predict,
    predict_stack,
    swag_diagonal,
    swag_predict,
)
from tmlbook.data import load_digits_splits
from tmlbook.models import MLP, DropoutMLP, load_reference_mlp
from tmlbook.ood import (
    aupr,
    auroc,
    energy_score,
    fit_mahalanobis,
    fpr_at_tpr,
    mahalanobis_score,
    max_logit_score,
    msp_score,
    odin_score,
    penultimate_features,
)
from tmlbook.scoring import mutual_information


def _scores(n=400, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + y
    if ties:
        s = np.round(s, 0)
    return y, s


@pytest.mark.parametrize("ties", [False, True])
def test_auroc_aupr_match_sklearn(ties):
    y, s = _scores(ties=ties)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert aupr(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_auroc_ties_count_half_and_errors():
    assert auroc([0, 1], [0.3, 0.3]) == 0.5
    with pytest.raises(ValueError, match="both classes"):
        auroc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="binary"):
        auroc([0, 2], [0.1, 0.2])


def test_fpr_at_tpr_matches_roc_curve_and_conventions():
    y, s = _scores(seed=3)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    ref = fpr[np.argmax(tpr >= 0.95)]
    assert fpr_at_tpr(y, s) == pytest.approx(ref)
    # the other convention (the other class positive) gives another number
    other = fpr_at_tpr(1 - y, -s)
    fpr2, tpr2, _ = roc_curve(1 - y, -s, drop_intermediate=False)
    assert other == pytest.approx(fpr2[np.argmax(tpr2 >= 0.95)])
    assert other != pytest.approx(fpr_at_tpr(y, s))


@pytest.fixture(scope="module")
def digits():
    return load_digits_splits()


@pytest.fixture(scope="module")
def ref_model():
    return load_reference_mlp()


def test_scores_equal_pytorch_ood_up_to_sign(ref_model, digits):
    from pytorch_ood.detector import ODIN, EnergyBased, MaxLogit, MaxSoftmax

    X = digits.test.X[:100]
    with torch.no_grad():
        z = ref_model(X)
    torch.testing.assert_close(msp_score(z).float(), -MaxSoftmax(ref_model)(X))
    torch.testing.assert_close(max_logit_score(z).float(), -MaxLogit(ref_model)(X))
    torch.testing.assert_close(
        energy_score(z, 2.0).float(), -EnergyBased(ref_model, t=2.0)(X)
    )
    ours = odin_score(ref_model, X, temperature=1000.0, epsilon=0.01)
    theirs = ODIN(ref_model, temperature=1000.0, eps=0.01)(X)
    torch.testing.assert_close(ours.float(), -theirs, atol=1e-6, rtol=1e-5)


def test_mahalanobis_ranking_matches_pytorch_ood(ref_model, digits):
    from pytorch_ood.detector import Mahalanobis

    f_tr = penultimate_features(ref_model, digits.train_full.X).float()
    f_te = penultimate_features(ref_model, digits.test.X[:200]).float()
    n = len(digits.train_full.y)
    # pytorch-ood: covariance = sum of outer products (not / N) + 1e-6 I
    means, prec = fit_mahalanobis(f_tr, digits.train_full.y, ridge=1e-6 / n)
    ours = mahalanobis_score(f_te, means, prec)
    det = Mahalanobis(torch.nn.Identity())
    det.fit_features(f_tr, digits.train_full.y)
    theirs = det.predict_features(f_te).double()
    # their outlier score is 0.5 d^2_theirs = 0.5 d^2_ours / N
    torch.testing.assert_close(-0.5 * ours / n, theirs, rtol=2e-3, atol=1e-4)
    assert np.corrcoef(ours.numpy(), -theirs.numpy())[0, 1] > 0.9999


def test_laplace_last_layer_matches_laplace_torch(digits):
    from laplace import Laplace

    torch.manual_seed(0)
    model = MLP(hidden=(16,)).double()
    X = digits.train.X[:200].double()
    y = digits.train.y[:200]
    ours = laplace_last_layer(model, X, y, prior_precision=0.7)
    la = Laplace(
        copy.deepcopy(model),
        "classification",
        subset_of_weights="last_layer",
        hessian_structure="full",
        prior_precision=0.7,
    )
    la.fit(
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=50)
    )
    torch.testing.assert_close(ours.mean, la.mean.double())
    prec = torch.linalg.inv(ours.covariance)
    torch.testing.assert_close(
        prec, la.posterior_precision.double(), rtol=1e-6, atol=1e-8
    )
    torch.testing.assert_close(
        ours.covariance, la.posterior_covariance.double(), rtol=1e-5, atol=1e-7
    )
    Xt = digits.test.X[:50].double()
    theirs = la(Xt, pred_type="glm", link_approx="probit")
    torch.testing.assert_close(
        ours.predict_proba(Xt), theirs.double(), rtol=1e-6, atol=1e-9
    )


def test_ensemble_mc_dropout_swag_properties(digits):
    X, y = digits.train.X[:300], digits.train.y[:300]
    members = deep_ensemble(
        lambda: MLP(hidden=(32,)), X, y, n_members=3, epochs=3, device="cpu"
    )
    stack = predict_stack(members, digits.test.X)
    assert stack.shape == (3, 540, 10)
    assert (mutual_information(stack) >= 0).all()
    assert not torch.allclose(stack[0], stack[1])  # members differ by seed

    set_seed(0)
    drop = DropoutMLP(hidden=(32,), p=0.3)
    from tmlbook.training import fit

    fit(drop, X, y, epochs=3, device="cpu")
    s1 = mc_dropout_predict(drop, digits.test.X[:20], n_samples=8, seed=1)
    s2 = mc_dropout_predict(drop, digits.test.X[:20], n_samples=8, seed=1)
    assert torch.equal(s1, s2) and not drop.training
    assert not torch.allclose(s1[0], s1[1])  # dropout was on
    with pytest.raises(ValueError, match="Dropout"):
        mc_dropout_predict(members[0], X[:2])

    mean, var = swag_diagonal(members[0], X, y, epochs=3, lr=0.01)
    assert (var >= 0).all() and mean.shape == var.shape
    zero = swag_predict(members[0], mean, torch.zeros_like(var), X[:5], n_samples=2)
    assert torch.allclose(zero[0], zero[1])


def test_bayes_by_backprop_band_widens_away_from_data():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, 1, generator=g) * 2 - 1
    y = torch.sin(3 * X[:, 0]) + 0.1 * torch.randn(40, generator=g)
    model = bayes_by_backprop(X, y, epochs=600)
    near = bbb_predict(model, torch.tensor([[0.0]]), n_samples=200).std()
    far = bbb_predict(model, torch.tensor([[3.0]]), n_samples=200).std()
    assert far > 2 * near
