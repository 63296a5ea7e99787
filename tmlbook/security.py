"""L13: model extraction, a GCG-style suffix attack, LM watermark detection.

Three attacks on deployed models and one defence, each on a small model that
``tmlbook`` builds deterministically, so that nothing is downloaded:

- :func:`extract_logistic` steals a logistic-regression API with d + 1
  queries (Tramèr et al., 2016), through a :class:`PredictionAPI` that counts
  (and can cap and round) what it answers;
- :func:`gcg_suffix_attack` optimises one universal token suffix against the
  bag-of-embeddings "refusal" classifier of :func:`refusal_classifier`, with
  greedy coordinate gradients (Zou et al., 2023);
- :func:`watermark_z_score` detects the green-list watermark of Kirchenbauer
  et al. (2023) in text sampled by :func:`sample_tokens` from a toy bigram
  language model (:func:`toy_bigram_lm`).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tmlbook.checks import (
    as_probabilities,
    as_tensor,
    check_int,
    check_matrix,
    check_model,
    check_number,
    check_seed,
)
from tmlbook.models import BagOfEmbeddings

# --------------------------------------------------------------- extraction


class PredictionAPI:
    """Black-box access to a model's ``predict_proba``, counting every query.

    The attacker sees only what a prediction API returns: class probabilities
    for the inputs it sends.  ``queries`` counts the inputs (rows) answered.
    With a ``budget`` the API refuses a request that would exceed it; with
    ``decimals`` it rounds the probabilities it returns, a cheap defence
    discussed by Tramèr et al. (2016).

    Parameters
    ----------
    predict_proba : callable
        Maps an (m, d) float64 tensor to (m, K) class probabilities (a tensor
        or array; scikit-learn's ``predict_proba`` on ``X.numpy()`` works).
    budget : int, optional
        The most queries the API answers in total.
    decimals : int, optional
        Round returned probabilities to this many decimals.

    Shapes
    ------
    ``__call__``: (m, d) -> (m, K) float64 probabilities
    """

    def __init__(
        self,
        predict_proba: Callable,
        budget: int | None = None,
        decimals: int | None = None,
    ):
        if not callable(predict_proba):
            raise TypeError("predict_proba must be callable")
        self.predict_proba = predict_proba
        self.budget = None if budget is None else check_int(budget, "budget", 0)
        self.decimals = None if decimals is None else check_int(decimals, "decimals", 0)
        self.queries = 0

    def __call__(self, X) -> torch.Tensor:
        X = check_matrix(as_tensor(X, "X", torch.float64), "X", "(m, d)")
        m = X.shape[0]
        if self.budget is not None and self.queries + m > self.budget:
            raise RuntimeError(
                f"query budget exhausted: {self.queries} of {self.budget} queries "
                f"used, {m} more requested"
            )
        self.queries += m
        probs = as_tensor(self.predict_proba(X), "predict_proba(X)", torch.float64)
        probs = as_probabilities(probs, "predict_proba(X)")
        if probs.shape[0] != m:
            raise ValueError(f"the API returned {probs.shape[0]} rows for {m} queries")
        if self.decimals is not None:
            probs = torch.round(probs, decimals=self.decimals)
        return probs


def extract_logistic(
    api: Callable, d: int, queries: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Steal a binary logistic model from its probabilities with d + 1 queries.

    For a logistic model p(x) = sigma(w^T x + b) every answer gives one linear
    equation in the d + 1 unknowns (w, b)::

        log p(x) - log(1 - p(x)) = w^T x + b,

    so d + 1 affinely independent queries determine (w, b) exactly: the
    equation-solving attack of Tramèr et al. (2016).  The default queries are
    the origin and the d unit vectors, so that b = logit p(0) and
    w_i = logit p(e_i) - b.

    Parameters
    ----------
    api : callable
        Maps (m, d) inputs to (m, 2) probabilities, column 1 for the positive
        class (a :class:`PredictionAPI`, which counts the queries).
    d : int
        The number of input features.
    queries : torch.Tensor, shape (d + 1, d), optional
        Query points; rows must be affinely independent.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        w of shape (d,) and b of shape (), float64.

    Raises
    ------
    ValueError
        If the queries are degenerate, or an answer is 0 or 1 (its logit is
        infinite: the model is saturated there, or the API rounds).
    """
    d = check_int(d, "d")
    if queries is None:
        queries = torch.cat([torch.zeros(1, d), torch.eye(d)]).double()
    queries = check_matrix(as_tensor(queries, "queries", torch.float64), "queries")
    if queries.shape != (d + 1, d):
        raise ValueError(
            f"queries must have shape (d + 1, d) = ({d + 1}, {d}), "
            f"got {tuple(queries.shape)}"
        )
    A = torch.cat([queries, torch.ones(d + 1, 1, dtype=torch.float64)], dim=1)
    if torch.linalg.matrix_rank(A) < d + 1:
        raise ValueError("queries must be affinely independent (rank d + 1)")
    probs = as_tensor(api(queries), "api(queries)", torch.float64)
    if probs.shape != (d + 1, 2):
        raise ValueError(
            f"api must return (m, 2) binary probabilities, got {tuple(probs.shape)}"
        )
    if ((probs <= 0) | (probs >= 1)).any():
        raise ValueError(
            "the API answered a probability of exactly 0 or 1, whose logit is "
            "infinite: query points nearer the decision boundary"
        )
    logits = torch.log(probs[:, 1]) - torch.log(probs[:, 0])
    theta = torch.linalg.solve(A, logits)
    return theta[:d], theta[d]


# ------------------------------------------------- the refusal classifier

#: The vocabulary of the toy "refusal" classifier: 100 whole-word tokens.
REFUSAL_VOCAB: tuple[str, ...] = (
    # 0-19: words that make a request harmful
    "bomb", "poison", "weapon", "explosive", "malware", "virus", "hack", "steal",
    "launder", "counterfeit", "stalk", "threaten", "ransomware", "phishing",
    "overdose", "arson", "smuggle", "forge", "sabotage", "exploit",
    # 20-49: benign topics
    "recipe", "garden", "poem", "essay", "math", "history", "travel", "music",
    "python", "budget", "resume", "story", "physics", "chess", "yoga", "coffee",
    "bread", "birthday", "letter", "song", "painting", "bicycle", "planet",
    "language", "email", "holiday", "puppy", "soup", "movie", "novel",
    # 50-74: request words
    "how", "to", "make", "a", "the", "for", "me", "please", "write", "explain",
    "give", "tell", "about", "can", "you", "i", "want", "best", "way", "quickly",
    "step", "by", "detailed", "guide", "my",
    # 75-99: rare tokens, seldom seen in requests
    "!!", "}", "describing", "similarly", "oppositely", "revert", "sure", "here",
    "is", "\\", "==", "(", ")", "[", "]", "##", "...", "now", "ok", "tutorial",
    "manual", "**", "<s>", "--", ";",
)  # fmt: skip
HARMFUL = range(0, 20)
TOPICS = range(20, 50)
REQUEST = range(50, 75)
RARE = range(75, 100)
COMPLY, REFUSE = 0, 1


def _check_tokens(tokens, vocab_size: int, name: str) -> torch.Tensor:
    """A 1-D int64 tensor of token ids in [0, vocab_size)."""
    t = as_tensor(tokens, name)
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of token ids")
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {t.dtype}")
    if int(t.min()) < 0 or int(t.max()) >= vocab_size:
        raise ValueError(
            f"{name} holds token ids outside [0, {vocab_size}): "
            f"min {int(t.min())}, max {int(t.max())}"
        )
    return t.long()


def _check_prompts(prompts, vocab_size: int) -> list[torch.Tensor]:
    if isinstance(prompts, np.ndarray | torch.Tensor) and prompts.ndim == 2:
        prompts = list(torch.as_tensor(prompts))
    if not isinstance(prompts, Sequence | torch.Tensor) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of token-id sequences")
    return [
        _check_tokens(p, vocab_size, f"prompts[{i}]") for i, p in enumerate(prompts)
    ]


def bags_of_tokens(prompts, vocab_size: int, suffix=None) -> torch.Tensor:
    """Token frequencies of each prompt (with ``suffix`` appended).

    Parameters
    ----------
    prompts : list of 1-D int sequences (lengths may differ), or (n, L) ints
    vocab_size : int
    suffix : 1-D int sequence of length m, optional

    Returns
    -------
    torch.Tensor, shape (n, vocab_size), float32; rows sum to 1
    """
    vocab_size = check_int(vocab_size, "vocab_size")
    prompts = _check_prompts(prompts, vocab_size)
    if suffix is not None:
        suffix = _check_tokens(suffix, vocab_size, "suffix")
        prompts = [torch.cat([p, suffix]) for p in prompts]
    bags = torch.stack(
        [torch.bincount(p, minlength=vocab_size).float() / len(p) for p in prompts]
    )
    return bags


def refusal_prompts(n: int, harmful: bool, seed: int = 0) -> list[torch.Tensor]:
    """Generate ``n`` requests for the refusal classifier (deterministic).

    A request has 2-5 request words, 1-2 topic words and, if ``harmful``, 1-2
    harmful words, in random order; one in ten requests also contains a rare
    token.  Benign and harmful requests share everything but the harmful
    words.

    Parameters
    ----------
    n : int
    harmful : bool
    seed : int

    Returns
    -------
    list of torch.Tensor
        ``n`` int64 token-id sequences, of lengths 3-8 (benign) or 4-10
        (harmful).
    """
    n = check_int(n, "n")
    rng = np.random.default_rng([check_seed(seed), int(bool(harmful))])
    prompts = []
    for _ in range(n):
        parts = [
            rng.choice(REQUEST, size=rng.integers(2, 6)),
            rng.choice(TOPICS, size=rng.integers(1, 3)),
        ]
        if harmful:
            parts.append(rng.choice(HARMFUL, size=rng.integers(1, 3)))
        if rng.random() < 0.1:
            parts.append(rng.choice(RARE, size=1))
        tokens = rng.permutation(np.concatenate(parts))
        prompts.append(torch.from_numpy(tokens.astype(np.int64)))
    return prompts


@functools.lru_cache(maxsize=4)
def _trained_refusal_classifier(seed: int) -> BagOfEmbeddings:
    from tmlbook.training import fit

    benign = refusal_prompts(1000, harmful=False, seed=seed)
    harmful = refusal_prompts(1000, harmful=True, seed=seed)
    bags = bags_of_tokens(benign + harmful, len(REFUSAL_VOCAB))
    labels = torch.tensor([COMPLY] * len(benign) + [REFUSE] * len(harmful))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BagOfEmbeddings(len(REFUSAL_VOCAB))
    fit(
        model, bags, labels, epochs=30, lr=1e-2, seed=seed, device="cpu", progress=False
    )
    return model.eval()


def refusal_classifier(seed: int = 0) -> BagOfEmbeddings:
    """The toy "refusal" classifier: refuse a request iff it looks harmful.

    A :class:`~tmlbook.models.BagOfEmbeddings` over ``REFUSAL_VOCAB``, trained (with
    :func:`tmlbook.training.fit`, on the CPU, in a few seconds) on 1000
    benign and 1000 harmful requests from :func:`refusal_prompts`.  The model
    is trained once per seed and cached; each call returns a fresh copy.

    Returns
    -------
    BagOfEmbeddings
        In evaluation mode, on the CPU; class 0 = comply, class 1 = refuse.
    """
    return copy.deepcopy(_trained_refusal_classifier(check_seed(seed)))


def decode(tokens) -> str:
    """The words of a token-id sequence of the refusal vocabulary."""
    tokens = _check_tokens(tokens, len(REFUSAL_VOCAB), "tokens")
    return " ".join(REFUSAL_VOCAB[int(t)] for t in tokens)


# ------------------------------------------------------------------ GCG


def _vocab_size(model) -> int:
    check_model(model)
    size = getattr(model, "vocab_size", None)
    if not isinstance(size, int) or size < 1:
        raise TypeError(
            "model must map bags of token frequencies (n, V) to logits and have "
            "an integer attribute vocab_size (e.g. BagOfEmbeddings)"
        )
    return size


def _prompt_counts(prompts, vocab_size: int, device) -> tuple[torch.Tensor, ...]:
    counts = torch.stack([torch.bincount(p, minlength=vocab_size) for p in prompts])
    lengths = torch.tensor([len(p) for p in prompts])
    return counts.to(device, torch.float32), lengths.to(device, torch.float32)


def suffix_loss(model, prompts, suffixes, target: int = COMPLY) -> torch.Tensor:
    """The universal-suffix loss of each candidate suffix, evaluated exactly.

    loss(s) = mean over prompts p of CE(model(bag(p + s)), target): small when
    every prompt followed by the suffix s is classified as ``target``.

    Parameters
    ----------
    model : nn.Module
        Maps bags (n, V) to logits (n, K); has ``vocab_size`` = V.
    prompts : list of 1-D int sequences, or (n, L) ints
    suffixes : torch.Tensor, shape (B, m) or (m,), token ids
    target : int
        The class the attacker wants (0 = comply).

    Returns
    -------
    torch.Tensor, shape (B,) (or () for one suffix), float32, on the CPU
    """
    vocab_size = _vocab_size(model)
    prompts = _check_prompts(prompts, vocab_size)
    s = as_tensor(suffixes, "suffixes")
    single = s.dim() == 1
    s = s[None] if single else s
    if s.dim() != 2 or s.shape[1] == 0:
        raise ValueError(f"suffixes must have shape (B, m), got {tuple(s.shape)}")
    for i, row in enumerate(s):
        _check_tokens(row, vocab_size, f"suffixes[{i}]")
    device, _ = check_model(model)
    counts, lengths = _prompt_counts(prompts, vocab_size, device)
    with torch.no_grad():
        losses = _candidate_losses(model, counts, lengths, s.long().to(device), target)
    losses = losses.cpu()
    return losses[0] if single else losses


def _candidate_losses(model, counts, lengths, suffixes, target) -> torch.Tensor:
    """Exact losses of B suffixes (B, m) on n prompts: (B,)."""
    vocab_size = counts.shape[1]
    b, m = suffixes.shape
    s_counts = F.one_hot(suffixes, vocab_size).sum(1).float()  # (B, V)
    bags = (counts[None] + s_counts[:, None]) / (lengths[None, :, None] + m)
    logits = model(bags.reshape(-1, vocab_size)).reshape(b, counts.shape[0], -1)
    targets = torch.full(logits.shape[:2], target, device=logits.device)
    return F.cross_entropy(logits.transpose(1, 2), targets, reduction="none").mean(1)


@dataclass(frozen=True)
class SuffixAttackResult:
    """What :func:`gcg_suffix_attack` found.

    Attributes
    ----------
    suffix : torch.Tensor, shape (m,), int64 -- the best suffix
    losses : np.ndarray, shape (n_iters + 1,) -- the loss before each iteration
        and after the last one; never increasing
    n_evaluated : int -- candidate suffixes evaluated exactly
    """

    suffix: torch.Tensor
    losses: np.ndarray
    n_evaluated: int


def gcg_suffix_attack(
    model: nn.Module,
    prompts,
    suffix_length: int = 5,
    n_iters: int = 200,
    top_k: int = 16,
    batch_size: int = 128,
    target: int = COMPLY,
    allowed_tokens=None,
    init_suffix=None,
    seed: int = 0,
) -> SuffixAttackResult:
    """Greedy coordinate gradient (GCG) search for one universal token suffix.

    The suffix is a sequence of m one-hot vectors e_1..e_m.  Each iteration
    (Zou et al., 2023, Algorithm 1 with a universal loss over many prompts):

    1. the gradient g_i = d loss / d e_i of the loss with respect to every
       one-hot suffix token (V numbers per position);
    2. for each position i, the ``top_k`` tokens with the most negative g_i:
       the substitutions that the linearised loss likes best;
    3. ``batch_size`` candidates, each the current suffix with one random
       position replaced by one of its top-k tokens, chosen at random;
    4. the exact loss of every candidate (:func:`suffix_loss`); the best one
       replaces the current suffix *if it is better* (Zou et al. take it even
       when it is worse; keeping the current suffix makes the loss
       non-increasing).

    The gradient only ranks candidates; every decision uses exact losses,
    which is why GCG works on discrete tokens where plain gradient descent
    on the one-hot vectors does not.

    Parameters
    ----------
    model : nn.Module
        Maps bags of token frequencies (n, V) to logits (n, K) and has an
        attribute ``vocab_size`` = V (e.g. :class:`~tmlbook.models.BagOfEmbeddings`).
    prompts : list of 1-D int sequences, or (n, L) ints
        The prompts that one suffix must make the model classify as
        ``target``.
    suffix_length : int
        m, the number of suffix tokens.
    n_iters, top_k, batch_size : int
        Iterations, candidate tokens per position, candidates per iteration.
    target : int
        The class the attacker wants (0 = comply).
    allowed_tokens : 1-D int sequence, optional
        The tokens the suffix may use (default: the whole vocabulary).
    init_suffix : 1-D int sequence of length m, optional
        Default: m allowed tokens drawn at random (seeded).
    seed : int
        Seeds the initial suffix and the random choice of candidates.

    Returns
    -------
    SuffixAttackResult
    """
    vocab_size = _vocab_size(model)
    prompts = _check_prompts(prompts, vocab_size)
    m = check_int(suffix_length, "suffix_length")
    n_iters = check_int(n_iters, "n_iters", 0)
    batch_size = check_int(batch_size, "batch_size")
    device, _ = check_model(model)
    if allowed_tokens is None:
        allowed = torch.arange(vocab_size)
    else:
        allowed = torch.unique(
            _check_tokens(allowed_tokens, vocab_size, "allowed_tokens")
        )
    top_k = min(check_int(top_k, "top_k"), len(allowed))
    gen = torch.Generator().manual_seed(check_seed(seed))
    if init_suffix is None:
        suffix = allowed[torch.randint(len(allowed), (m,), generator=gen)]
    else:
        suffix = _check_tokens(init_suffix, vocab_size, "init_suffix")
        if len(suffix) != m:
            raise ValueError(f"init_suffix has {len(suffix)} tokens, not {m}")
        if not torch.isin(suffix, allowed).all():
            raise ValueError("init_suffix uses tokens outside allowed_tokens")
    n_classes = int(model(torch.zeros(1, vocab_size, device=device)).shape[1])
    if isinstance(target, bool) or not 0 <= int(target) < n_classes:
        raise ValueError(f"target must be a class index in [0, {n_classes})")
    counts, lengths = _prompt_counts(prompts, vocab_size, device)
    blocked = torch.ones(vocab_size, dtype=torch.bool, device=device)
    blocked[allowed.to(device)] = False
    suffix = suffix.to(device)
    was_training = model.training
    model.eval()
    params = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            best = float(
                _candidate_losses(model, counts, lengths, suffix[None], target)
            )
        losses, n_evaluated = [best], 0
        for _ in range(n_iters):
            one_hot = F.one_hot(suffix, vocab_size).float().requires_grad_(True)
            with torch.enable_grad():
                bags = (counts + one_hot.sum(0)) / (lengths[:, None] + m)
                targets = torch.full((len(prompts),), target, device=device)
                F.cross_entropy(model(bags), targets).backward()
            grad = one_hot.grad.masked_fill(blocked, float("inf"))  # (m, V)
            top = (-grad).topk(top_k, dim=1).indices  # (m, k)
            pos = torch.randint(m, (batch_size,), generator=gen).to(device)
            pick = torch.randint(top_k, (batch_size,), generator=gen).to(device)
            candidates = suffix.repeat(batch_size, 1)
            candidates[torch.arange(batch_size, device=device), pos] = top[pos, pick]
            with torch.no_grad():
                cand = _candidate_losses(model, counts, lengths, candidates, target)
            n_evaluated += batch_size
            i = int(cand.argmin())
            if float(cand[i]) < best:
                best, suffix = float(cand[i]), candidates[i].clone()
            losses.append(best)
    finally:
        for p, flag in zip(model.parameters(), params, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
    return SuffixAttackResult(suffix.cpu(), np.array(losses), n_evaluated)


@torch.no_grad()
def refusals(model: nn.Module, prompts, suffix=None) -> torch.Tensor:
    """Which prompts (each followed by ``suffix``) the classifier refuses.

    Parameters
    ----------
    model : nn.Module
        Maps bags (n, V) to logits (n, 2); class 1 = refuse.
    prompts : list of 1-D int sequences, or (n, L) ints
    suffix : 1-D int sequence, optional

    Returns
    -------
    torch.Tensor, shape (n,), bool
    """
    vocab_size = _vocab_size(model)
    device, _ = check_model(model)
    bags = bags_of_tokens(prompts, vocab_size, suffix).to(device)
    return (model(bags).argmax(1) == REFUSE).cpu()


# ------------------------------------------------------------ watermarks


@dataclass(frozen=True)
class BigramLM:
    """A toy bigram language model: next-token logits given the previous token.

    Attributes
    ----------
    logits : np.ndarray, shape (V, V) -- ``logits[a, b]``: the logit of token b
        after token a
    """

    logits: np.ndarray

    @property
    def vocab_size(self) -> int:
        return self.logits.shape[0]


def toy_bigram_lm(
    vocab_size: int = 500, temperature: float = 1.0, seed: int = 0
) -> BigramLM:
    """A random bigram model whose next-token distributions vary in entropy.

    ``logits[a] = z_a / (temperature * u_a)``, with z_a ~ N(0, I) and a
    per-context sharpness u_a ~ Uniform(0.4, 1.2): some contexts are nearly
    uniform, others concentrated on a few tokens, as in real text.  A lower
    ``temperature`` gives lower-entropy text.

    Returns
    -------
    BigramLM
    """
    vocab_size = check_int(vocab_size, "vocab_size", 2)
    temperature = check_number(temperature, "temperature", positive=True)
    rng = np.random.default_rng(check_seed(seed))
    z = rng.standard_normal((vocab_size, vocab_size))
    u = rng.uniform(0.4, 1.2, size=(vocab_size, 1))
    return BigramLM(z / (temperature * u))


def green_lists(vocab_size: int, gamma: float = 0.25, key: int = 42) -> np.ndarray:
    """The green list after every possible previous token.

    Row a is the green list used right after token a: ``round(gamma * V)``
    tokens drawn by a random permutation seeded with (key, a), the hash of
    the previous token that Kirchenbauer et al. (2023) use.  Whoever knows
    ``key`` can recompute it; nobody else can.

    Returns
    -------
    np.ndarray, shape (V, V), bool; every row has round(gamma * V) True entries
    """
    vocab_size = check_int(vocab_size, "vocab_size", 2)
    gamma = _check_gamma(gamma)
    key = check_seed(key)
    n_green = round(gamma * vocab_size)
    green = np.zeros((vocab_size, vocab_size), dtype=bool)
    for a in range(vocab_size):
        perm = np.random.default_rng([key, a]).permutation(vocab_size)
        green[a, perm[:n_green]] = True
    return green


def _check_gamma(gamma) -> float:
    gamma = check_number(gamma, "gamma", positive=True)
    if gamma >= 1:
        raise ValueError(f"gamma (the green fraction) must lie in (0, 1), got {gamma}")
    return gamma


def sample_tokens(
    lm: BigramLM,
    n_sequences: int,
    length: int,
    watermark: bool = False,
    delta: float = 2.0,
    gamma: float = 0.25,
    key: int = 42,
    seed: int = 0,
) -> np.ndarray:
    """Sample token sequences from a bigram model, with or without a watermark.

    Each sequence starts with a uniformly random prompt token s_0; every next
    token s_t is drawn from softmax(logits[s_{t-1}] + delta * green[s_{t-1}])
    with the "soft" watermark (Kirchenbauer et al., 2023), or from
    softmax(logits[s_{t-1}]) without it.

    Parameters
    ----------
    lm : BigramLM
    n_sequences, length : int
        How many sequences, and T, the generated tokens in each.
    watermark : bool
    delta : float
        The bias added to green logits.
    gamma : float
        The green fraction of the vocabulary.
    key : int
        The secret key of the green lists.
    seed : int
        Seeds the sampling.

    Returns
    -------
    np.ndarray, shape (n_sequences, length + 1), int64; column 0 is s_0
    """
    if not isinstance(lm, BigramLM):
        raise TypeError(f"lm must be a BigramLM, got {type(lm).__name__}")
    n = check_int(n_sequences, "n_sequences")
    length = check_int(length, "length")
    delta = check_number(delta, "delta")
    vocab_size = lm.vocab_size
    logits = lm.logits
    if watermark:
        logits = logits + delta * green_lists(vocab_size, gamma, key)
    cdf = np.cumsum(np.exp(logits - logits.max(1, keepdims=True)), axis=1)
    cdf /= cdf[:, -1:]
    rng = np.random.default_rng(check_seed(seed))
    tokens = np.empty((n, length + 1), dtype=np.int64)
    tokens[:, 0] = rng.integers(vocab_size, size=n)
    for t in range(1, length + 1):
        u = rng.random((n, 1))
        rows = cdf[tokens[:, t - 1]]
        tokens[:, t] = np.minimum((rows < u).sum(1), vocab_size - 1)
    return tokens


def watermark_z_score(
    tokens, vocab_size: int, gamma: float = 0.25, key: int = 42
) -> np.ndarray:
    """The green-list z-test of Kirchenbauer et al. (2023).

    Token s_t (t = 1..T) is green if it lies in the green list seeded by
    s_{t-1}.  Without the watermark each token is green with probability
    gamma, so the number of green tokens n_G is about Binomial(T, gamma) and
    ::

        z = (n_G - gamma T) / sqrt(T gamma (1 - gamma))

    is approximately standard normal; a watermarked text has far more green
    tokens.  Detect a watermark when z exceeds a threshold (4 in the paper).

    Parameters
    ----------
    tokens : array, shape (T + 1,) or (n, T + 1), int, T >= 1
        Column 0 is the prompt token s_0, which is not scored.
    vocab_size : int
    gamma : float
    key : int
        The secret key of the green lists (:func:`green_lists`).

    Returns
    -------
    np.ndarray, shape (n,) (or a float for one sequence)
    """
    tokens = np.asarray(tokens)
    single = tokens.ndim == 1
    tokens = tokens[None] if single else tokens
    if tokens.ndim != 2 or tokens.shape[1] < 2:
        raise ValueError(
            f"tokens must have shape (T + 1,) or (n, T + 1) with T >= 1, "
            f"got {tokens.shape}"
        )
    if not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(f"tokens must hold integer token ids, got {tokens.dtype}")
    vocab_size = check_int(vocab_size, "vocab_size", 2)
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise ValueError(f"tokens must lie in [0, {vocab_size})")
    gamma = _check_gamma(gamma)
    green = green_lists(vocab_size, gamma, key)
    n_green = green[tokens[:, :-1], tokens[:, 1:]].sum(1)
    T = tokens.shape[1] - 1
    z = (n_green - gamma * T) / math.sqrt(T * gamma * (1 - gamma))
    return float(z[0]) if single else z
