"""L12 -- uncertainty for language models, on a small generated QA dataset.

No model is downloaded: :func:`make_qa_dataset` generates, deterministically,
questions with M sampled answers each, the meaning behind every answer, a
pairwise entailment table (what an NLI model would say) and a verbalised
confidence string.  Estimators are then scored as in L10: AUROC for telling
right from wrong answers, AUARC for selective answering.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from tmlbook.checks import as_tensor
from tmlbook.scoring import risk_coverage

_CITIES = [
    "Paris", "Lyon", "Berlin", "Munich", "Rome", "Milan", "Madrid", "Seville",
    "Vienna", "Graz", "Lisbon", "Porto", "Oslo", "Bergen", "Prague", "Brno",
]  # fmt: skip
_TEMPLATES = ["{e}", "It is {e}.", "I think the answer is {e}.", "{e}, I believe."]
_CONF = re.compile(r"confidence\s*:\s*(\d{1,3}(?:\.\d+)?)\s*%", re.IGNORECASE)


@dataclass(frozen=True)
class QADataset:
    """Generated question-answering records (n questions, M samples each).

    Attributes
    ----------
    questions : list of str, length n
    answers : list of list of str, n x M sampled answers
    meanings : np.ndarray (n, M) int -- the meaning of each answer (0 = correct)
    entails : np.ndarray (n, M, M) bool -- entails[q, i, j]: answer i entails j
    greedy_correct : np.ndarray (n,) bool -- is the model's main answer right
    verbalised : list of str -- the model's stated confidence, free text
    knowledge : np.ndarray (n,) -- the latent probability of the right meaning
    """

    questions: list[str]
    answers: list[list[str]]
    meanings: np.ndarray
    entails: np.ndarray
    greedy_correct: np.ndarray
    verbalised: list[str]
    knowledge: np.ndarray


def make_qa_dataset(
    n_questions: int = 200, n_samples: int = 10, seed: int = 0
) -> QADataset:
    """Generate the QA dataset of the chapter (deterministic given ``seed``).

    Each question has a latent knowledge level kappa ~ Beta(2, 1.2): the
    sampling probability of the right meaning.  The rest of the mass goes to
    up to three wrong meanings.  Every answer is worded with one of four
    templates, so *strings* differ far more often than *meanings* do.  The
    entailment table is "same meaning", except that about 5 % of pairs get a
    spurious one-way entailment (bidirectional checking removes them).  The
    greedy answer is the most probable meaning; the verbalised confidence is
    an over-confident, noisy function of kappa rounded to 5 %, and about 5 % of
    the strings are malformed.
    """
    if n_questions < 1 or n_samples < 2:
        raise ValueError("need n_questions >= 1 and n_samples >= 2")
    rng = np.random.default_rng(seed)
    n, m = n_questions, n_samples
    knowledge = rng.beta(2.0, 1.2, size=n)
    meanings = np.zeros((n, m), dtype=np.int64)
    entails = np.zeros((n, m, m), dtype=bool)
    greedy = np.zeros(n, dtype=bool)
    answers, questions, verbal = [], [], []
    for q in range(n):
        wrong = rng.dirichlet(np.ones(3)) * (1 - knowledge[q])
        dist = np.concatenate([[knowledge[q]], wrong])
        meanings[q] = rng.choice(4, size=m, p=dist)
        greedy[q] = int(np.argmax(dist)) == 0
        ents = rng.choice(len(_CITIES), size=4, replace=False)
        forms = rng.integers(0, len(_TEMPLATES), size=m)
        answers.append(
            [
                _TEMPLATES[f].format(e=_CITIES[ents[k]])
                for k, f in zip(meanings[q], forms, strict=True)
            ]
        )
        same = meanings[q][:, None] == meanings[q][None, :]
        spurious = rng.random((m, m)) < 0.05
        entails[q] = same | spurious
        questions.append(f"Question {q}: which city is meant by clue #{q}?")
        stated = min(1.0, 0.72 + 0.3 * knowledge[q] + rng.normal(0, 0.15))
        stated = 5 * round(20 * max(stated, 0.0))  # people and LLMs say 80 %, 85 %
        r = rng.random()
        if r < 0.03:
            verbal.append("I am fairly sure about this one.")
        elif r < 0.05:
            verbal.append(f"Confidence: {stated + 100}%")
        else:
            verbal.append(f"Answer given. Confidence: {stated}%")
    return QADataset(questions, answers, meanings, entails, greedy, verbal, knowledge)


def parse_confidence(text: str) -> float:
    """Parse "Confidence: NN%" into NN / 100.

    Rule for malformed input: no match, or a value above 100, gives NaN (the
    caller decides how to treat it; the chapter replaces NaN by the mean of
    the parsed values).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    match = _CONF.search(text)
    if match is None:
        return math.nan
    value = float(match.group(1))
    return value / 100 if value <= 100 else math.nan


def semantic_clusters(entails) -> np.ndarray:
    """Cluster M answers by *bidirectional* entailment (Kuhn et al. 2023).

    Answer i joins the cluster of the first earlier cluster representative j
    with entails[i, j] and entails[j, i]; otherwise it opens a new cluster.

    Parameters
    ----------
    entails : (M, M) bool

    Returns
    -------
    np.ndarray, shape (M,), cluster ids 0, 1, ... in order of first appearance
    """
    e = np.asarray(entails)
    if e.ndim != 2 or e.shape[0] != e.shape[1] or e.dtype != bool:
        raise ValueError("entails must be a square bool matrix (M, M)")
    reps: list[int] = []
    ids = np.empty(e.shape[0], dtype=np.int64)
    for i in range(e.shape[0]):
        for c, j in enumerate(reps):
            if e[i, j] and e[j, i]:
                ids[i] = c
                break
        else:
            ids[i] = len(reps)
            reps.append(i)
    return ids


def semantic_entropy(entails, log_probs=None) -> float:
    """Entropy (nats) over meaning clusters of M sampled answers.

    Without ``log_probs`` this is the discrete estimator (cluster frequencies,
    Farquhar et al. 2024); with the M sequence log-probabilities, cluster
    probabilities are the normalised sums of exp(log_probs) (Kuhn et al. 2023).
    """
    ids = semantic_clusters(entails)
    if log_probs is None:
        w = np.ones(len(ids))
    else:
        lp = as_tensor(log_probs, "log_probs").double().numpy()
        if lp.shape != ids.shape or not np.isfinite(lp).all():
            raise ValueError(f"log_probs must be finite with shape {ids.shape}")
        w = np.exp(lp - lp.max())
    mass = np.bincount(ids, weights=w) / w.sum()
    mass = mass[mass > 0]
    return float(-(mass * np.log(mass)).sum())


def lexical_entropy(answers: list[str]) -> float:
    """Entropy (nats) of the distribution of distinct answer *strings*."""
    _, counts = np.unique(np.asarray(answers), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def auarc(confidence, correct) -> float:
    """Area under the accuracy--rejection curve: mean accuracy over coverages.

    Equals 1 - AURC (:func:`tmlbook.scoring.aurc`); higher is better.
    """
    _, risk = risk_coverage(confidence, correct)
    return float(1 - risk.mean())
