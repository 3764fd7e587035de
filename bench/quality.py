"""Answer and retrieval quality of supportbot and the LangChain baseline on the same BEIR sets.

supportbot is measured exactly as `supportbot eval --answers` measures it (`retrieval_metrics` over a
throw-away KB, then `evaluate_answers` with the default extractive engine). The baseline is scored
with the same metric code (`knowledge.evaluation.mean_metrics`) over its document ranking: the
distinct source documents of its chunks, in order (`LangChainBaseline.rank`). Hit@1 is the document
of its top chunk, i.e. the answer it gives; Hit@5 and MRR@10 need ten documents, which its k=4
chunks cannot hold, so they read the same similarity search made deeper (k=40, doubled as needed:
the k=4 list is its prefix). `hit@k4_chunks` is whether a gold document is among the four chunks
the tutorial passes on.

On a conversational set both systems are run with and without the conversation. supportbot folds
the last user turns into the query (its default); the tutorial's first chain has no memory, and the
simple way to add one without an LLM is to prepend the earlier user turns to the question, which is
what the baseline's headline row does. `followup_gain` is with minus without.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.baseline import LangChainBaseline
from bench.progress import Progress, quiet
from bot.engine import AnswerEngine
from bot.evaluation import evaluate_answers
from knowledge.embeddings import MiniLMEmbedder
from knowledge.evaluation import (
    EvalQuery,
    EvalSet,
    mean_metrics,
    percentile,
    retrieval_metrics,
    scored_queries,
    throwaway_kb,
)

HEADLINE = ("hit@1", "hit@5", "mrr@10")
ANSWER_KEYS = ("abstain_recall", "answer_rate")


def is_conversational(evalset: EvalSet) -> bool:
    return any(q.history for q in evalset.queries)


def has_unanswerable(evalset: EvalSet) -> bool:
    return any(not q.answerable for q in evalset.queries)


def trim(evalset: EvalSet, *, queries: int | None = None, docs: int | None = None) -> EvalSet:
    """The first `queries` queries, over their gold documents plus the first `docs` others: a small
    but still meaningful slice for tests and dry runs."""
    qs = evalset.queries[:queries] if queries else evalset.queries
    keep = {q.qid for q in qs}
    qrels = {qid: rel for qid, rel in evalset.qrels.items() if qid in keep}
    if docs is None:
        return dataclasses.replace(evalset, queries=qs, qrels=qrels)
    gold = {d for rel in qrels.values() for d in rel}
    others = [d for d in evalset.corpus if d.doc_id not in gold][:docs]
    corpus = [d for d in evalset.corpus if d.doc_id in gold] + others
    return dataclasses.replace(evalset, corpus=corpus, queries=qs, qrels=qrels)


def _pick(metrics: dict[str, Any], keys: tuple[str, ...] = HEADLINE) -> dict[str, float]:
    return {k: float(metrics[k]) for k in keys if metrics.get(k) is not None}


def _gain(with_: dict[str, float], without: dict[str, float]) -> dict[str, float]:
    return {k: round(with_[k] - without[k], 4) for k in with_ if k in without}


def supportbot_quality(evalset: EvalSet, *, embedder: MiniLMEmbedder, progress: Progress = quiet
                       ) -> dict[str, Any]:
    """`supportbot eval <set> --answers` (and `--no-history` on a conversational set)."""
    conversational, answers = is_conversational(evalset), has_unanswerable(evalset)
    label = f"{evalset.name} supportbot"
    with throwaway_kb(evalset, embedder=embedder,
                      progress=lambda s, d, t: progress(f"{label} {s}", d, t)) as (kb, ingest_s):
        r = retrieval_metrics(evalset, kb, embedder=embedder, k=10, use_history=True,
                              progress=lambda s, d, t: progress(f"{label} search", d, t))
        out: dict[str, Any] = {**_pick(r, (*HEADLINE, "hit@10")), "ingest_s": round(ingest_s, 2),
                               "search_p50_ms": r["p50_ms"], "search_p95_ms": r["p95_ms"],
                               "raw_embed_p50_ms": r["embed_p50_ms"]}
        engine = AnswerEngine(knowledge=kb) if answers else None
        if engine is not None:
            a = evaluate_answers(evalset, engine, use_history=True,
                                 progress=lambda s, d, t: progress(f"{label} answer", d, t))
            out.update(_pick(a, ANSWER_KEYS))
        if conversational:
            r0 = retrieval_metrics(evalset, kb, embedder=embedder, k=10, use_history=False)
            alone = _pick(r0)
            if engine is not None:
                alone.update(_pick(evaluate_answers(evalset, engine, use_history=False), ANSWER_KEYS))
            out["no_history"] = alone
            out["followup_gain"] = _gain(_pick(out, (*HEADLINE, *ANSWER_KEYS)), alone)
    return out


def folded(q: EvalQuery) -> str:
    """The question with the earlier user turns in front: history without an LLM to rewrite it."""
    return " ".join([*q.user_history(), q.text])


def _baseline_pass(evalset: EvalSet, bl: LangChainBaseline, *, use_history: bool, progress: Progress
                   ) -> dict[str, Any]:
    ranked: dict[str, list[str]] = {}
    in_k4 = answered = answerable = unanswerable = declined = 0
    latencies: list[float] = []
    scored = {q.qid for q in scored_queries(evalset)}
    for n, q in enumerate(evalset.queries, 1):
        text = folded(q) if use_history else q.text
        t0 = time.perf_counter()
        r = bl.rank(text)
        latencies.append((time.perf_counter() - t0) * 1000)
        gave_answer = bool(r.answer)
        if q.answerable:
            answerable += 1
            answered += gave_answer
        else:
            unanswerable += 1
            declined += not gave_answer
        if q.qid in scored:
            ranked[q.qid] = r.doc_ids
            in_k4 += any(str(c.metadata.get("source")) in evalset.qrels[q.qid] for c in r.chunks)
        progress("search", n, len(evalset.queries))
    out: dict[str, Any] = _pick(mean_metrics(evalset, ranked), (*HEADLINE, "hit@10"))
    out["hit@k4_chunks"] = round(in_k4 / len(scored), 4) if scored else 0.0
    if has_unanswerable(evalset):
        out["abstain_recall"] = round(declined / unanswerable, 4) if unanswerable else 0.0
        out["answer_rate"] = round(answered / answerable, 4) if answerable else 0.0
    out["rank_p50_ms"] = round(statistics.median(latencies), 2) if latencies else 0.0
    out["rank_p95_ms"] = round(percentile(latencies, 95), 2)
    return out


def baseline_quality(evalset: EvalSet, *, progress: Progress = quiet) -> dict[str, Any]:
    """The tutorial pipeline over the same corpus, scored with the same metric code."""
    label = f"{evalset.name} langchain"
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-lc-") as tmp:
        bl = LangChainBaseline(Path(tmp))
        t0 = time.perf_counter()
        bl.add(evalset.corpus, on_chunks=lambda d, t: progress(f"{label} ingest", d, t))
        ingest_s = time.perf_counter() - t0
        step = lambda s, d, t: progress(f"{label} {s}", d, t)  # noqa: E731
        out = _baseline_pass(evalset, bl, use_history=True, progress=step)
        out.update(ingest_s=round(ingest_s, 2), chunks=bl.chunks)
        if is_conversational(evalset):
            alone = _baseline_pass(evalset, bl, use_history=False, progress=quiet)
            out["no_history"] = {k: alone[k] for k in (*HEADLINE, *ANSWER_KEYS) if k in alone}
            out["followup_gain"] = _gain(_pick(out, (*HEADLINE, *ANSWER_KEYS)), alone)
        bl.close()
    return out


def quality(evalset: EvalSet, *, embedder: MiniLMEmbedder, progress: Progress = quiet) -> dict[str, Any]:
    """`quality.<set>`: both systems on one set, with what the set holds."""
    n_unanswerable = sum(not q.answerable for q in evalset.queries)
    return {
        "n_docs": len(evalset.corpus),
        "n_queries": len(evalset.queries),
        "n_scored": len(scored_queries(evalset)),
        "n_unanswerable": n_unanswerable,
        "conversational": is_conversational(evalset),
        "supportbot": supportbot_quality(evalset, embedder=embedder, progress=progress),
        "langchain_baseline": baseline_quality(evalset, progress=progress),
    }
