"""Does the help centre cover this question? Decided from the retrieved evidence before any text is
generated, so an uncovered question gets an honest "not covered" instead of a guess.

    score = dense + 0.362 * bigrams        answer when score >= threshold (default 0.60)

  dense: the best cosine between the question and any chunk of the top-3 articles (computed by
        retrieval anyway, so the decision costs no model call);
  bigrams: the share of the question's adjacent word pairs (not both stop words) that also occur
        adjacently in the top hit's chunk, title and headings included.
The two features and their ratio come from a logistic fit with 5-fold cross-validation on
../shared/data/eval/or-sharc-dev-unanswerable; the default threshold balances that set against the
conversational sample set (bench/data/cadence-conversations); 0.66 is the strict setting
(README, Answer quality).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.text import STOPWORDS
from bot.types import Confidence
from knowledge.documents import with_heading
from knowledge.lexical import tokenize
from knowledge.retrieval import Hit


@dataclass(frozen=True)
class Coverage:
    covered: bool
    score: float  # dense + w_bigrams * bigrams
    confidence: Confidence
    features: dict[str, float]


def bigram_coverage(question: str, chunk: str) -> float:
    q, c = tokenize(question), tokenize(chunk)
    pairs = {p for p in zip(q, q[1:], strict=False) if not (p[0] in STOPWORDS and p[1] in STOPWORDS)}
    if not pairs:
        return 1.0
    return len(pairs & set(zip(c, c[1:], strict=False))) / len(pairs)


@dataclass(frozen=True)
class CoveragePolicy:
    w_bigrams: float = 0.362
    threshold: float = 0.60
    high: float = 0.80  # at or above: high confidence
    top_n: int = 3

    def features(self, question: str, hits: Sequence[Hit]) -> dict[str, float]:
        top = hits[0]
        return {
            "dense": round(max(h.doc_dense for h in hits[: self.top_n]), 4),
            "bigrams": round(bigram_coverage(question, with_heading(top.title, top.headings, top.text)), 4),
        }

    def decide(self, question: str, hits: Sequence[Hit]) -> Coverage:
        if not hits:
            return Coverage(False, 0.0, Confidence.LOW, {"dense": 0.0, "bigrams": 0.0})
        f = self.features(question, hits)
        score = round(f["dense"] + self.w_bigrams * f["bigrams"], 4)
        if score < self.threshold:
            return Coverage(False, score, Confidence.LOW, f)
        return Coverage(True, score, Confidence.HIGH if score >= self.high else Confidence.MEDIUM, f)
