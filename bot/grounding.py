"""Grounding check for generated answers: every sentence must be supported by a chunk it cites.

A sentence is supported when most of its content words (stemmed, minus stop words) occur in one
of the retrieved chunks it cites: 60%, or 75% for a sentence of fewer than five content words. An
uncited sentence may borrow the best-supporting chunk's number. Unsupported sentences are dropped,
citations to anything not retrieved are removed, and the surviving citations are renumbered in
order of first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.safety import defuse_mentions, is_injection
from bot.text import citations_in, cite, content_terms, is_list_item, strip_citations, units

SUPPORT_THRESHOLD = 0.6
SHORT_THRESHOLD = 0.75  # a short sentence ("Open the Settings app") must match almost word for word
SHORT_TERMS = 5


@dataclass(frozen=True)
class Checked:
    text: str  # the surviving sentences, renumbered
    used: tuple[int, ...]  # original source numbers, in their new order (new number = index + 1)
    dropped: int


def _support(terms: list[str], source_terms: set[str]) -> float:
    return sum(t in source_terms for t in terms) / len(terms) if terms else 0.0


def verify(answer: str, sources: Sequence[str], *, threshold: float = SUPPORT_THRESHOLD) -> Checked:
    """`sources[i]` is the text cited as `[i + 1]`."""
    source_terms = [set(content_terms(s)) for s in sources]
    kept: list[tuple[str, list[int]]] = []
    dropped = 0
    for sentence in units(answer):  # sentences and list items, citation markers kept
        body = strip_citations(sentence)
        terms = content_terms(body)
        cited = [n for n in citations_in(sentence) if 1 <= n <= len(sources)]
        candidates = cited or list(range(1, len(sources) + 1))
        scored = sorted(((_support(terms, source_terms[n - 1]), n) for n in candidates), reverse=True)
        needed = threshold if len(terms) >= SHORT_TERMS else max(threshold, SHORT_THRESHOLD)
        if not terms or is_injection(body) or not scored or scored[0][0] < needed:
            dropped += 1
            continue
        good = [n for s, n in scored if s >= needed] if cited else [scored[0][1]]
        kept.append((body, sorted(good)))

    order: list[int] = []
    for _, ns in kept:
        for n in ns:
            if n not in order:
                order.append(n)
    renumber = {n: i + 1 for i, n in enumerate(order)}
    lines = [cite(body, [renumber[n] for n in ns]) for body, ns in kept]
    text = "\n".join(lines) if any(is_list_item(b) for b, _ in kept) else " ".join(lines)
    return Checked(text=defuse_mentions(text), used=tuple(order), dropped=dropped)

