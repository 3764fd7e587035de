"""Answer-level evaluation (`supportbot eval --answers`): does the engine answer what the help centre
covers, decline what it does not, and cite a gold document when it answers?"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from bot.engine import AnswerEngine
from bot.types import Turn
from knowledge.evaluation import EvalSet, percentile


def evaluate_answers(
    evalset: EvalSet,
    engine: AnswerEngine,
    *,
    use_history: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float | int | None]:
    """abstain_recall: unanswerable questions declined; answer_rate: answerable ones answered;
    cited_gold_rate: answered ones (with qrels) citing a gold document; latency percentiles."""
    report = progress or (lambda *_: None)
    answerable = answered = with_gold = cited_gold = unanswerable = declined = 0
    latencies: list[float] = []
    for n, q in enumerate(evalset.queries, 1):
        history = [Turn(role, text) for role, text in q.history] if use_history else []
        t0 = time.perf_counter()
        a = engine.answer(q.text, history=history)
        latencies.append((time.perf_counter() - t0) * 1000)
        if q.answerable:
            answerable += 1
            answered += not a.abstained
            gold = evalset.qrels.get(q.qid)
            if gold and not a.abstained:
                with_gold += 1
                cited_gold += any(c.doc_id in gold for c in a.citations)
        else:
            unanswerable += 1
            declined += a.abstained
        report("answer", n, len(evalset.queries))
    return {
        "abstain_recall": round(declined / unanswerable, 4) if unanswerable else None,
        "answer_rate": round(answered / answerable, 4) if answerable else None,
        "cited_gold_rate": round(cited_gold / with_gold, 4) if with_gold else None,
        "answer_p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
        "answer_p95_ms": round(percentile(latencies, 95), 2),
        "n_answerable": answerable,
        "n_unanswerable": unanswerable,
    }
