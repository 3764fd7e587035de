"""Sentence and term handling shared by the extractive composer, grounding check and coverage rule."""

from __future__ import annotations

import re

from knowledge.lexical import tokenize

STOPWORDS = frozenset(tokenize(
    "a an the and or but if then so of to in on at by for with from into about as is are was were be "
    "been being do does did doing have has had having i me my we our you your it its this that these "
    "those there here what which who whom whose when where why how can could should would will shall "
    "may might must not no yes all any some each every more most other such only own same than too "
    "very just also up down out off over under again further once am he she they them their his her "
    "get got want need like please thanks hi hello"
))
_CITE = re.compile(r"\s*\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*_]*[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,2}[.)])\s+")


def content_terms(text: str) -> list[str]:
    """Stemmed tokens minus stop words: what a question is about."""
    return [t for t in tokenize(text) if t not in STOPWORDS and len(t) > 1]


def is_list_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line))


def units(text: str) -> list[str]:
    """Split Markdown-like text into answerable units: sentences of paragraphs, and each list item
    (a step or a bullet) as one unit. Blank lines and headings separate paragraphs."""
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = " ".join(paragraph)
            out.extend(s.strip() for s in _SENTENCE_END.split(joined) if s.strip())
            paragraph.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("```"):
            flush()
        elif is_list_item(line):
            flush()
            out.append(line)
        else:
            paragraph.append(line.lstrip("> ").strip())
    flush()
    return out


def citations_in(sentence: str) -> list[int]:
    return [int(m) for m in _CITE.findall(sentence)]


def strip_citations(sentence: str) -> str:
    return _CITE.sub("", sentence).strip()


def sentences(text: str) -> list[str]:
    """Sentences of a generated answer (list items count as sentences), citation markers kept."""
    return units(text)


def cite(body: str, numbers: list[int] | tuple[int, ...]) -> str:
    """Append citation markers, before a sentence's final punctuation: "… in 30 days [1]."."""
    marks = "".join(f"[{n}]" for n in numbers)
    body = body.rstrip()
    if body and body[-1] in ".!?" and not body.endswith("..."):
        return f"{body[:-1]} {marks}{body[-1]}"
    return f"{body} {marks}"
