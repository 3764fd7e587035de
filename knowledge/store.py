"""Chroma access: embedded `PersistentClient` by default, `HttpClient` for a shared `chroma run` server.

Chroma has no aliases or cross-collection transactions (platform-rules.md, Chroma), and copying a
whole collection per version costs about a millisecond a chunk. So each knowledge base is one
collection, ``sb-<kb>``, and every chunk records the versions it belongs to: it is visible in version
V when ``v_from <= V < v_to``. A reload adds only new chunks (``v_from = N``) and retires replaced
ones (``v_to = N``); a pointer (versions.py) says which V is live, so readers never see a half-built
version and the previous one stays whole for rollback.

An embedded client whose directory another process has written goes stale for good: every later read
that includes embeddings raises chromadb's ``InternalError: Error finding id`` until the process
restarts. So a call that fails that way closes the client, opens a fresh one for the same place and
runs once more (ChromaStore, ClientOpener).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import InternalError

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

KB_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
OPEN = 2_000_000_000  # v_to of a chunk that no version has retired
_PAGE = 2000


class InvalidKBName(ValueError):
    pass


def check_kb_name(name: str) -> str:
    if not KB_NAME.match(name):
        raise InvalidKBName(
            f"invalid knowledge-base name {name!r}: use 1-40 lower-case letters, digits, '-' or '_'"
        )
    return name


def collection_name(kb: str) -> str:
    return f"sb-{kb}"


def visible_in(version: int) -> dict[str, Any]:
    return {"$and": [{"v_from": {"$lte": version}}, {"v_to": {"$gt": version}}]}


def open_client(*, data_dir: Path, host: str | None = None, port: int = 8000) -> ClientAPI:
    """An embedded client under ``data_dir/chroma`` (one writer process), or a server client."""
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, settings=settings)
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


_SYSTEMS = threading.Lock()  # guards our use of chromadb's process-wide cache of embedded systems


class ClientOpener:
    """Opens the Chroma client for one place, and a really fresh one when the last has gone stale.

    chromadb keeps one embedded system per directory for the whole process, shared by every client of
    that directory, so a new client would get the stale one back. Before opening again, the system this
    opener got last time is dropped from that cache if it is still there (another client of the same
    directory holds it); it is not stopped, so its holders keep working until they let go of it.
    Other directories' systems are left alone. A server client needs none of this.
    """

    def __init__(self, *, data_dir: Path, host: str | None = None, port: int = 8000) -> None:
        self.data_dir, self.host, self.port = data_dir, host, port
        self._key = None if host else str(data_dir / "chroma")  # chromadb's cache key: the path
        self._system: object | None = None

    def __call__(self) -> ClientAPI:
        with _SYSTEMS:
            cache = SharedSystemClient._identifier_to_system
            if self._key is not None and self._system is not None and cache.get(self._key) is self._system:
                del cache[self._key]
            client = open_client(data_dir=self.data_dir, host=self.host, port=self.port)
            self._system = cache.get(self._key) if self._key is not None else None
            return client


@dataclass(eq=False)
class _Connection:
    """One client and the collections opened through it; replaced whole when the client is reopened."""

    client: ClientAPI
    generation: int = 0
    collections: dict[str, Collection] = field(default_factory=dict)
    usable: bool = True  # False once it is being (or failed to be) replaced


@dataclass(frozen=True)
class StoredChunk:
    record_id: str  # unique in the collection: f"{chunk_id}@{v_from}"
    text: str
    metadata: dict[str, Any]
    embedding: np.ndarray | None = None


class ChromaStore:
    """The few Chroma operations the index needs, with our naming, paging and version intervals.

    With ``reopen`` (a callable that opens a fresh client for the same place), a call that raises
    chromadb's ``InternalError`` closes the client, reopens it once for all threads, and runs again;
    a second failure is raised. Thread-safe: calls that fail on a client another thread has just
    replaced run again on the new one without reopening it a second time.
    """

    def __init__(self, client: ClientAPI, *, reopen: Callable[[], ClientAPI] | None = None) -> None:
        self._conn = _Connection(client)
        self._reopen = reopen
        self._lock = threading.Lock()

    @property
    def client(self) -> ClientAPI:
        return self._conn.client

    @property
    def generation(self) -> int:
        """How many times the client has been reopened."""
        return self._conn.generation

    def collection(self, kb: str) -> Collection:
        return self._call(kb, lambda col: col)

    def _collection(self, conn: _Connection, kb: str) -> Collection:
        col = conn.collections.get(kb)
        if col is None:
            col = conn.client.get_or_create_collection(
                collection_name(kb), configuration={"hnsw": {"space": "cosine"}},
                metadata={"kb": kb}, embedding_function=None,
            )
            conn.collections[kb] = col
        return col

    def _call(
        self, kb: str, op: Callable[Concatenate[Collection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``op(collection of kb, ...)``; once more on a fresh client if the client has gone stale."""
        conn = self._conn
        if not conn.usable:  # being replaced, or the last reopen failed
            conn = self._renew(conn, kb, "its last reopen failed")
        try:
            return op(self._collection(conn, kb), *args, **kwargs)
        except Exception as exc:
            stale = isinstance(exc, InternalError) or not conn.usable or conn is not self._conn
            if self._reopen is None or not stale:
                raise
            conn = self._renew(conn, kb, f"{type(exc).__name__}: {str(exc)[:200]}")
        return op(self._collection(conn, kb), *args, **kwargs)

    def _renew(self, stale: _Connection, kb: str, reason: str) -> _Connection:
        """Replace ``stale`` with a fresh client, unless another thread has already done so."""
        assert self._reopen is not None
        with self._lock:
            if self._conn is not stale:
                return self._conn
            stale.usable = False  # calls in flight on it run again on the new one, whatever they raise
            log.warning("Chroma call for knowledge base %r failed (%s): reopening the client (reopen #%d) "
                        "and retrying once", kb, reason, stale.generation + 1)
            close = getattr(stale.client, "close", None)  # releases chromadb's shared system
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            self._conn = _Connection(self._reopen(), generation=stale.generation + 1)
            return self._conn

    def add(self, kb: str, chunks: list[StoredChunk]) -> None:
        for start in range(0, len(chunks), _PAGE):
            part = chunks[start : start + _PAGE]
            self._call(
                kb, Collection.add,
                ids=[c.record_id for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata for c in part],
                embeddings=np.vstack([c.embedding for c in part]),  # type: ignore[misc]
            )

    def set_v_to(self, kb: str, record_ids: list[str], v_to: int) -> None:
        for start in range(0, len(record_ids), _PAGE):
            part = record_ids[start : start + _PAGE]
            self._call(kb, Collection.update, ids=part, metadatas=[{"v_to": v_to} for _ in part])

    def delete(self, kb: str, record_ids: list[str]) -> None:
        for start in range(0, len(record_ids), _PAGE):
            self._call(kb, Collection.delete, ids=record_ids[start : start + _PAGE])

    def count_visible(self, kb: str, version: int) -> int:
        return len(self._call(kb, Collection.get, where=visible_in(version), include=[])["ids"])

    def all_metadata(self, kb: str) -> list[tuple[str, dict[str, Any]]]:
        """Every record's id and metadata, all versions: what a reload plans from."""
        return [(c.record_id, c.metadata) for c in self._iter(kb, None, include_text=False)]

    def read_version(self, kb: str, version: int, *, with_embeddings: bool = False) -> Iterator[StoredChunk]:
        return self._iter(kb, visible_in(version), with_embeddings=with_embeddings)

    def _iter(
        self, kb: str, where: dict[str, Any] | None, *, with_embeddings: bool = False,
        include_text: bool = True,
    ) -> Iterator[StoredChunk]:
        include: Any = ["metadatas"] + (["documents"] if include_text else [])
        include += ["embeddings"] if with_embeddings else []
        offset = 0
        while True:
            page = self._call(kb, Collection.get, where=where, include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page["documents"] if include_text else None
            metas = page["metadatas"] or []
            embs = page["embeddings"] if with_embeddings else None
            for i, rid in enumerate(ids):
                yield StoredChunk(
                    record_id=rid,
                    text=docs[i] if docs else "",
                    metadata=dict(metas[i] or {}),
                    embedding=None if embs is None else np.asarray(embs[i], dtype=np.float32),
                )
            offset += len(ids)
