"""`supportbot bench`'s comparison on a tiny corpus: the result's shape, the files it writes, and that
the baseline is LangChain's own splitter and Chroma store (bench/compare.py, bench/baseline.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_chroma import Chroma
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bench import report
from bench.baseline import CHUNK_SIZE, LangChainBaseline, splitter
from bench.compare import CONVERSATIONS, Plan, run
from knowledge.documents import SourceDocument
from knowledge.evaluation import load_beir

SYSTEMS = ("supportbot", "langchain_baseline")


def tiny_set(folder: Path) -> Path:
    """Three follow-up questions and two it does not cover, over their gold articles and two others."""
    full = load_beir(CONVERSATIONS)
    answerable = [q for q in full.queries if q.answerable and q.qid in full.qrels][:3]
    unanswerable = [q for q in full.queries if not q.answerable][:2]
    gold = {d for q in answerable for d in full.qrels[q.qid]}
    corpus = [d for d in full.corpus if d.doc_id in gold] + [d for d in full.corpus if d.doc_id not in gold][:2]
    folder.mkdir(parents=True)
    (folder / "qrels").mkdir()
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": d.doc_id, "title": d.title, "text": d.text}) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(
        {"_id": q.qid, "text": q.text, "answerable": q.answerable,
         "history": [{"role": r, "text": t} for r, t in q.history]}) + "\n" for q in answerable + unanswerable))
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q.qid}\t{d}\t{s}\n" for q in answerable for d, s in full.qrels[q.qid].items()))
    return folder


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Path]]:
    root = tmp_path_factory.mktemp("bench")
    plan = Plan(sets=(tiny_set(root / "tiny-conversations"),), sizes=(100,), latency_queries=3,
                ingest_sample=2, reload_articles=10, memory_floor=False, mode="test", command="pytest")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `serve` runs: on a busy machine a query embedding is then ~10x faster
    try:
        result = run(plan)
    finally:
        torch.set_num_threads(threads)
    return result, report.write(result, root / "results")


@pytest.mark.slow
def test_quality_has_both_systems_with_the_headline_metrics(compared: tuple[dict[str, Any], list[Path]]) -> None:
    result, _ = compared
    q = result["quality"]["tiny-conversations"]
    assert q["n_unanswerable"] == 2 and q["conversational"]
    for system in SYSTEMS:
        metrics = q[system]
        for key in ("hit@1", "hit@5", "mrr@10", "abstain_recall", "answer_rate"):
            assert 0.0 <= metrics[key] <= 1.0, (system, key)
        assert metrics["hit@1"] <= metrics["hit@5"]
        assert set(metrics["followup_gain"]) >= {"hit@1", "hit@5", "mrr@10"}
        assert metrics["no_history"]["mrr@10"] + metrics["followup_gain"]["mrr@10"] == pytest.approx(
            metrics["mrr@10"], abs=1e-3)
    baseline = q["langchain_baseline"]
    assert baseline["abstain_recall"] == 0.0 and baseline["answer_rate"] == 1.0  # it never abstains


@pytest.mark.slow
def test_scale_rows_carry_references_from_the_same_run(compared: tuple[dict[str, Any], list[Path]]) -> None:
    result, _ = compared
    assert result["machine"]["cores"] and result["machine"]["date"]
    (row,) = result["scale"]["sizes"]
    assert row["chunks"]["supportbot"] == pytest.approx(100, rel=0.1)
    assert 0 < row["chunks"]["langchain_baseline"] < row["chunks"]["supportbot"]  # 1,000-char chunks
    for system in SYSTEMS:
        lat = row["latency"][system]
        assert 0 < lat["p50_ms"] <= lat["p95_ms"] and lat["p95_over_raw_p95"] > 0
        assert row["ingest"][system]["ratio_to_raw"] > 0
        assert row["memory"][system]["rss_mib"] > 0
    assert row["latency"]["raw_embed"]["p50_ms"] > 0
    assert row["reload"]["supportbot"]["one_changed_s"] < row["reload"]["supportbot"]["full_rebuild_s"]


@pytest.mark.slow
def test_writes_json_markdown_and_plots(compared: tuple[dict[str, Any], list[Path]]) -> None:
    result, written = compared
    names = {p.name for p in written}
    assert names == {"latest.json", "latest.md", "latency_vs_size.png", "memory_vs_size.png"}
    folder = written[0].parent
    assert json.loads((folder / "latest.json").read_text())["quality"].keys() == result["quality"].keys()
    md = (folder / "latest.md").read_text()
    assert "| measure | supportbot | LangChain baseline |" in md and "tiny-conversations: MRR@10" in md
    for png in ("latency_vs_size.png", "memory_vs_size.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_baseline_is_langchains_splitter_and_chroma(tmp_path: Path) -> None:
    words = [f"word{i % 97} step{i}" for i in range(400)]  # ~5,000 characters, no paragraph breaks
    doc = SourceDocument(doc_id="long.md", title="A long article", text=" ".join(words), content_hash="x")
    bl = LangChainBaseline(tmp_path / "lc")
    assert isinstance(bl.store, Chroma) and isinstance(splitter(), RecursiveCharacterTextSplitter)
    assert bl.add([doc]) == bl.chunks == bl.store._collection.count() > 4
    chunks = [d.page_content for d in bl.split([doc])]
    assert all(len(c) <= CHUNK_SIZE for c in chunks)
    assert chunks[0] == "A long article"  # the title is its own paragraph
    for before, after in zip(chunks[1:], chunks[2:], strict=False):
        assert after[:50] in before  # 200-character overlap: each chunk starts inside the one before
    found = bl.search("word5 step5")
    assert len(found) == 4 and all(d.metadata["source"] == "long.md" for d in found)
    ranked = bl.rank("word5 step5")
    assert ranked.doc_ids == ["long.md"] and ranked.answer == found[0].page_content
    bl.close()
