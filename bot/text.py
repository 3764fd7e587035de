"""Sentence and term handling shared by the extractive composer, grounding check and coverage rule."""

from __future__ import annotations

import re

from knowledge.lexical import tokenize

STOPWORDS = frozenset(tokenize(
    "a about above after again against all am an and any are as at be because been before being below "
    "between both but by can could did do does doing down during each few for from further had has have "
    "having he her here hers herself him himself his how i if in into is it its itself just me more most "
    "my myself no nor not now of off on once only or other our ours ourselves out over own same she "
    "should so some such than that the their theirs them themselves then there these they this those "
    "through to too under until up very was we were what when where which while who whom why will with "
    "would you your yours yourself yourselves also may might must shall need needs able get got go going "
    "make use used want wants like one thing things someone something anyone anything yes please tell "
    "know help still eligible entitled allowed qualify thanks hi hello"
))
# Words of chat, not of the question's subject: they say nothing about what an article must cover.
CHAT_FILLER = frozenset(tokenize(
    "hey hiya pls plz thx ty quick question q somebody folks guys ok okay really actually again "
    "anybody anymore doesnt dont cant wont isnt arent didnt havent im ive id youre way possible "
    "work working works worked happen happens happened problem issue issues stuck wrong right "
    "fine sure trying tried try"
))
_CITE = re.compile(r"\s*\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*_]*[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,2}[.)])\s+")


def content_terms(text: str) -> list[str]:
    """Stemmed tokens minus stop words: what a question is about."""
    return [t for t in tokenize(text) if t not in STOPWORDS and len(t) > 1]


def question_terms(text: str) -> list[str]:
    """What a question asks about, for the coverage decision: content terms minus chat filler."""
    return [t for t in content_terms(text) if t not in CHAT_FILLER]


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


def cite(body: str, numbers: list[int] | tuple[int, ...]) -> str:
    """Append citation markers, before a sentence's final punctuation: "… in 30 days [1]."."""
    marks = "".join(f"[{n}]" for n in numbers)
    body = body.rstrip()
    if body and body[-1] in ".!?" and not body.endswith("..."):
        return f"{body[:-1]} {marks}{body[-1]}"
    return f"{body} {marks}"
