"""L13 -- tmlbook.security: model extraction, GCG-style suffixes, watermarks.

References: scikit-learn's ``LogisticRegression`` (the stolen model's true
parameters), brute force over every suffix of a tiny vocabulary, the closed
form of the z-score, and its null distribution (scipy's normal tail).
"""

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from tmlbook.data import load_digits_splits
from tmlbook.models import BagOfEmbeddings
from tmlbook.security import (
    COMPLY,
    REFUSAL_VOCAB,
    PredictionAPI,
    bags_of_tokens,
    decode,
    extract_logistic,
    gcg_suffix_attack,
    green_lists,
    refusal_classifier,
    refusal_prompts,
    refusals,
    sample_tokens,
    suffix_loss,
    toy_bigram_lm,
    watermark_z_score,
)

torch.set_num_threads(1)


# ---------------------------------------------------------------- extraction


@pytest.fixture(scope="module")
def victim():
    """A logistic regression for 3 vs 8 on the digits, trained by scikit-learn."""
    X, y = load_digits_splits().train
    keep = (y == 3) | (y == 8)
    X, y = X[keep].double().numpy(), y[keep].numpy() == 8
    return LogisticRegression(max_iter=2000).fit(X, y)


def test_extraction_is_exact_with_d_plus_one_counted_queries(victim):
    api = PredictionAPI(lambda X: victim.predict_proba(X.numpy()), budget=65)
    w, b = extract_logistic(api, d=64)
    assert api.queries == 65
    assert torch.allclose(w, torch.from_numpy(victim.coef_[0]), atol=1e-6, rtol=0)
    assert abs(float(b) - victim.intercept_[0]) < 1e-6


def test_extraction_with_random_queries_and_a_torch_victim():
    gen = torch.Generator().manual_seed(0)
    w_true = torch.randn(10, generator=gen, dtype=torch.float64)
    b_true = torch.tensor(0.3, dtype=torch.float64)

    def predict(X):
        p = torch.sigmoid(X @ w_true + b_true)
        return torch.stack([1 - p, p], 1)

    api = PredictionAPI(predict)
    queries = torch.rand(11, 10, generator=gen, dtype=torch.float64)
    w, b = extract_logistic(api, 10, queries)
    assert api.queries == 11
    assert torch.allclose(w, w_true, atol=1e-9) and abs(float(b - b_true)) < 1e-9


def test_budget_and_rounding(victim):
    api = PredictionAPI(lambda X: victim.predict_proba(X.numpy()), budget=64)
    with pytest.raises(RuntimeError, match="budget exhausted"):
        extract_logistic(api, d=64)
    rounded = PredictionAPI(lambda X: victim.predict_proba(X.numpy()), decimals=2)
    w, _ = extract_logistic(rounded, d=64)
    error = float((w - torch.from_numpy(victim.coef_[0])).abs().max())
    assert 1e-6 < error < 1.0  # rounding costs exactness, not the whole model


def test_extraction_errors(victim):
    api = PredictionAPI(lambda X: victim.predict_proba(X.numpy()))
    with pytest.raises(ValueError, match="shape"):
        extract_logistic(api, 64, torch.zeros(10, 64))
    with pytest.raises(ValueError, match="affinely independent"):
        extract_logistic(api, 2, torch.tensor([[0.0, 0], [1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="integer >= 1"):
        extract_logistic(api, 0)
    saturated = PredictionAPI(lambda X: torch.tensor([[0.0, 1.0]] * len(X)))
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        extract_logistic(saturated, 3)
    three_class = PredictionAPI(lambda X: torch.full((len(X), 3), 1 / 3))
    with pytest.raises(ValueError, match="binary"):
        extract_logistic(three_class, 3)
    logits = PredictionAPI(lambda X: torch.ones(len(X), 2))
    with pytest.raises(ValueError, match="sum to 1"):
        logits(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="callable"):
        PredictionAPI("not a model")
    with pytest.raises(ValueError, match="NaN"):
        api(torch.full((1, 64), float("nan")))


# ---------------------------------------------------------------- GCG


@pytest.fixture(scope="module")
def classifier():
    return refusal_classifier()


def test_refusal_classifier_is_cached_deterministic_and_accurate(classifier):
    again = refusal_classifier()
    assert again is not classifier
    assert torch.equal(again.embedding, classifier.embedding)
    benign = refusal_prompts(300, harmful=False, seed=1)
    harmful = refusal_prompts(300, harmful=True, seed=1)
    assert not refusals(classifier, benign).any()
    assert refusals(classifier, harmful).all()
    assert len(REFUSAL_VOCAB) == len(set(REFUSAL_VOCAB)) == 100
    assert decode([0, 57]) == "bomb please"


def test_gcg_loss_never_increases_and_the_suffix_transfers(classifier):
    train = refusal_prompts(25, harmful=True, seed=2)
    held_out = refusal_prompts(100, harmful=True, seed=3)
    init = torch.full((5,), REFUSAL_VOCAB.index("the"))
    result = gcg_suffix_attack(
        classifier, train, suffix_length=5, n_iters=50, init_suffix=init, seed=0
    )
    assert result.losses.shape == (51,)
    assert (np.diff(result.losses) <= 0).all()
    assert result.losses[-1] < 0.1 * result.losses[0]
    assert result.n_evaluated == 50 * 128
    assert float(suffix_loss(classifier, train, result.suffix)) == pytest.approx(
        result.losses[-1], rel=1e-5
    )
    flipped = 1 - refusals(classifier, held_out, result.suffix).double().mean()
    assert flipped >= 0.9  # measured: 0.97 of 100 held-out harmful prompts
    assert 1 - refusals(classifier, held_out, init).double().mean() < 0.1
    again = gcg_suffix_attack(classifier, train, 5, 50, init_suffix=init, seed=0)
    assert torch.equal(again.suffix, result.suffix)


@pytest.mark.gpu
def test_gcg_on_cuda_matches_cpu(classifier):
    train = refusal_prompts(10, harmful=True, seed=2)
    init = torch.full((5,), REFUSAL_VOCAB.index("the"))
    cpu = gcg_suffix_attack(classifier, train, 5, 20, init_suffix=init)
    gpu_model = refusal_classifier().cuda()
    gpu = gcg_suffix_attack(gpu_model, train, 5, 20, init_suffix=init)
    assert not gpu.suffix.is_cuda and next(gpu_model.parameters()).is_cuda
    assert np.allclose(gpu.losses, cpu.losses, rtol=1e-3, atol=1e-6)
    assert refusals(gpu_model, train, gpu.suffix).shape == (10,)


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return BagOfEmbeddings(vocab_size=6, dim=4, hidden=8).eval()


def test_exact_evaluation_equals_the_model_on_concatenated_prompts():
    model = _tiny_model()
    prompts = [torch.tensor([0, 1, 2]), torch.tensor([3, 3]), torch.tensor([5])]
    suffixes = torch.tensor(list(itertools.product(range(6), repeat=2)))
    losses = suffix_loss(model, prompts, suffixes, target=COMPLY)
    for s, loss in zip(suffixes, losses, strict=True):
        bags = bags_of_tokens([torch.cat([p, s]) for p in prompts], 6)
        with torch.no_grad():
            ref = torch.nn.functional.cross_entropy(model(bags), torch.zeros(3).long())
        assert float(loss) == pytest.approx(float(ref), rel=1e-5, abs=1e-7)


def test_gcg_agrees_with_brute_force_on_a_tiny_vocabulary():
    model = _tiny_model(1)
    prompts = [torch.tensor([0, 1]), torch.tensor([2, 3, 4])]
    allowed = torch.tensor([1, 2, 4, 5])
    every = torch.tensor(list(itertools.product(allowed.tolist(), repeat=3)))
    brute = suffix_loss(model, prompts, every)
    # one position, every allowed token a candidate: GCG finds the global optimum
    one = gcg_suffix_attack(
        model, prompts, 1, 3, top_k=4, batch_size=64, allowed_tokens=allowed
    )
    single = suffix_loss(model, prompts, allowed[:, None])
    assert one.losses[-1] == pytest.approx(float(single.min()), rel=1e-6)
    # three positions: a coordinate-wise optimum, never better than brute force
    res = gcg_suffix_attack(
        model, prompts, 3, 30, top_k=4, batch_size=64, allowed_tokens=allowed, seed=1
    )
    assert torch.isin(res.suffix, allowed).all()
    assert res.losses[-1] >= float(brute.min()) - 1e-6
    swaps = [res.suffix.clone() for _ in range(3 * len(allowed))]
    for j, (i, t) in enumerate(itertools.product(range(3), allowed)):
        swaps[j][i] = t
    assert float(suffix_loss(model, prompts, torch.stack(swaps)).min()) >= (
        res.losses[-1] - 1e-6
    )


def test_gcg_errors(classifier):
    prompts = refusal_prompts(3, harmful=True)
    with pytest.raises(ValueError, match="non-empty list"):
        gcg_suffix_attack(classifier, [])
    with pytest.raises(ValueError, match=r"outside \[0, 100\)"):
        gcg_suffix_attack(classifier, [torch.tensor([0, 100])])
    with pytest.raises(TypeError, match="integer token ids"):
        gcg_suffix_attack(classifier, [torch.tensor([0.5])])
    with pytest.raises(ValueError, match="suffix_length"):
        gcg_suffix_attack(classifier, prompts, suffix_length=0)
    with pytest.raises(ValueError, match="init_suffix has 2 tokens"):
        gcg_suffix_attack(classifier, prompts, 5, init_suffix=[1, 2])
    with pytest.raises(ValueError, match="outside allowed_tokens"):
        gcg_suffix_attack(
            classifier, prompts, 2, init_suffix=[1, 2], allowed_tokens=[3, 4]
        )
    with pytest.raises(ValueError, match="target"):
        gcg_suffix_attack(classifier, prompts, target=2)
    with pytest.raises(TypeError, match="vocab_size"):
        gcg_suffix_attack(torch.nn.Linear(100, 2), prompts)
    with pytest.raises(ValueError, match="shape"):
        suffix_loss(classifier, prompts, torch.zeros(2, 0).long())


# ---------------------------------------------------------------- watermarks


@pytest.fixture(scope="module")
def lm():
    return toy_bigram_lm(500, seed=0)


def test_green_lists_are_keyed_and_have_gamma_v_entries():
    green = green_lists(200, gamma=0.25, key=7)
    assert green.shape == (200, 200) and (green.sum(1) == 50).all()
    assert np.array_equal(green, green_lists(200, 0.25, 7))
    assert not np.array_equal(green, green_lists(200, 0.25, 8))


def test_z_score_equals_the_closed_form(lm):
    tokens = sample_tokens(lm, 20, 50, watermark=True, seed=3)
    green = green_lists(500, 0.25, 42)
    for seq in tokens:
        s_g = sum(green[a, b] for a, b in itertools.pairwise(seq))
        z_ref = (s_g - 0.25 * 50) / np.sqrt(50 * 0.25 * 0.75)
        assert watermark_z_score(seq, 500) == pytest.approx(z_ref, abs=1e-12)
    assert watermark_z_score(tokens, 500).shape == (20,)


def test_z_is_standard_normal_without_and_high_with_the_watermark(lm):
    plain = watermark_z_score(sample_tokens(lm, 1000, 200, seed=1), 500)
    marked = watermark_z_score(sample_tokens(lm, 1000, 200, True, seed=2), 500)
    assert abs(plain.mean()) < 0.1 and abs(plain.std() - 1) < 0.1
    assert abs((plain > 1.645).mean() - norm.sf(1.645)) < 0.025
    assert (plain > 4).mean() <= 0.01  # measured: 0.0
    assert (marked > 4).mean() >= 0.95  # measured: 1.0
    wrong_key = watermark_z_score(sample_tokens(lm, 300, 200, True, seed=2), 500, key=1)
    assert (wrong_key > 4).mean() <= 0.01  # without the key, nothing to detect


def test_low_entropy_and_short_texts_weaken_detection(lm):
    sharp = toy_bigram_lm(500, temperature=0.1, seed=0)
    z_sharp = watermark_z_score(sample_tokens(sharp, 300, 200, True, seed=2), 500)
    z_short = watermark_z_score(sample_tokens(lm, 300, 10, True, seed=2), 500)
    assert (z_sharp > 4).mean() < 0.5 and (z_short > 4).mean() < 0.5


def test_watermark_errors(lm):
    with pytest.raises(ValueError, match="gamma"):
        watermark_z_score([1, 2, 3], 500, gamma=1.0)
    with pytest.raises(ValueError, match="T >= 1"):
        watermark_z_score([1], 500)
    with pytest.raises(TypeError, match="integer token ids"):
        watermark_z_score([1.0, 2.0], 500)
    with pytest.raises(ValueError, match=r"\[0, 500\)"):
        watermark_z_score([1, 500], 500)
    with pytest.raises(TypeError, match="BigramLM"):
        sample_tokens(np.zeros((3, 3)), 1, 5)
    with pytest.raises(ValueError, match="delta"):
        sample_tokens(lm, 1, 5, True, delta=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        toy_bigram_lm(10, temperature=0.0)
