"""`supportbot eval`: read a BEIR-format set as it is, index its corpus into a throw-away KB, measure.

Format (../shared/data/eval/README.md): corpus.jsonl (`_id`, `title`, `text`), queries.jsonl (`_id`,
`text`, optional `history` [{role, text}] and `answerable`), qrels/<split>.tsv with a header line.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from knowledge.documents import SourceDocument
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase
from knowledge.reload import Progress


class DatasetError(ValueError):
    """The dataset folder cannot be read as a BEIR set; the message says what is wrong."""


@dataclass(frozen=True)
class EvalQuery:
    qid: str
    text: str
    history: tuple[tuple[str, str], ...] = ()  # (role, text)
    answerable: bool = True

    def user_history(self) -> tuple[str, ...]:
        return tuple(t for role, t in self.history if role == "user")


@dataclass(frozen=True)
class EvalSet:
    name: str
    corpus: list[SourceDocument]
    queries: list[EvalQuery]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        raise DatasetError(f"{path} not found (a BEIR set needs corpus.jsonl, queries.jsonl, qrels/)")
    rows = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict) or "_id" not in row:
                        raise DatasetError(f"{path}:{n}: expected a JSON object with an _id")
                    rows.append(row)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON lines ({exc})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from exc
    return rows


def load_beir(folder: Path, *, split: str = "dev") -> EvalSet:
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} not found")
    corpus = []
    for row in _read_jsonl(folder / "corpus.jsonl"):
        title, text = str(row.get("title") or ""), str(row.get("text") or "")
        corpus.append(
            SourceDocument(
                doc_id=str(row["_id"]), title=title, text=text, fmt="json",
                content_hash=hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(),
            )
        )
    queries = []
    for row in _read_jsonl(folder / "queries.jsonl"):
        hist = row.get("history") or []
        turns = tuple(
            (str(t.get("role", "user")), str(t.get("text", "")))
            for t in (hist if isinstance(hist, list) else [])
            if isinstance(t, dict)
        )
        queries.append(
            EvalQuery(str(row["_id"]), str(row.get("text") or ""), turns, row.get("answerable") is not False)
        )
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise DatasetError(f"{qrels_path} not found (is --split right?)")
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines()):
        parts = line.strip().split("\t")
        if n == 0 and parts and parts[0] == "query-id" or not line.strip():
            continue
        if len(parts) < 3:
            raise DatasetError(f"{qrels_path}:{n + 1}: expected query-id<TAB>corpus-id<TAB>score")
        try:
            score = int(float(parts[2]))
        except ValueError as exc:
            raise DatasetError(f"{qrels_path}:{n + 1}: score {parts[2]!r} is not a number") from exc
        if score > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = score
    return EvalSet(folder.name, corpus, queries, qrels)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[idx]


def ranking_metrics(ranked: list[str], gold: dict[str, int]) -> dict[str, float]:
    """Hit@k, Recall@k, MRR@10 and nDCG@10 for one query (document ids, best first)."""
    out: dict[str, float] = {}
    first = next((i for i, d in enumerate(ranked) if d in gold), None)
    for k in (1, 3, 5, 10):
        out[f"hit@{k}"] = float(first is not None and first < k)
    for k in (5, 10):
        out[f"recall@{k}"] = len(set(ranked[:k]) & set(gold)) / len(gold)
    out["mrr@10"] = 1.0 / (first + 1) if first is not None and first < 10 else 0.0
    dcg = sum((2 ** gold.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(gold.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    out["ndcg@10"] = dcg / idcg if idcg else 0.0
    return out


def scored_queries(evalset: EvalSet) -> list[EvalQuery]:
    """Answerable queries with qrels: the ones retrieval metrics are computed over."""
    return [q for q in evalset.queries if q.answerable and q.qid in evalset.qrels]


def mean_metrics(evalset: EvalSet, ranked: dict[str, list[str]]) -> dict[str, float]:
    """Average `ranking_metrics` over the scored queries, given each query's ranked doc ids."""
    queries = scored_queries(evalset)
    totals: dict[str, float] = {}
    for q in queries:
        for key, value in ranking_metrics(ranked.get(q.qid, []), evalset.qrels[q.qid]).items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: round(v / len(queries), 4) for key, v in sorted(totals.items())} if queries else {}


@contextmanager
def throwaway_kb(evalset: EvalSet, *, embedder: MiniLMEmbedder, progress: Progress | None = None
                 ) -> Iterator[tuple[KnowledgeBase, float]]:
    """The corpus indexed into a temporary embedded KB; yields it with the ingest seconds."""
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-") as tmp:
        kb = KnowledgeBase.open(data_dir=Path(tmp), name="eval", embedder=embedder)
        started = time.perf_counter()
        kb.reload_documents(evalset.corpus, progress=progress)
        ingest_s = time.perf_counter() - started
        kb.live()  # build the read side before anything is timed
        yield kb, ingest_s


def retrieval_metrics(
    evalset: EvalSet,
    kb: KnowledgeBase,
    *,
    embedder: MiniLMEmbedder,
    k: int = 10,
    use_history: bool = True,
    progress: Progress | None = None,
) -> dict[str, float | int | str]:
    """Score every answerable query with qrels against an indexed KB, with latencies measured
    beside the raw model's query-embedding time."""
    report = progress or (lambda *_: None)
    embedder.raw_query_embedding("warm-up")  # load the model outside every timed section
    scored = scored_queries(evalset)
    ranked: dict[str, list[str]] = {}
    latencies, embed_times = [], []
    for n, q in enumerate(scored, 1):
        t0 = time.perf_counter()
        embedder.raw_query_embedding(q.text)
        embed_times.append((time.perf_counter() - t0) * 1000)
        embedder.clear_cache()  # every query pays its own embedding, as a new question would
        t0 = time.perf_counter()
        hits = kb.search(q.text, k=max(k, 10), history=q.user_history() if use_history else ())
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked[q.qid] = [h.doc_id for h in hits]
        report("query", n, len(scored))
    result: dict[str, float | int | str] = {"dataset": evalset.name, "n_queries": len(scored)}
    result.update(mean_metrics(evalset, ranked))
    result.update(
        p50_ms=round(statistics.median(latencies), 2) if latencies else 0.0,
        p95_ms=round(percentile(latencies, 95), 2),
        embed_p50_ms=round(statistics.median(embed_times), 2) if embed_times else 0.0,
        n_docs=len(evalset.corpus),
    )
    return result
