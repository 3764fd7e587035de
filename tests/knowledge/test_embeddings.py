"""The query-embedding cache under worker threads (issue 9: one engine shared by every thread)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from knowledge.embeddings import LRUCache, MiniLMEmbedder


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as the interpreter can, so races show up within a second or two."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_lru_cache_keeps_the_most_recent_entries() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)  # evicts "b"
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_lru_cache_survives_eight_threads_hitting_and_evicting(busy_switching: None) -> None:
    # The unlocked OrderedDict version raised KeyError from move_to_end here (2 in 8M calls measured;
    # this run makes about 1M, so it catches the old code only some of the time): one thread's hit was evicted by another between get and move_to_end.
    cache: LRUCache[int, int] = LRUCache(4)
    errors: list[BaseException] = []
    wrong: list[tuple[int, int]] = []

    def work(seed: int) -> None:
        try:
            for i in range(120_000):
                key = (i * 7 + seed) % 6
                hit = cache.get(key)
                if hit is None:
                    cache.put(key, key * 10)
                elif hit != key * 10:
                    wrong.append((key, hit))
        except BaseException as exc:  # noqa: BLE001 - the point is to see any of them
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and wrong == []
    assert len(cache) <= 4


def test_encode_query_from_threads_matches_sequential(embedder: MiniLMEmbedder) -> None:
    questions = [f"how do I reset my password {i % 12}" for i in range(240)]
    shared = MiniLMEmbedder(query_cache_size=5)  # smaller than the distinct questions: constant eviction
    expected = {q: embedder.raw_query_embedding(q) for q in set(questions)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(shared.encode_query, questions))
    for q, vec in zip(questions, got, strict=True):
        assert np.allclose(vec, expected[q], atol=1e-5)
