"""Hybrid retrieval: BM25 and dense candidates fused by normalised score, deduplicated per document.

Exposed both as a plain `HybridSearcher.search()` returning `Hit`s and as a LangChain `BaseRetriever`
returning `Document`s. Scope (per-channel document sets) is enforced here, in the retriever filter,
never in a prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

if TYPE_CHECKING:
    from knowledge.kb import KnowledgeBase


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

    def where(self) -> dict[str, Any] | None:
        """The same rule as `allows`, as a Chroma `where` clause."""
        parts: list[dict[str, Any]] = []
        for key, values in (
            ("category", self.categories), ("audience", self.audiences), ("doc_id", self.doc_ids),
        ):
            if values:
                parts.append({key: {"$in": list(values)}})
        if self.tags:
            ors = [{"tags": {"$contains": t}} for t in self.tags]
            parts.append(ors[0] if len(ors) == 1 else {"$or": ors})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


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


@dataclass(frozen=True)
class FusionConfig:
    """Tuned on the dev sets in ../shared/data/eval (see README, Retrieval quality)."""

    depth: int = 50  # candidates taken from each retriever
    lexical_weight: float = 0.5  # weight of normalised BM25; dense gets 1 - this
    history_turns: int = 2  # earlier user turns folded into a follow-up's query


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


def expand_query(query: str, history: Sequence[str], turns: int) -> str:
    """Fold the last user turns into a follow-up so "and on mobile?" keeps its subject."""
    context = [h.strip() for h in history if h.strip()][-turns:] if turns else []
    return " ".join([*context, query]) if context else query


class HybridSearcher:
    def __init__(self, kb: KnowledgeBase, *, config: FusionConfig | None = None) -> None:
        self.kb = kb
        self.config = config or FusionConfig()

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        scope: Scope | None = None,
        history: Sequence[str] = (),
    ) -> list[Hit]:
        live = self.kb.live()
        if live is None or live.size == 0 or not query.strip():
            return []
        scope = scope or Scope()
        text = expand_query(query, history, self.config.history_turns)
        mask = live.mask(scope)
        depth = self.config.depth

        lex = live.lexical.scores(text)
        if mask is not None:
            lex = np.where(mask, lex, 0.0)
        lex_idx = [int(i) for i in np.argsort(-lex)[:depth] if lex[i] > 0]

        dense: dict[int, float] = {}
        allowed = live.size if mask is None else int(mask.sum())
        if allowed:
            vec = self.kb.embedder.encode_query(text)
            res = live.collection.query(
                query_embeddings=[vec], n_results=min(depth, allowed), where=scope.where(),
                include=["distances"],
            )
            for cid, dist in zip(res["ids"][0], (res["distances"] or [[]])[0], strict=False):
                pos = live.position.get(cid)
                if pos is not None:
                    dense[pos] = 1.0 - float(dist)

        cand = sorted(set(lex_idx) | set(dense))
        if not cand:
            return []
        lex_c = _minmax(np.array([lex[i] for i in cand], dtype=np.float32))
        den_raw = np.array([dense.get(i, np.nan) for i in cand], dtype=np.float32)
        den_c = np.zeros_like(den_raw)
        seen = ~np.isnan(den_raw)
        den_c[seen] = _minmax(den_raw[seen])
        w = self.config.lexical_weight
        fused = w * lex_c + (1 - w) * den_c

        best: dict[str, Hit] = {}
        for j in np.argsort(-fused):
            i = cand[int(j)]
            meta = live.metadatas[i]
            doc_id = str(meta.get("doc_id"))
            if doc_id in best:
                continue
            best[doc_id] = Hit(
                doc_id=doc_id, chunk_id=live.ids[i], title=str(meta.get("title") or ""),
                url=str(meta.get("url") or ""), text=live.texts[i],
                headings=str(meta.get("headings") or ""), score=float(fused[j]),
                lexical=float(lex[i]), dense=float(dense.get(i, 0.0)), metadata=meta,
            )
            if len(best) >= k:
                break
        return list(best.values())


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
