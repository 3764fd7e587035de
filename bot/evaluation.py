"""Answer-level evaluation (`supportbot eval --answers`): does the engine answer what the help centre
covers, decline what it does not, and cite (and lead with) a gold document when it answers?"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.engine import AnswerEngine, Trace
from bot.types import Answer, Turn
from knowledge.evaluation import EvalQuery, EvalSet, percentile


@dataclass(frozen=True)
class Mistake:
    """One question the engine got wrong, with what it decided from (`eval --explain`)."""

    qid: str
    question: str  # as asked
    searched: str  # as searched (a follow-up with its context)
    kind: str  # wrongly_declined | wrongly_answered | led_with_wrong_article
    gold: tuple[str, ...]
    score: float | None  # the coverage score (None when no decision was made)
    features: dict[str, float] = field(default_factory=dict)
    hits: tuple[dict[str, Any], ...] = ()
    cited: tuple[str, ...] = ()
    missing_word: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"qid": self.qid, "question": self.question, "searched": self.searched, "kind": self.kind,
                "gold": list(self.gold), "score": self.score, "features": self.features,
                "top_hits": list(self.hits), "cited": list(self.cited),
                "missing_word": self.missing_word}


def _mistake(q: EvalQuery, kind: str, gold: dict[str, int], answer: Answer, trace: Trace) -> Mistake:
    cov = trace.coverage
    hits = tuple(
        {"doc_id": h.doc_id, "title": h.title, "score": round(h.score, 3), "dense": round(h.doc_dense, 3),
         "gold": h.doc_id in gold}
        for h in trace.hits[:3]
    )
    return Mistake(q.qid, q.text, trace.question, kind, tuple(sorted(gold)), cov.score if cov else None,
                   dict(cov.features) if cov else {}, hits, tuple(c.doc_id for c in answer.citations),
                   cov.missing_word if cov else "")


def evaluate_answers(
    evalset: EvalSet,
    engine: AnswerEngine,
    *,
    use_history: bool = True,
    explain: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """abstain_recall: unanswerable questions declined; answer_rate: answerable ones answered;
    cited_gold_rate: answered ones (with qrels) citing a gold document; lead_gold_rate: answered ones
    whose first citation is a gold document; latency percentiles. With `explain`, `mistakes` lists every
    wrongly declined or wrongly answered question, and every answer led by a non-gold article."""
    report = progress or (lambda *_: None)
    answerable = answered = with_gold = cited_gold = lead_gold = unanswerable = declined = 0
    latencies: list[float] = []
    mistakes: list[Mistake] = []
    for n, q in enumerate(evalset.queries, 1):
        history = [Turn(role, text) for role, text in q.history] if use_history else []
        t0 = time.perf_counter()
        a, trace = engine.answer_traced(q.text, history=history)
        latencies.append((time.perf_counter() - t0) * 1000)
        gold = evalset.qrels.get(q.qid, {})
        kind = ""
        if q.answerable:
            answerable += 1
            answered += not a.abstained
            if a.abstained:
                kind = "wrongly_declined"
            elif gold:
                with_gold += 1
                cited_gold += any(c.doc_id in gold for c in a.citations)
                led = bool(a.citations) and a.citations[0].doc_id in gold
                lead_gold += led
                kind = "" if led else "led_with_wrong_article"
        else:
            unanswerable += 1
            declined += a.abstained
            kind = "" if a.abstained else "wrongly_answered"
        if explain and kind:
            mistakes.append(_mistake(q, kind, gold, a, trace))
        report("answer", n, len(evalset.queries))
    result: dict[str, Any] = {
        "abstain_recall": round(declined / unanswerable, 4) if unanswerable else None,
        "answer_rate": round(answered / answerable, 4) if answerable else None,
        "cited_gold_rate": round(cited_gold / with_gold, 4) if with_gold else None,
        "lead_gold_rate": round(lead_gold / with_gold, 4) if with_gold else None,
        "answer_p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
        "answer_p95_ms": round(percentile(latencies, 95), 2),
        "n_answerable": answerable,
        "n_unanswerable": unanswerable,
    }
    if explain:
        result["mistakes"] = [m.as_dict() for m in mistakes]
    return result
