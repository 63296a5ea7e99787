"""tmlbook.foundations (L1, week w01): log-softmax, cross-entropy, risks, the gap."""

import pytest
import torch
import torch.nn.functional as F

from tmlbook.data import load_digits_splits
from tmlbook.foundations import (
    cross_entropy,
    generalisation_gap,
    log_softmax,
    zero_one_risk,
)
from tmlbook.models import load_reference_mlp
from tmlbook.training import evaluate


def test_cross_entropy_matches_torch_and_is_stable():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 7, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 7, (50,), generator=gen)
    torch.testing.assert_close(
        cross_entropy(logits, y), F.cross_entropy(logits, y), rtol=0, atol=1e-12
    )
    big = 1000.0 * torch.randn(50, 7, generator=gen, dtype=torch.float64)
    out = cross_entropy(big, y)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, F.cross_entropy(big, y), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        log_softmax(big), F.log_softmax(big, dim=1), rtol=0, atol=1e-9
    )


def test_cross_entropy_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"logits must have shape \(n, K\)"):
        cross_entropy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels outside"):
        cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="NaN"):
        cross_entropy(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))


def test_generalisation_gap_is_test_minus_train_risk():
    s = load_digits_splits()
    model = load_reference_mlp()
    gap = generalisation_gap(model, s.train, s.test)
    assert gap == pytest.approx(
        zero_one_risk(model, *s.test) - zero_one_risk(model, *s.train)
    )
    assert gap == pytest.approx(
        (1 - evaluate(model, *s.test)) - (1 - evaluate(model, *s.train))
    )
