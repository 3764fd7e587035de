"""Value types of the knowledge base: a loaded help-centre document, a chunk of it, a skipped file."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceDocument:
    """One help-centre article as loaded from disk (or from an eval corpus).

    ``doc_id`` is stable across reloads (the path relative to the help-centre root, with forward
    slashes, unless front matter gives an ``id``). ``text`` is Markdown-like: headings as ``#`` lines,
    so one chunker serves Markdown, HTML and plain text. ``content_hash`` is the SHA-256 of what was
    loaded (text and metadata), so a reload can tell changed documents from unchanged ones.
    """

    doc_id: str
    title: str
    text: str
    content_hash: str
    url: str = ""
    source_path: str = ""
    fmt: str = "markdown"  # markdown | html | text | pdf | json
    category: str = ""  # first folder under the help-centre root ("billing"), "" at the root
    tags: tuple[str, ...] = ()
    audience: str = ""
    updated: str = ""


@dataclass(frozen=True)
class Skipped:
    """A file the loader refused, with a short reason a person can act on."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    """A size-bounded piece of a document, with the heading path that locates it."""

    chunk_id: str  # f"{doc_id}#{index}"
    doc_id: str
    index: int
    text: str  # the chunk body, without the title/headings prefix
    title: str
    headings: tuple[str, ...] = ()

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)

    def search_text(self) -> str:
        """What is embedded and lexically indexed: title and heading path give context to the body."""
        return with_heading(self.title, self.heading_path, self.text)


def heading_line(title: str, heading_path: str) -> str:
    """"Title > Section > Subsection": where a chunk sits in its article."""
    return " > ".join(h for h in (title, heading_path) if h)


def with_heading(title: str, heading_path: str, text: str) -> str:
    """The heading line in front of a chunk's text, as it is embedded and indexed."""
    head = heading_line(title, heading_path)
    return f"{head}\n{text}" if head else text
