"""BM25 (bm25s) with Snowball stemming, over short title-prefixed windows of each chunk.

Scoring short windows and keeping a chunk's best window rewards query words that occur close
together; on the dev sets it beat whole-document BM25 by +0.05 MRR@10 (README, Retrieval quality).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_stemmer = Stemmer.Stemmer("english")
logging.getLogger("bm25s").setLevel(logging.WARNING)


def tokenize(text: str) -> list[str]:
    """Lower-case, strip accents, split on non-alphanumerics, Snowball-stem."""
    folded = text.lower()
    if not folded.isascii():  # accents off ("café" -> "cafe"); most help-centre text skips this
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = [w.replace("'", "") for w in _WORD.findall(folded)]
    return list(_stemmer.stemWords(words))


def stem_words(words: list[str]) -> list[str]:
    """Snowball stems of lower-case ASCII words, in one batch (what `tokenize` does to each)."""
    return list(_stemmer.stemWords(words))


def windows(prefix: list[str], body: list[str], *, size: int, stride: int) -> list[list[str]]:
    """Overlapping windows of `size` tokens every `stride`, the last one ending at the end of body."""
    if len(body) <= size:
        return [prefix + body]
    starts = list(range(0, len(body) - size + 1, stride))
    if starts[-1] + size < len(body):
        starts.append(len(body) - size)
    return [prefix + body[s : s + size] for s in starts]


class WindowedBM25:
    """BM25 over windows; `chunk_scores` gives each chunk the score of its best window."""

    def __init__(
        self, chunks: Sequence[tuple[list[str], list[str]]], *, size: int = 16, stride: int = 8,
        k1: float = 1.2, b: float = 0.75,
    ) -> None:
        """`chunks`: (prefix, body) tokens per chunk (`tokenize`); the prefix (title, headings) starts
        every window."""
        self.size = len(chunks)
        corpus: list[list[str]] = []
        starts = []
        for prefix, body in chunks:
            starts.append(len(corpus))
            corpus.extend(windows(prefix, body, size=size, stride=stride))
        self._starts = np.array(starts, dtype=np.int64)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if corpus:
            self._bm25.index([w or ["\u2205"] for w in corpus], show_progress=False)

    def chunk_scores(self, query: str) -> np.ndarray:
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        terms = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not terms:
            return np.zeros(self.size, dtype=np.float32)
        per_window = np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
        return np.maximum.reduceat(per_window, self._starts)
