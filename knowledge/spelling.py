"""Typo repair against the help centre's own words, and how informative a word is in plain English.

People type "pasword" and "invocie" into chat. A word that is neither in the help centre nor an
English word, and is one or two edits from a help-centre word, is read as that word before searching
("my pasword" -> "my password"). English words are left alone, so "watch" never becomes "match".
The English word list and its frequencies come from the `pyspellchecker` package (offline data).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@functools.cache
def english_frequencies() -> dict[str, int]:
    """Word -> frequency in a large English corpus (pyspellchecker's list), loaded once."""
    from spellchecker import SpellChecker

    return dict(SpellChecker(distance=1).word_frequency.dictionary)


@functools.cache
def _stem_weights() -> tuple[dict[str, float], float]:
    from knowledge.lexical import stem_words, tokenize

    counts: Counter[str] = Counter()
    frequencies = english_frequencies()
    plain = [w for w in frequencies if w.isascii() and w.isalnum()]  # one word, one stem: in one batch
    for word, stem in zip(plain, stem_words(plain), strict=True):
        counts[stem] += frequencies[word]
    for word in frequencies.keys() - set(plain):  # accents, apostrophes, hyphens: tokenize as queries are
        for stem in tokenize(word):
            counts[stem] += frequencies[word]
    total = sum(counts.values())
    return {s: math.log(total / (n + 1)) for s, n in counts.items()}, math.log(total)


def english_idf(stem: str) -> float:
    """How informative a stemmed word is in general English: log(total / frequency). Rare and unknown
    words ("payroll", "xero") weigh most, everyday ones ("work", "need") least. It does not depend on
    the help centre, so it means the same on a 3-article and a 10,000-article help centre."""
    weights, unknown = _stem_weights()
    return weights.get(stem, unknown)


def unknown_word_weight() -> float:
    """The weight of a word English has never seen (brand names, jargon): the largest there is."""
    return _stem_weights()[1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or limit + 1 when over it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


class Speller:
    """Corrects words of a query to the help centre's vocabulary (symmetric-delete candidate lookup)."""

    def __init__(self, texts: Iterable[str]) -> None:
        _stem_weights()  # load the word list and its weights with the index, not on the first question
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w.lower().replace("'", "") for w in _WORD.findall(text))
        self.vocab = counts
        self._index: dict[str, list[str]] = {}
        for word in counts:
            if len(word) >= 4:
                for d in _deletes(word) | {word}:
                    self._index.setdefault(d, []).append(word)

    def _candidate(self, word: str) -> str | None:
        limit = 1 if len(word) < 7 else 2
        found: set[str] = set()
        for d in _deletes(word) | {word}:
            found.update(self._index.get(d, ()))
        best = [(self.vocab[c], c) for c in found if _distance(word, c, limit) <= limit]
        return max(best)[1] if best else None

    def correct(self, text: str) -> str:
        """The text with misspelt words replaced; everything else, case and punctuation, unchanged."""
        english = english_frequencies()

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            low = word.lower().replace("'", "")
            if len(low) < 4 or low in self.vocab or low in english:
                return word
            return self._candidate(low) or word

        return _WORD.sub(fix, text)
