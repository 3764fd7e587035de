"""Does the help centre cover this question? Decided from the retrieved evidence before any text is
generated, so an uncovered question gets an honest "not covered" instead of a guess.

    score = sent + 0.362 * bigrams        answer when score >= threshold (default 0.60)

  sent: the best cosine between the question and a sentence of the top-3 hits (each hit's chunk with
        its neighbours); only sentences sharing a content word with the question are embedded (at
        most 4, cached): one extra model call of about two query embeddings' time;
  bigrams: the share of the question's adjacent word pairs (not both stop words) that also occur
        adjacently in the top hit's chunk, title and headings included.
The features and their ratio come from a logistic fit with 5-fold cross-validation on
../shared/data/eval/or-sharc-dev-unanswerable; the default threshold balances that set against the
conversational sample set (bench/data/cadence-conversations); 0.72 is the strict setting
(README, Answer quality).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bot.text import STOPWORDS, content_terms
from bot.types import Confidence
from knowledge.lexical import tokenize
from knowledge.retrieval import Hit

_SENTENCE = re.compile(r"(?<=[.!?:])\s+|\n+")


class SentenceEmbedder(Protocol):
    def encode_query(self, text: str) -> np.ndarray: ...

    def encode_cached(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Coverage:
    covered: bool
    score: float  # sent + w_bigrams * bigrams
    confidence: Confidence
    features: dict[str, float]


def bigram_coverage(question: str, chunk: str) -> float:
    q, c = tokenize(question), tokenize(chunk)
    pairs = {p for p in zip(q, q[1:], strict=False) if not (p[0] in STOPWORDS and p[1] in STOPWORDS)}
    if not pairs:
        return 1.0
    return len(pairs & set(zip(c, c[1:], strict=False))) / len(pairs)


def candidate_sentences(question: str, hits: Sequence[Hit], *, limit: int = 4) -> list[str]:
    """Sentences of the top chunks that share a content word with the question, most shared first."""
    q = set(content_terms(question))
    scored: list[tuple[int, int, str]] = []
    firsts: list[str] = []
    for h in hits:
        parts = [p.strip(" #*\t") for p in _SENTENCE.split(h.answer_text)]
        parts = [p for p in parts if len(p) >= 3]
        if parts:
            firsts.append(parts[0])
        for p in parts:
            shared = len(q & set(content_terms(p)))
            if shared:
                scored.append((-shared, len(scored), p))
    chosen = [p for _, _, p in sorted(scored)[:limit]]
    return chosen or firsts[:limit]


@dataclass(frozen=True)
class CoveragePolicy:
    w_bigrams: float = 0.362
    threshold: float = 0.60
    high: float = 0.80  # at or above: high confidence
    top_n: int = 3

    def features(self, question: str, hits: Sequence[Hit], embedder: SentenceEmbedder) -> dict[str, float]:
        top = list(hits[: self.top_n])
        sentences = candidate_sentences(question, top)
        sent = 0.0
        if sentences:
            sent = float((embedder.encode_cached(sentences) @ embedder.encode_query(question)).max())
        head = " > ".join(x for x in (top[0].title, top[0].headings) if x)
        bigrams = bigram_coverage(question, f"{head}\n{top[0].text}")
        return {"sent": round(sent, 4), "bigrams": round(bigrams, 4)}

    def decide(self, question: str, hits: Sequence[Hit], embedder: SentenceEmbedder) -> Coverage:
        if not hits:
            return Coverage(False, 0.0, Confidence.LOW, {"sent": 0.0, "bigrams": 0.0})
        f = self.features(question, hits, embedder)
        score = round(f["sent"] + self.w_bigrams * f["bigrams"], 4)
        if score < self.threshold:
            return Coverage(False, score, Confidence.LOW, f)
        return Coverage(True, score, Confidence.HIGH if score >= self.high else Confidence.MEDIUM, f)
