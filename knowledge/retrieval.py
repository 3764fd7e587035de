"""Hybrid retrieval: BM25 and dense candidates fused by normalised score, deduplicated per document.

Exposed both as a plain `HybridSearcher.search()` returning `Hit`s and as a LangChain `BaseRetriever`
returning `Document`s. Scope (per-channel document sets) is enforced here, in the retriever filter,
never in a prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

if TYPE_CHECKING:
    from knowledge.kb import KnowledgeBase, LiveIndex


@dataclass(frozen=True)
class Scope:
    """Which documents a channel may see. Empty fields mean no restriction on that field; a document
    must match every non-empty field (any of its values)."""

    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    @property
    def unrestricted(self) -> bool:
        return not (self.categories or self.tags or self.audiences or self.doc_ids)

    def allows(self, meta: dict[str, Any]) -> bool:
        tags = meta.get("tags") or []
        return (
            (not self.categories or meta.get("category") in self.categories)
            and (not self.audiences or meta.get("audience") in self.audiences)
            and (not self.doc_ids or meta.get("doc_id") in self.doc_ids)
            and (not self.tags or any(t in tags for t in self.tags))
        )


@dataclass(frozen=True)
class Hit:
    doc_id: str
    chunk_id: str
    title: str
    url: str
    text: str
    headings: str
    score: float
    lexical: float
    dense: float
    metadata: dict[str, Any] = field(default_factory=dict)
    context: str = ""  # the chunk with its neighbours in the article, for answering from
    doc_dense: float = 0.0  # the best cosine between the query and any chunk of the article
    query: str = ""  # the query as searched: follow-up context folded in, typos repaired
    doc_terms: frozenset[str] = frozenset()  # the article's stemmed words (coverage features)

    @property
    def answer_text(self) -> str:
        return self.context or self.text


@dataclass(frozen=True)
class FusionConfig:
    """Tuned on the dev sets in ../shared/data/eval (README, Retrieval quality)."""

    depth: int = 50  # documents each retriever contributes
    lexical_weight: float = 0.5  # weight of normalised BM25; dense gets 1 - this
    history_turns: int = 2  # earlier user turns folded into a follow-up's query
    context_chars: int = 1200  # how much of the article around the best chunk a hit carries


def expand_query(query: str, history: Sequence[str], turns: int) -> str:
    """Fold the last user turns into a follow-up so "and on mobile?" keeps its subject."""
    context = [h.strip() for h in history if h.strip()][-turns:] if turns else []
    return " ".join([*context, query]) if context else query


def _top_normalised(doc_scores: np.ndarray, depth: int, *, positive_only: bool) -> dict[int, float]:
    """The `depth` best documents, min-max normalised over just those (what a retriever returns)."""
    finite = np.isfinite(doc_scores) & ((doc_scores > 0) if positive_only else True)
    idx = np.flatnonzero(finite)
    if idx.size == 0:
        return {}
    if idx.size > depth:
        idx = idx[np.argpartition(-doc_scores[idx], depth - 1)[:depth]]
    vals = doc_scores[idx]
    lo, hi = float(vals.min()), float(vals.max())
    norm = (vals - lo) / (hi - lo) if hi - lo > 1e-9 else np.ones_like(vals)
    return {int(i): float(v) for i, v in zip(idx, norm, strict=True)}


_MID_LIST = re.compile(r"\s*(?:[2-9]|\d{2,})[.)]\s")


def _context(live: LiveIndex, lo: int, hi: int, best: int, limit: int) -> str:
    """The best chunk, widened with neighbouring chunks of the same article while under `limit`
    characters; a heading line is repeated where the section changes."""
    first = last = best
    size = len(live.texts[best])
    grew = True
    while grew:
        grew = False
        for cand in (first - 1, last + 1):
            if lo <= cand < hi and size + len(live.texts[cand]) <= limit:
                size += len(live.texts[cand])
                first, last = min(first, cand), max(last, cand)
                grew = True
    # a numbered list cut by a chunk boundary starts at its first step, even past the limit
    while first > lo and _MID_LIST.match(live.texts[first]):
        first -= 1
    parts, heading, previous = [], None, ""
    for i in range(first, last + 1):
        h = str(live.metadatas[i].get("headings") or "")
        if h and h != heading:
            parts.append(f"## {h.split(' > ')[-1]}")
        text = _without_overlap(previous, live.texts[i]) if h == heading else live.texts[i]
        heading, previous = h, live.texts[i]
        if text.strip():
            parts.append(text)
    return "\n\n".join(parts)


def _without_overlap(before: str, after: str, *, longest: int = 600) -> str:
    """`after` minus the text it repeats from the end of `before` (chunks overlap by design)."""
    for k in range(min(len(before), len(after), longest), 15, -1):
        if before.endswith(after[:k]):
            return after[k:].lstrip()
    return after


class HybridSearcher:
    """BM25 and dense each pick their best `depth` documents (a document scores as its best chunk);
    scores are min-max normalised per side over those candidates and mixed by `lexical_weight`."""

    def __init__(self, kb: KnowledgeBase, *, config: FusionConfig | None = None) -> None:
        self.kb = kb
        self.config = config or FusionConfig()

    def search(
        self, query: str, *, k: int = 5, scope: Scope | None = None, history: Sequence[str] = (),
    ) -> list[Hit]:
        live = self.kb.live()
        if live is None or live.size == 0 or not query.strip():
            return []
        text = live.speller.correct(expand_query(query, history, self.config.history_turns))
        mask = live.mask(scope or Scope())
        if mask is not None and not mask.any():
            return []
        w = self.config.lexical_weight

        lex = live.lexical.chunk_scores(text) if w > 0 else np.zeros(live.size, dtype=np.float32)
        dense = (live.vectors @ self.kb.embedder.encode_query(text) if w < 1
                 else np.zeros(live.size, dtype=np.float32))
        if mask is not None:
            lex = np.where(mask, lex, -np.inf)
            dense = np.where(mask, dense, -np.inf)
        doc_dense = np.maximum.reduceat(dense, live.doc_starts)
        lex_docs = _top_normalised(np.maximum.reduceat(lex, live.doc_starts), self.config.depth,
                                   positive_only=True) if w > 0 else {}
        dense_docs = _top_normalised(doc_dense, self.config.depth, positive_only=False) if w < 1 else {}
        fused = {d: w * lex_docs.get(d, 0.0) + (1 - w) * dense_docs.get(d, 0.0)
                 for d in lex_docs.keys() | dense_docs.keys()}
        best = sorted(fused, key=lambda d: -fused[d])[:k]

        hits = []
        for d in best:
            lo = int(live.doc_starts[d])
            hi = int(live.doc_starts[d + 1]) if d + 1 < len(live.doc_starts) else live.size
            # the document's best chunk: the one that is strongest on both sides at once
            lex_span, dense_span = lex[lo:hi], dense[lo:hi]
            lmax = float(lex_span.max()) if float(lex_span.max()) > 0 else 1.0
            i = lo + int(np.argmax(w * lex_span / lmax + (1 - w) * dense_span))
            meta = live.metadatas[i]
            hits.append(Hit(
                doc_id=live.doc_ids[d], chunk_id=live.ids[i], title=str(meta.get("title") or ""),
                url=str(meta.get("url") or ""), text=live.texts[i],
                headings=str(meta.get("headings") or ""), score=round(float(fused[d]), 6),
                lexical=float(max(lex[i], 0.0)), dense=float(dense[i]) if np.isfinite(dense[i]) else 0.0,
                metadata=meta, context=_context(live, lo, hi, i, self.config.context_chars),
                doc_dense=float(doc_dense[d]) if np.isfinite(doc_dense[d]) else 0.0,
                query=text, doc_terms=live.doc_terms[d],
            ))
        return hits


class HybridRetriever(BaseRetriever):
    """LangChain retriever over the live index version: one `Document` per help-centre article."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Any
    k: int = 5
    scope: Scope | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                page_content=h.text,
                id=h.chunk_id,
                metadata={
                    **h.metadata, "chunk_id": h.chunk_id, "score": h.score,
                    "lexical_score": h.lexical, "dense_score": h.dense,
                },
            )
            for h in self.searcher.search(query, k=self.k, scope=self.scope)
        ]


__all__ = ["FusionConfig", "Hit", "HybridRetriever", "HybridSearcher", "Scope"]
