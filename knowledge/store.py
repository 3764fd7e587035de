"""Chroma access: embedded `PersistentClient` by default, `HttpClient` for a shared `chroma run` server.

Chroma has no aliases or cross-collection transactions (platform-rules.md, Chroma), so each index
version is its own collection, ``sb-<kb>-v<NNNNNN>``; a pointer (versions.py) says which one is live.
"""

from __future__ import annotations

import contextlib
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
from chromadb.errors import NotFoundError

KB_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_PAGE = 2000


class InvalidKBName(ValueError):
    pass


def check_kb_name(name: str) -> str:
    if not KB_NAME.match(name):
        raise InvalidKBName(
            f"invalid knowledge-base name {name!r}: use 1-40 lower-case letters, digits, '-' or '_'"
        )
    return name


def collection_name(kb: str, version: int) -> str:
    return f"sb-{kb}-v{version:06d}"


def parse_version(kb: str, name: str) -> int | None:
    prefix = f"sb-{kb}-v"
    if name.startswith(prefix) and name[len(prefix) :].isdigit():
        return int(name[len(prefix) :])
    return None


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
    chunk_id: str
    text: str
    metadata: dict[str, Any]
    embedding: np.ndarray | None = None


class ChromaStore:
    """The few Chroma operations the index needs, with our naming and paging."""

    def __init__(self, client: ClientAPI) -> None:
        self.client = client

    def versions(self, kb: str) -> list[int]:
        found = (parse_version(kb, c.name) for c in self.client.list_collections())
        return sorted(v for v in found if v is not None)

    def create(self, kb: str, version: int) -> Collection:
        return self.client.create_collection(
            collection_name(kb, version),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"kb": kb, "version": version},
            embedding_function=None,
        )

    def get(self, kb: str, version: int) -> Collection:
        return self.client.get_collection(collection_name(kb, version), embedding_function=None)

    def drop(self, kb: str, version: int) -> None:
        with contextlib.suppress(NotFoundError):  # already gone: dropping is idempotent
            self.client.delete_collection(collection_name(kb, version))

    @staticmethod
    def add(col: Collection, chunks: list[StoredChunk]) -> None:
        for start in range(0, len(chunks), _PAGE):
            part = chunks[start : start + _PAGE]
            col.add(
                ids=[c.chunk_id for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata for c in part],
                embeddings=np.vstack([c.embedding for c in part]),  # type: ignore[misc]
            )

    @staticmethod
    def iter_all(col: Collection, *, with_embeddings: bool = False) -> Iterator[StoredChunk]:
        include: Any = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        offset = 0
        while True:
            page = col.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page["documents"] or []
            metas = page["metadatas"] or []
            embs = page["embeddings"] if with_embeddings else None
            for i, cid in enumerate(ids):
                yield StoredChunk(
                    chunk_id=cid,
                    text=docs[i],
                    metadata=dict(metas[i] or {}),
                    embedding=None if embs is None else np.asarray(embs[i], dtype=np.float32),
                )
            offset += len(ids)
