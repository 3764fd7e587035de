"""Chroma access: embedded `PersistentClient` by default, `HttpClient` for a shared `chroma run` server.

Chroma has no aliases or cross-collection transactions (platform-rules.md, Chroma), and copying a
whole collection per version costs about a millisecond a chunk. So each knowledge base is one
collection, ``sb-<kb>``, and every chunk records the versions it belongs to: it is visible in version
V when ``v_from <= V < v_to``. A reload adds only new chunks (``v_from = N``) and retires replaced
ones (``v_to = N``); a pointer (versions.py) says which V is live, so readers never see a half-built
version and the previous one stays whole for rollback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

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


@dataclass(frozen=True)
class StoredChunk:
    record_id: str  # unique in the collection: f"{chunk_id}@{v_from}"
    text: str
    metadata: dict[str, Any]
    embedding: np.ndarray | None = None


class ChromaStore:
    """The few Chroma operations the index needs, with our naming, paging and version intervals."""

    def __init__(self, client: ClientAPI) -> None:
        self.client = client
        self._collections: dict[str, Collection] = {}

    def collection(self, kb: str) -> Collection:
        col = self._collections.get(kb)
        if col is None:
            col = self.client.get_or_create_collection(
                collection_name(kb), configuration={"hnsw": {"space": "cosine"}},
                metadata={"kb": kb}, embedding_function=None,
            )
            self._collections[kb] = col
        return col

    def add(self, kb: str, chunks: list[StoredChunk]) -> None:
        col = self.collection(kb)
        for start in range(0, len(chunks), _PAGE):
            part = chunks[start : start + _PAGE]
            col.add(
                ids=[c.record_id for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata for c in part],
                embeddings=np.vstack([c.embedding for c in part]),  # type: ignore[misc]
            )

    def set_v_to(self, kb: str, record_ids: list[str], v_to: int) -> None:
        col = self.collection(kb)
        for start in range(0, len(record_ids), _PAGE):
            part = record_ids[start : start + _PAGE]
            col.update(ids=part, metadatas=[{"v_to": v_to} for _ in part])

    def delete(self, kb: str, record_ids: list[str]) -> None:
        col = self.collection(kb)
        for start in range(0, len(record_ids), _PAGE):
            col.delete(ids=record_ids[start : start + _PAGE])

    def count_visible(self, kb: str, version: int) -> int:
        return len(self.collection(kb).get(where=visible_in(version), include=[])["ids"])

    def all_metadata(self, kb: str) -> list[tuple[str, dict[str, Any]]]:
        """Every record's id and metadata, all versions: what a reload plans from."""
        return [(c.record_id, c.metadata) for c in self._iter(kb, None, include_text=False)]

    def read_version(self, kb: str, version: int, *, with_embeddings: bool = False) -> Iterator[StoredChunk]:
        return self._iter(kb, visible_in(version), with_embeddings=with_embeddings)

    def _iter(
        self, kb: str, where: dict[str, Any] | None, *, with_embeddings: bool = False,
        include_text: bool = True,
    ) -> Iterator[StoredChunk]:
        col = self.collection(kb)
        include: Any = ["metadatas"] + (["documents"] if include_text else [])
        include += ["embeddings"] if with_embeddings else []
        offset = 0
        while True:
            page = col.get(where=where, include=include, limit=_PAGE, offset=offset)
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
