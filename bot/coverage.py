"""Does the help centre cover this question? Decided from retrieval evidence alone, before any text
is generated, so an uncovered question gets an honest "not covered" instead of a guess.

The rule and its threshold were calibrated on ../shared/data/eval/or-sharc-dev-unanswerable
(README, Answer quality).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.text import content_terms
from bot.types import Confidence
from knowledge.retrieval import Hit


@dataclass(frozen=True)
class Coverage:
    covered: bool
    probability: float
    confidence: Confidence
    features: dict[str, float]


@dataclass(frozen=True)
class CoveragePolicy:
    """A logistic score over two features of the retrieved evidence:
    `dense`: cosine between the question and its best chunk;
    `terms`: share of the question's content words found in the top chunks."""

    intercept: float = -9.0
    w_dense: float = 12.0
    w_terms: float = 3.0
    threshold: float = 0.5
    high: float = 0.85
    top_n: int = 3

    def features(self, question: str, hits: Sequence[Hit]) -> dict[str, float]:
        q = set(content_terms(question))
        found: set[str] = set()
        for h in hits[: self.top_n]:
            found |= q & set(content_terms(f"{h.title} {h.headings} {h.answer_text}"))
        return {
            "dense": max((h.dense for h in hits[: self.top_n]), default=0.0),
            "terms": len(found) / len(q) if q else 0.0,
        }

    def decide(self, question: str, hits: Sequence[Hit]) -> Coverage:
        if not hits:
            return Coverage(False, 0.0, Confidence.LOW, {"dense": 0.0, "terms": 0.0})
        f = self.features(question, hits)
        z = self.intercept + self.w_dense * f["dense"] + self.w_terms * f["terms"]
        p = 1.0 / (1.0 + math.exp(-z))
        covered = p >= self.threshold
        if not covered:
            confidence = Confidence.LOW
        elif p >= self.high:
            confidence = Confidence.HIGH
        else:
            confidence = Confidence.MEDIUM
        return Coverage(covered, round(p, 4), confidence, f)
