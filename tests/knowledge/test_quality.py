"""Retrieval quality on the real BEIR dev sets: the hybrid must beat both of its halves, and stay above
the figures measured when it was tuned (README, Retrieval quality), so a regression fails the build."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.embeddings import MiniLMEmbedder
from knowledge.evaluation import load_beir, mean_metrics, scored_queries, throwaway_kb
from knowledge.retrieval import FusionConfig, HybridSearcher

EVAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "eval"

# measured hybrid figures, less a small margin for platform noise
FLOORS = {"or-sharc-dev": {"hit@5": 0.88, "mrr@10": 0.74}, "emanual-dev": {"hit@5": 0.82, "mrr@10": 0.72}}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLOORS))
def test_hybrid_beats_each_half_on_dev_sets(name: str, embedder: MiniLMEmbedder) -> None:
    if not (EVAL / name).is_dir():
        pytest.skip(f"{EVAL / name} not present (the shared eval sets live beside the checkout)")
    evalset = load_beir(EVAL / name)
    figures = {}
    with throwaway_kb(evalset, embedder=embedder) as (kb, _):
        for label, weight in (("lexical", 1.0), ("dense", 0.0), ("hybrid", 0.5)):
            searcher = HybridSearcher(kb, config=FusionConfig(lexical_weight=weight))
            ranked = {q.qid: [h.doc_id for h in searcher.search(q.text, k=10)] for q in scored_queries(evalset)}
            figures[label] = mean_metrics(evalset, ranked)
    hybrid = figures["hybrid"]
    for metric in ("hit@5", "mrr@10"):
        assert hybrid[metric] > figures["lexical"][metric], (metric, figures)
        assert hybrid[metric] > figures["dense"][metric], (metric, figures)
        assert hybrid[metric] >= FLOORS[name][metric], (metric, figures)
