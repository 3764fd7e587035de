"""A knowledge base: its Chroma versions, the live pointer, reloads and the in-memory read side."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from knowledge.documents import LoadResult, SourceDocument, heading_line
from knowledge.embeddings import DIMENSION, MiniLMEmbedder
from knowledge.lexical import WindowedBM25, tokenize
from knowledge.loaders import load_folder
from knowledge.reload import Progress, Reloader, ReloadReport
from knowledge.retrieval import FusionConfig, Hit, HybridRetriever, HybridSearcher, Scope
from knowledge.spelling import Speller
from knowledge.store import ChromaStore, ClientOpener, StoredChunk, check_kb_name
from knowledge.versions import FileLock, FilePointer, PointerState, ReloadLock, VersionPointer


@dataclass
class LiveIndex:
    """The live version held in memory by each worker, loaded once per version: chunk texts and
    metadata, the embedding matrix for exact dense scoring, and windowed BM25. Chunks are sorted by
    document so per-document pooling is a `reduceat`. Chroma stays the store of record."""

    version: int
    ids: list[str]  # chunk ids ("doc#i")
    texts: list[str]
    metadatas: list[dict[str, Any]]
    vectors: np.ndarray  # (chunks, 384), normalised
    lexical: WindowedBM25
    doc_ids: list[str]  # one per document, in chunk order
    doc_starts: np.ndarray  # index of each document's first chunk
    doc_terms: list[frozenset[str]]  # each document's stemmed words, title and headings included
    speller: Speller  # typo repair against this version's words
    _masks: OrderedDict[Scope, np.ndarray] = field(default_factory=OrderedDict)

    @property
    def size(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, version: int, chunks: list[StoredChunk]) -> LiveIndex:
        chunks = sorted(
            chunks, key=lambda c: (str(c.metadata.get("doc_id")), int(c.metadata.get("chunk_index", 0)))
        )
        metas = [c.metadata for c in chunks]
        doc_ids: list[str] = []
        doc_starts: list[int] = []
        for i, m in enumerate(metas):
            if not doc_ids or doc_ids[-1] != m.get("doc_id"):
                doc_ids.append(str(m.get("doc_id")))
                doc_starts.append(i)
        vectors = (np.vstack([c.embedding for c in chunks]).astype(np.float32)  # type: ignore[misc]
                   if chunks else np.zeros((0, DIMENSION), dtype=np.float32))
        prefixed = [(heading_line(str(m.get("title") or ""), str(m.get("headings") or "")), c.text)
                    for c, m in zip(chunks, metas, strict=True)]
        tokens = [(tokenize(head), tokenize(text)) for head, text in prefixed]  # once, for both uses
        lexical = WindowedBM25(tokens)
        starts, terms = set(doc_starts), list[set[str]]()
        for i, (head_tokens, body_tokens) in enumerate(tokens):
            if i in starts:
                terms.append(set())
            terms[-1].update(head_tokens, body_tokens)
        return cls(
            version=version, ids=[str(m.get("chunk_id")) for m in metas], texts=[c.text for c in chunks],
            metadatas=metas, vectors=vectors, lexical=lexical, doc_ids=doc_ids,
            doc_starts=np.array(doc_starts, dtype=np.int64), doc_terms=[frozenset(t) for t in terms],
            speller=Speller(f"{head} {text}" for head, text in prefixed),
        )

    def mask(self, scope: Scope) -> np.ndarray | None:
        """Which chunks a scope allows (None: all), cached per scope."""
        if scope.unrestricted:
            return None
        hit = self._masks.get(scope)
        if hit is None:
            hit = np.array([scope.allows(m) for m in self.metadatas], dtype=bool)
            self._masks[scope] = hit
            if len(self._masks) > 64:
                self._masks.popitem(last=False)
        return hit


class Article(NamedTuple):
    doc_id: str
    title: str
    url: str


def pointer_path(data_dir: Path, name: str) -> Path:
    """Where the file pointer of a knowledge base lives (also the local copy of a shared pointer)."""
    return data_dir / "kb" / name / "pointer.json"


@dataclass(frozen=True)
class KBStatus:
    kb: str
    current: int | None
    previous: int | None
    documents: int
    chunks: int
    swapped_at: float | None
    last_reload: dict[str, object] | None
    reload_running: str | None
    backend: str


class KnowledgeBase:
    def __init__(
        self,
        *,
        name: str,
        store: ChromaStore,
        embedder: MiniLMEmbedder,
        pointer: VersionPointer,
        lock: ReloadLock,
        backend: str = "embedded",
        max_file_bytes: int = 10 * 1024 * 1024,
        fusion: FusionConfig | None = None,
    ) -> None:
        self.name = check_kb_name(name)
        self.store = store
        self.embedder = embedder
        self.pointer = pointer
        self.lock = lock
        self.backend = backend
        self.max_file_bytes = max_file_bytes
        self.reloader = Reloader(kb=name, store=store, embedder=embedder, pointer=pointer, lock=lock)
        self.searcher = HybridSearcher(self, config=fusion)
        self._live: LiveIndex | None = None
        self._live_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        *,
        data_dir: Path,
        name: str = "default",
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        embedder: MiniLMEmbedder | None = None,
        max_file_bytes: int = 10 * 1024 * 1024,
        pointer: VersionPointer | None = None,
        lock: ReloadLock | None = None,
        coordination: str = "",
    ) -> KnowledgeBase:
        """Open (or create) a knowledge base. The pointer and lock default to files under the data dir
        (one host); pass shared ones (``adapters.redis_versions``) when several workers serve it, and
        name them in ``coordination`` for `kb status`."""
        check_kb_name(name)
        opener = ClientOpener(data_dir=data_dir, host=chroma_host, port=chroma_port)
        backend = f"chroma server {chroma_host}:{chroma_port}" if chroma_host else "embedded chroma"
        return cls(
            name=name,
            store=ChromaStore(opener(), reopen=opener),
            embedder=embedder or MiniLMEmbedder(),
            pointer=pointer or FilePointer(pointer_path(data_dir, name)),
            lock=lock or FileLock(data_dir / "kb" / name / "reload.lock"),
            backend=f"{backend}; {coordination}" if coordination else backend,
            max_file_bytes=max_file_bytes,
        )

    # --- write side -------------------------------------------------------------------------
    def load(self, path: Path, *, on_file: Callable[[Path], None] | None = None) -> LoadResult:
        return load_folder(path, max_bytes=self.max_file_bytes, on_file=on_file)

    def reload(
        self, path: Path, *, progress: Progress | None = None, allow_empty: bool = False
    ) -> ReloadReport:
        """Load a help-centre folder and make it the live version (see reload.py)."""
        loaded = self.load(path)
        return self.reload_documents(
            loaded.documents, skipped=loaded.skipped, progress=progress, allow_empty=allow_empty
        )

    def reload_documents(
        self,
        documents: list[SourceDocument],
        *,
        skipped: list[Any] | None = None,
        progress: Progress | None = None,
        allow_empty: bool = False,
    ) -> ReloadReport:
        return self.reloader.run(
            documents, skipped=skipped or [], progress=progress, allow_empty=allow_empty
        )

    def rollback(self) -> PointerState:
        return self.reloader.rollback()

    # --- read side --------------------------------------------------------------------------
    def has_index(self) -> bool:
        return self.pointer.read().current is not None

    def live(self) -> LiveIndex | None:
        """The live version, following the pointer on every call so a swap is seen at once."""
        version = self.pointer.read().current
        cached = self._live
        if version is None:
            return None
        if cached is not None and cached.version == version:
            return cached
        with self._live_lock:
            if self._live is None or self._live.version != version:
                self._live = self._load_live(version)
            return self._live

    def _load_live(self, version: int) -> LiveIndex:
        chunks = list(self.store.read_version(self.name, version, with_embeddings=True))
        return LiveIndex.build(version, chunks)

    def search(
        self, query: str, *, k: int = 5, scope: Scope | None = None, history: tuple[str, ...] = ()
    ) -> list[Hit]:
        return self.searcher.search(query, k=k, scope=scope, history=history)

    def articles(self, scope: Scope | None = None) -> list[Article]:
        """Each live article a scope allows, in index order; [] before any ingest."""
        live = self.live()
        if live is None:
            return []
        metas = (live.metadatas[int(i)] for i in live.doc_starts)
        return [Article(str(m.get("doc_id")), str(m.get("title") or m.get("doc_id")), str(m.get("url") or ""))
                for m in metas if scope is None or scope.allows(m)]

    def articles_by_id(self, doc_ids: Sequence[str]) -> list[Article]:
        """The live articles with these ids, in the order given; an id no longer live keeps its place
        with the id as its title and no link (an answer kept for rating may outlive its article)."""
        live = {a.doc_id: a for a in self.articles()}
        return [live.get(d, Article(d, d, "")) for d in doc_ids]

    def as_retriever(self, *, k: int = 5, scope: Scope | None = None) -> HybridRetriever:
        return HybridRetriever(searcher=self.searcher, k=k, scope=scope)

    def status(self) -> KBStatus:
        state = self.pointer.read()
        live = self.live()
        docs = len(live.doc_ids) if live else 0
        return KBStatus(
            kb=self.name, current=state.current, previous=state.previous,
            documents=docs, chunks=live.size if live else 0, swapped_at=state.swapped_at,
            last_reload=state.reports.get(str(state.current)),
            reload_running=self.lock.holder(), backend=self.backend,
        )
