"""Incremental, atomic, reversible reloads over version intervals (see store.py).

A reload to version N: undo what an abandoned reload or a rolled-back version left (chunks newer than
the live version), compare content hashes with the live version, embed only new and changed
documents and add their chunks with ``v_from = N``, retire replaced and removed chunks with
``v_to = N``, check the count, then move the pointer. Until that last step readers still get the
live version, whole; a failure undoes the partial work, and a kill is undone by the next reload.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from knowledge.chunking import chunk_document, chunker_fingerprint
from knowledge.documents import Chunk, Skipped, SourceDocument, with_heading
from knowledge.embeddings import MODEL_NAME, MiniLMEmbedder
from knowledge.store import OPEN, ChromaStore, StoredChunk
from knowledge.versions import PointerState, ReloadLock, VersionPointer

Progress = Callable[[str, int, int], None]  # (stage, done, total)
_SLICE = 512  # chunks embedded per slice; each slice is written while the next one embeds


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
            "version": self.version, "documents": self.documents, "added": len(self.added),
            "updated": len(self.updated), "removed": len(self.removed),
            "unchanged": len(self.unchanged), "skipped": len(self.skipped), "chunks": self.chunks,
            "chunks_embedded": self.chunks_embedded, "seconds": round(self.seconds, 3),
        }


def index_hash(doc: SourceDocument, pipeline: str) -> str:
    """Content hash plus pipeline fingerprint: a chunker or model change re-embeds everything."""
    return hashlib.sha256(f"{doc.content_hash}|{pipeline}".encode()).hexdigest()


def chunk_metadata(doc: SourceDocument, chunk: Chunk, doc_hash: str, version: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": doc.doc_id, "doc_hash": doc_hash, "chunk_id": chunk.chunk_id,
        "chunk_index": chunk.index, "title": doc.title, "headings": chunk.heading_path,
        "url": doc.url, "category": doc.category, "audience": doc.audience,
        "updated": doc.updated, "source_path": doc.source_path, "v_from": version, "v_to": OPEN,
    }
    if doc.tags:  # Chroma rejects empty lists
        meta["tags"] = list(doc.tags)
    return meta


def search_text(text: str, meta: dict[str, Any]) -> str:
    """A stored chunk's text as it is embedded: `with_heading` from its metadata."""
    return with_heading(str(meta.get("title") or ""), str(meta.get("headings") or ""), text)


@dataclass
class _Plan:
    version: int
    base: int | None
    live: dict[str, tuple[str, list[str]]]  # doc id -> (doc hash, record ids) visible in base
    abandoned: list[str]  # records added by versions newer than base
    reopen: list[str]  # records that a version newer than base retired
    expired: list[str]  # records retired at or before base: visible in no kept version


def plan(records: list[tuple[str, dict[str, Any]]], state: PointerState) -> _Plan:
    base = state.current
    b = base or 0
    newest = max([b, state.previous or 0] + [int(m.get("v_from", 0)) for _, m in records]
                 + [int(m.get("v_to", 0)) for _, m in records if m.get("v_to", OPEN) < OPEN])
    live: dict[str, tuple[str, list[str]]] = {}
    abandoned, reopen, expired = [], [], []
    for rid, m in records:
        v_from, v_to = int(m.get("v_from", 0)), int(m.get("v_to", OPEN))
        if v_from > b:
            abandoned.append(rid)
            continue
        if b < v_to < OPEN:
            reopen.append(rid)
        if v_to <= b:
            expired.append(rid)
        else:
            doc = live.setdefault(str(m.get("doc_id")), (str(m.get("doc_hash")), []))
            doc[1].append(rid)
    return _Plan(newest + 1, base, live, abandoned, reopen, expired)


class Reloader:
    def __init__(
        self,
        *,
        kb: str,
        store: ChromaStore,
        embedder: MiniLMEmbedder,
        pointer: VersionPointer,
        lock: ReloadLock,
        max_chars: int = 400,
        overlap_chars: int = 100,
    ) -> None:
        self.kb = kb
        self.store = store
        self.embedder = embedder
        self.pointer = pointer
        self.lock = lock
        self.max_chars = max_chars
        self.overlap_chars = overlap_chars
        self.pipeline = f"{MODEL_NAME}|{chunker_fingerprint(max_chars, overlap_chars)}"

    def chunks(self, doc: SourceDocument) -> list[Chunk]:
        return chunk_document(doc, max_chars=self.max_chars, overlap_chars=self.overlap_chars)

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

    def _undo_newer_than_base(self, p: _Plan) -> None:
        self.store.delete(self.kb, p.abandoned)
        self.store.set_v_to(self.kb, p.reopen, OPEN)

    def _run_locked(
        self, documents: Sequence[SourceDocument], skipped: Sequence[Skipped], progress: Progress,
        allow_empty: bool,
    ) -> ReloadReport:
        started = time.perf_counter()
        state = self.pointer.read()
        p = plan(self.store.all_metadata(self.kb), state)
        self._undo_newer_than_base(p)
        if not documents and p.live and not allow_empty:
            raise ReloadError(
                f"refusing to replace {len(p.live)} documents with an empty knowledge base "
                "(no loadable files); pass --allow-empty if that is what you want"
            )

        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        fresh: list[tuple[SourceDocument, str]] = []
        seen: set[str] = set()
        for doc in documents:
            seen.add(doc.doc_id)
            h = index_hash(doc, self.pipeline)
            prior = p.live.get(doc.doc_id)
            if prior and prior[0] == h:
                unchanged.append(doc.doc_id)
            else:
                (updated if prior else added).append(doc.doc_id)
                fresh.append((doc, h))
        removed = sorted(set(p.live) - seen)
        retire = [rid for d in [*updated, *removed] for rid in p.live[d][1]]
        kept = sum(len(p.live[d][1]) for d in unchanged)

        n = p.version
        new_chunks = [
            StoredChunk(f"{c.chunk_id}@{n}", c.text, chunk_metadata(doc, c, h, n))
            for doc, h in fresh for c in self.chunks(doc)
        ]
        lost_lock = False
        try:
            self._embed_and_write(new_chunks, progress)
            self.store.set_v_to(self.kb, retire, n)
            expected = kept + len(new_chunks)
            stored = self.store.count_visible(self.kb, n)
            if stored != expected:
                raise ReloadError(f"index check failed: {stored} chunks visible, {expected} expected")
            if not self.lock.held():
                lost_lock = True
                raise ReloadError("lost the reload lock while reloading (it expired); nothing was switched")
            progress("write", len(new_chunks), len(new_chunks))
        except BaseException:
            # Without the lock, undoing could remove a new holder's work; the next reload undoes ours.
            if not lost_lock:
                self._undo_newer_than_base(plan(self.store.all_metadata(self.kb), state))
            raise

        report = ReloadReport(
            kb=self.kb, version=n, previous=p.base, added=added, updated=updated, removed=removed,
            unchanged=unchanged, skipped=list(skipped), chunks=expected,
            chunks_embedded=len(new_chunks), seconds=time.perf_counter() - started,
        )
        reports = {k: v for k, v in state.reports.items() if k == str(p.base)}
        reports[str(n)] = report.summary()
        self.pointer.swap(PointerState(current=n, previous=p.base, swapped_at=time.time(), reports=reports))
        self.store.delete(self.kb, p.expired)  # only the live version and the one before it are kept
        return report

    def _embed_and_write(self, chunks: list[StoredChunk], progress: Progress) -> None:
        """Embed slice by slice while a writer thread adds the previous slice to Chroma, so the
        store's write cost hides behind the model's (ingest throughput, README Performance)."""
        total, done = len(chunks), 0
        progress("embed", 0, total)
        progress("write", 0, total)

        def step(k: int) -> None:
            nonlocal done
            done += k
            progress("embed", done, total)

        written = 0

        def write(part: list[StoredChunk]) -> None:
            nonlocal written
            self.store.add(self.kb, part)
            written += len(part)
            progress("write", written, total)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-writer") as writer:
            pending: list[Future[None]] = []
            for start in range(0, total, _SLICE):
                part = chunks[start : start + _SLICE]
                vectors = self.embedder.encode([search_text(c.text, c.metadata) for c in part], on_batch=step)
                ready = [StoredChunk(c.record_id, c.text, c.metadata, vectors[i]) for i, c in enumerate(part)]
                pending.append(writer.submit(write, ready))
                for f in [f for f in pending if f.done()]:
                    f.result()  # surface a write error early
            for f in pending:
                f.result()

    def rollback(self) -> PointerState:
        if not self.lock.acquire():
            raise ReloadInProgress(f"a reload of '{self.kb}' is running ({self.lock.holder()}); try later")
        try:
            state = self.pointer.read()
            if state.previous is None:
                raise ReloadError(f"knowledge base '{self.kb}' has no previous version to roll back to")
            new = PointerState(current=state.previous, previous=state.current, swapped_at=time.time(),
                               reports=state.reports)
            self.pointer.swap(new)
            return new
        finally:
            self.lock.release()
