"""The default answer backend: no model, offline, deterministic.

It composes a short answer from the most relevant units (sentences, or a whole step list) of the top
retrieved chunks, each followed by the `[n]` of the article it came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.safety import defuse_mentions, is_injection
from bot.text import cite, content_terms, is_list_item, units
from bot.types import Citation
from knowledge.retrieval import Hit

_MAX_UNIT_CHARS = 600


@dataclass(frozen=True)
class _Unit:
    hit_rank: int
    position: int
    text: str
    score: float


_HOW_TO = re.compile(r"\b(how (do|can|should|would) (i|we|you)|how to|steps?|set ?up|turn (on|off)|enable|"
                     r"disable|where (do|can) (i|we)|walk me through)\b", re.IGNORECASE)
_STEP = re.compile(r"^\s*\d{1,2}[.)]\s+")
_HEADING = re.compile(r"\n(?=#{1,6} )")


def _candidates(hit: Hit, rank: int, q: set[str], idf: dict[str, float], *, how_to: bool = False
                ) -> list[_Unit]:
    found: list[_Unit] = []
    prior = 0.35 * hit.score  # the article's own relevance
    best_chunk = " ".join(hit.text.split())
    offset = 0
    # section by section: a list never runs on into the next section's list
    for section in _HEADING.split(hit.answer_text):
        parts = units(section)
        i = 0
        while i < len(parts):
            # a run of list items is one unit, with the sentence that leads into it ("To do X:")
            j = i + 1
            lead_in = parts[i].rstrip().endswith(":") and not is_list_item(parts[i])
            if lead_in and j < len(parts) and is_list_item(parts[j]) or is_list_item(parts[i]):
                while j < len(parts) and is_list_item(parts[j]):
                    j += 1
            block = parts[i:j]
            text = "\n".join(block) if len(block) > 1 else block[0]
            terms = set(content_terms(text))
            usable = not (len(block) == 1 and lead_in)  # a lead-in with nothing after it says nothing
            if usable and _informative(text) and len(text) <= _MAX_UNIT_CHARS * 2:
                overlap = sum(idf.get(t, 0.0) for t in q & terms)
                # units from the chunk that retrieval found closest to the question carry its meaning
                in_best = 0.25 if " ".join(block[0].split())[:60] in best_chunk else 0.0
                # "how do I ..." is answered by the numbered steps, not by the sentence about the feature
                steps = 0.3 if how_to and len(block) > 1 and any(_STEP.match(b) for b in block) else 0.0
                position = offset + i
                score = (overlap / math.sqrt(max(len(terms), 4)) + prior + in_best + steps
                         + 0.1 / (position + 1))
                found.append(_Unit(rank, position, text, score))
            i = j
        offset += len(parts)
    return found


_NAVIGATION = re.compile(
    r"^(see|read|learn more|for more|for details|related|this (article|page|guide)\b)", re.IGNORECASE
)


_SEE = re.compile(r"\bsee\b", re.IGNORECASE)


def _informative(text: str) -> bool:
    """Content a reader can act on: not a cross-reference, not a description of the article itself,
    not an instruction planted for the assistant."""
    lines = [line for line in text.splitlines() if line.strip()]
    pointers = sum(bool(_SEE.search(line)) for line in lines)
    return (len(text.split()) >= 4 and not _NAVIGATION.match(text.strip()) and not is_injection(text)
            and not (len(lines) > 1 and pointers * 2 >= len(lines)))


def citation(n: int, hit: Hit, snippet: str) -> Citation:
    """The `[n]` source of an answer: the hit's article, with the text that supports the answer."""
    return Citation(n=n, title=hit.title, url=hit.url, doc_id=hit.doc_id,
                    snippet=defuse_mentions(snippet)[:500], chunk_id=hit.chunk_id)


def compose(
    question: str,
    hits: Sequence[Hit],
    *,
    max_units: int = 3,
    max_sources: int = 3,
    min_share: float = 0.5,
    other_share: float = 0.8,
) -> tuple[str, tuple[Citation, ...]]:
    """A Markdown answer whose every unit carries its citation, and the citations it uses."""
    top = list(hits[:max_sources])
    if not top:
        return "", ()
    q = set(content_terms(question))
    texts = [set(content_terms(h.answer_text)) for h in top]
    idf = {t: 1.0 + math.log((1 + len(top)) / (1 + sum(t in s for s in texts))) for t in q}
    how_to = bool(_HOW_TO.search(question))
    pool = [u for rank, h in enumerate(top) for u in _candidates(h, rank, q, idf, how_to=how_to)]
    if not pool:
        return "", ()
    best = sorted(pool, key=lambda u: -u.score)
    # the engine put the article that says most about the question first: the answer leads with its
    # best unit, so the first sentence answers; the rest of that article follows in reading order
    lead = [u for u in best if u.hit_rank == 0] or best
    first = lead[0]
    chosen = [first]
    # another article only when one of its units is nearly as good as the lead's best: one
    # article unless the question spans several
    for rank in range(len(top)):
        own = [u for u in best if u.hit_rank == rank and u not in chosen]
        if (own and rank != first.hit_rank and own[0].score >= other_share * first.score
                and len(chosen) < max_units):
            chosen.append(own[0])
    for u in lead[1:]:  # then more of the lead article
        if len(chosen) >= max_units:
            break
        if u not in chosen and u.hit_rank == first.hit_rank and u.score >= min_share * first.score:
            chosen.append(u)
    rest = sorted(chosen[1:], key=lambda u: (u.hit_rank != first.hit_rank, u.hit_rank, u.position))
    chosen = [first, *rest]

    numbers: dict[int, int] = {}
    lines: list[str] = []
    support: dict[int, list[str]] = {}
    for u in chosen:
        n = numbers.setdefault(u.hit_rank, len(numbers) + 1)
        support.setdefault(u.hit_rank, []).append(u.text)
        body = defuse_mentions(u.text)
        if "\n" in body:  # a step list: cite every step
            lines.append("\n".join(cite(step, [n]) for step in body.splitlines()))
        else:
            lines.append(cite(body, [n]))
    citations = tuple(
        citation(n, top[r], " ".join(support[r])) for r, n in sorted(numbers.items(), key=lambda kv: kv[1])
    )
    return _join(lines), citations


def _join(lines: list[str]) -> str:
    """Sentences flow as a paragraph; step lists stand on their own lines."""
    out = ""
    for line in lines:
        if not out:
            out = line
        elif "\n" in line or is_list_item(line) or is_list_item(out.splitlines()[-1]):
            out += "\n\n" + line
        else:
            out += " " + line
    return out
