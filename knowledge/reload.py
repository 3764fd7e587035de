"""Incremental, atomic, reversible reloads: build version N+1 beside the live one, then move the pointer.

Unchanged documents (same content hash and pipeline) are copied with their stored embeddings;
changed and new ones are chunked and embedded; removed ones are simply not copied. A failure or a
kill before the pointer moves leaves the live version serving; the orphaned half-built collection
is dropped by the next reload.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from knowledge.chunking import chunk_document, chunker_fingerprint
from knowledge.documents import Chunk, Skipped, SourceDocument
from knowledge.embeddings import MODEL_NAME, MiniLMEmbedder
from knowledge.store import ChromaStore, StoredChunk
from knowledge.versions import PointerState, ReloadLock, VersionPointer

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ReloadError(RuntimeError):
    """A reload that could not run or finish; the live version is untouched."""


class ReloadInProgress(ReloadError):
    pass


@dataclass(frozen=True)
class ReloadReport:
    """What a reload changed, for the CLI and the chat adapters."""

    kb: str
    version: int
    previous: int | None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def documents(self) -> int:
        return len(self.added) + len(self.updated) + len(self.unchanged)

    def summary(self) -> dict[str, object]:
        return {
            "version": self.version,
            "documents": self.documents,
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": len(self.unchanged),
            "skipped": len(self.skipped),
            "chunks": self.chunks,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
        }


def index_hash(doc: SourceDocument, pipeline: str) -> str:
    """Content hash plus pipeline fingerprint: a chunker or model change re-embeds everything."""
    return hashlib.sha256(f"{doc.content_hash}|{pipeline}".encode()).hexdigest()


def chunk_metadata(doc: SourceDocument, chunk: Chunk, doc_hash: str) -> dict[str, object]:
    meta: dict[str, object] = {
        "doc_id": doc.doc_id,
        "doc_hash": doc_hash,
        "chunk_index": chunk.index,
        "title": doc.title,
        "headings": chunk.heading_path,
        "url": doc.url,
        "category": doc.category,
        "audience": doc.audience,
        "updated": doc.updated,
        "source_path": doc.source_path,
    }
    if doc.tags:  # Chroma rejects empty lists
        meta["tags"] = list(doc.tags)
    return meta


def search_text(text: str, meta: dict[str, object]) -> str:
    """Title and heading path in front of the body: what is embedded and lexically indexed."""
    return Chunk(
        chunk_id="", doc_id="", index=0, text=text, title=str(meta.get("title") or ""),
        headings=tuple(h for h in str(meta.get("headings") or "").split(" > ") if h),
    ).search_text()


class Reloader:
    def __init__(
        self,
        *,
        kb: str,
        store: ChromaStore,
        embedder: MiniLMEmbedder,
        pointer: VersionPointer,
        lock: ReloadLock,
        max_chars: int = 800,
        overlap_chars: int = 120,
    ) -> None:
        self.kb = kb
        self.store = store
        self.embedder = embedder
        self.pointer = pointer
        self.lock = lock
        self.max_chars = max_chars
        self.overlap_chars = overlap_chars
        self.pipeline = f"{MODEL_NAME}|{chunker_fingerprint(max_chars, overlap_chars)}"

    def run(
        self,
        documents: Sequence[SourceDocument],
        *,
        skipped: Sequence[Skipped] = (),
        progress: Progress | None = None,
        allow_empty: bool = False,
    ) -> ReloadReport:
        if not self.lock.acquire():
            raise ReloadInProgress(
                f"a reload of knowledge base '{self.kb}' is already running ({self.lock.holder()}); "
                "wait for it to finish, then try again"
            )
        try:
            return self._run_locked(documents, skipped, progress or (lambda *_: None), allow_empty)
        finally:
            self.lock.release()

    def _run_locked(
        self,
        documents: Sequence[SourceDocument],
        skipped: Sequence[Skipped],
        progress: Progress,
        allow_empty: bool,
    ) -> ReloadReport:
        started = time.perf_counter()
        state = self.pointer.read()
        live = state.current
        # numbers are never reused, not even a half-built version's: caches key on them
        version = max([*self.store.versions(self.kb), live or 0, state.previous or 0]) + 1
        self._drop_orphans(state)

        old: dict[str, list[StoredChunk]] = {}
        if live is not None:
            for sc in self.store.iter_all(self.store.get(self.kb, live), with_embeddings=True):
                old.setdefault(str(sc.metadata.get("doc_id")), []).append(sc)
        if not documents and old and not allow_empty:
            raise ReloadError(
                f"refusing to replace {len(old)} documents with an empty knowledge base "
                "(no loadable files); pass --allow-empty if that is what you want"
            )

        added, updated, unchanged, fresh = [], [], [], []
        copied: list[StoredChunk] = []
        new_ids = set()
        for doc in documents:
            new_ids.add(doc.doc_id)
            h = index_hash(doc, self.pipeline)
            prior = old.get(doc.doc_id)
            if prior and all(sc.metadata.get("doc_hash") == h for sc in prior):
                unchanged.append(doc.doc_id)
                copied.extend(prior)
            else:
                (updated if prior else added).append(doc.doc_id)
                fresh.append((doc, h))
        removed = sorted(set(old) - new_ids)

        col = self.store.create(self.kb, version)
        try:
            to_embed: list[StoredChunk] = []
            for doc, h in fresh:
                for ch in chunk_document(doc, max_chars=self.max_chars, overlap_chars=self.overlap_chars):
                    to_embed.append(StoredChunk(ch.chunk_id, ch.text, chunk_metadata(doc, ch, h)))
            total = len(to_embed)
            progress("embed", 0, total)
            done = 0

            def step(n: int) -> None:
                nonlocal done
                done += n
                progress("embed", done, total)

            vectors = self.embedder.encode(
                [search_text(c.text, c.metadata) for c in to_embed], on_batch=step
            )
            embedded = [
                StoredChunk(c.chunk_id, c.text, c.metadata, vectors[i]) for i, c in enumerate(to_embed)
            ]
            progress("write", 0, len(copied) + len(embedded))
            self.store.add(col, copied + embedded)
            expected = len(copied) + len(embedded)
            if col.count() != expected:
                raise ReloadError(f"index check failed: {col.count()} chunks stored, {expected} expected")
            progress("write", expected, expected)
        except BaseException:
            self.store.drop(self.kb, version)
            raise

        report = ReloadReport(
            kb=self.kb, version=version, previous=live, added=added, updated=updated,
            removed=removed, unchanged=unchanged, skipped=list(skipped), chunks=expected,
            chunks_embedded=len(embedded), seconds=time.perf_counter() - started,
        )
        reports = {k: v for k, v in state.reports.items() if k in {str(live)}}
        reports[str(version)] = report.summary()
        self.pointer.swap(
            PointerState(current=version, previous=live, swapped_at=time.time(), reports=reports)
        )
        self._drop_old(keep={version, live})
        return report

    def rollback(self) -> PointerState:
        if not self.lock.acquire():
            raise ReloadInProgress(f"a reload of '{self.kb}' is running ({self.lock.holder()}); try later")
        try:
            state = self.pointer.read()
            if state.previous is None or state.previous not in self.store.versions(self.kb):
                raise ReloadError(f"knowledge base '{self.kb}' has no previous version to roll back to")
            new = PointerState(
                current=state.previous, previous=state.current, swapped_at=time.time(),
                reports=state.reports,
            )
            self.pointer.swap(new)
            return new
        finally:
            self.lock.release()

    def _drop_orphans(self, state: PointerState) -> None:
        """Collections newer than the pointer knows are leftovers of a failed or killed reload."""
        self._drop_old(keep={state.current, state.previous})

    def _drop_old(self, *, keep: set[int | None]) -> None:
        for v in self.store.versions(self.kb):
            if v not in keep:
                self.store.drop(self.kb, v)
