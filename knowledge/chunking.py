"""Split a ``SourceDocument`` into heading-aware, size-bounded ``Chunk`` values.

Sections start at ``#``..``######`` lines (not inside fenced code); each chunk carries its heading path so
retrieval sees "Refund policy > Annual plans" even when the body never repeats those words. A long section
is cut at paragraph, then line, then sentence, then word boundaries (hard cuts only as a last resort), and
each piece after the first repeats a short tail of the previous one so an answer spanning a cut survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.documents import Chunk, SourceDocument

CHUNKER_VERSION = "1"

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Boundaries tried in order when a piece is too long, with the separator that rejoins the parts.
_SPLITTERS = (
    (re.compile(r"\n[ \t]*\n\s*"), "\n\n"),  # paragraphs
    (re.compile(r"\n"), "\n"),  # lines (list items, table rows)
    (re.compile(r"(?<=[.!?])\s+"), " "),  # sentences
    (re.compile(r"\s+"), " "),  # words
)
_SENTENCE_END = re.compile(r"[.!?]\s+")


def chunker_fingerprint(max_chars: int, overlap_chars: int) -> str:
    """Identifies the chunking settings; stored chunks made under another fingerprint are stale."""
    return f"chunker-v{CHUNKER_VERSION}:max={max_chars}:overlap={overlap_chars}"


def chunk_document(doc: SourceDocument, *, max_chars: int = 1200, overlap_chars: int = 150) -> list[Chunk]:
    """Chunks of ``doc`` in reading order (ids ``doc_id#i``); none is empty or longer than ``max_chars``."""
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    if not 0 <= overlap_chars < max_chars:
        raise ValueError("overlap_chars must be at least 0 and smaller than max_chars")
    sections = _sections(doc.text, doc.title)
    if not sections and doc.text.strip():  # headings only: their words are the content
        sections = [_Section((), _headings_as_text(doc.text))]
    chunks: list[Chunk] = []
    for section in sections:
        for piece in _split(section.body, max_chars, overlap_chars):
            index = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{index}",
                    doc_id=doc.doc_id,
                    index=index,
                    text=piece,
                    title=doc.title,
                    headings=section.headings,
                )
            )
    return chunks


# --- sections -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    headings: tuple[str, ...]
    body: str


@dataclass
class _Open:
    """A heading on the current path; ``names`` holds it plus any body-less headings folded into it."""

    level: int
    names: tuple[str, ...]
    has_body: bool = False


def _sections(text: str, title: str) -> list[_Section]:
    """Non-empty sections with their heading paths; a body-less heading joins the next section's path."""
    sections: list[_Section] = []
    path: list[_Open] = []
    lines: list[str] = []
    fence = ""

    def close() -> None:
        body = "\n".join(lines).strip("\n").rstrip()
        lines.clear()
        if body.strip():
            sections.append(_Section(tuple(n for o in path for n in o.names), body))
            for heading in path:
                heading.has_body = True

    for line in text.split("\n"):
        fence = _next_fence(fence, line)
        match = None if fence or _FENCE.match(line) else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        close()
        level, name = len(match.group(1)), match.group(2).strip()
        carried: tuple[str, ...] = ()
        while path and path[-1].level >= level:
            popped = path.pop()
            if not popped.has_body:
                carried = popped.names + carried
        if not path and not carried and _same(name, title):
            continue  # the document title repeated as a heading: Chunk.title already carries it
        path.append(_Open(level, (*carried, name)))
    close()
    return sections


def _next_fence(fence: str, line: str) -> str:
    """The open code fence marker after ``line`` ("" when outside a fenced block)."""
    match = _FENCE.match(line)
    if match is None:
        return fence
    marker = match.group(1)
    if not fence:
        return marker
    closes = marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip().strip(marker[0])
    return "" if closes else fence


def _headings_as_text(text: str) -> str:
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(m.group(2).strip() if (m := _HEADING.match(line)) else line for line in lines if line)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# --- splitting ----------------------------------------------------------------------------------------


def _split(body: str, max_chars: int, overlap_chars: int) -> list[str]:
    """Pieces of at most ``max_chars``; each after the first starts with a tail of the previous one."""
    if len(body) <= max_chars:
        return [body]
    units = _units(body, max(max_chars - overlap_chars, 1), 0)
    pieces: list[str] = []
    current = ""
    for glue, unit in units:
        joined = f"{current}{glue}{unit}" if current else unit
        if len(joined) <= max_chars:
            current = joined
            continue
        pieces.append(current)
        tail = _tail(current, overlap_chars)
        with_overlap = f"{tail}{glue}{unit}" if tail else unit
        current = with_overlap if len(with_overlap) <= max_chars else unit
    pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def _units(text: str, limit: int, level: int) -> list[tuple[str, str]]:
    """``(glue, unit)`` pairs, each unit at most ``limit`` chars; ``glue`` rejoins it to the previous unit."""
    if len(text) <= limit:
        return [("", text)]
    if level == len(_SPLITTERS):
        return [("", text[i : i + limit]) for i in range(0, len(text), limit)]
    pattern, glue = _SPLITTERS[level]
    units: list[tuple[str, str]] = []
    for part in (p.strip() for p in pattern.split(text)):
        if not part:
            continue
        sub = _units(part, limit, level + 1)
        units.append((glue if units else "", sub[0][1]))
        units.extend(sub[1:])
    return units


def _tail(text: str, size: int) -> str:
    """The last ``size`` chars or fewer, starting at a sentence start, else a word start."""
    if size <= 0:
        return ""
    if len(text) <= size:
        return text
    tail = text[-size:]
    sentence = _SENTENCE_END.search(tail)
    if sentence and len(tail) - sentence.end() >= size // 2:
        return tail[sentence.end() :]
    space = re.search(r"\s", tail)
    return tail[space.end() :].lstrip() if space else tail
