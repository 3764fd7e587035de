"""Load a help-centre folder (Markdown, HTML, plain text, PDF) into ``SourceDocument`` values.

Every bad file is skipped with a reason a person can act on ("empty file", "binary file", ...) while the
rest of the folder loads; only a missing root raises. Text comes out Markdown-like (``#`` heading lines,
``- `` list items, blank lines between paragraphs) so one chunker serves every format.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from knowledge.documents import LoadResult, Skipped, SourceDocument
from knowledge.html_text import extract as extract_html

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".pdf": "pdf",
}
# Files a help-centre export carries alongside its articles; ignored without a Skipped entry.
NOISE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".css", ".js"})

_BINARY_SNIFF_BYTES = 8192
_SHORT_TITLE = 120
_MB = 1024 * 1024
_EMPTY_REASONS = {"pdf": "no extractable text (scanned PDF?)", "html": "no text in the page's main content"}


class LoadError(Exception):
    """A file that cannot be loaded; ``reason`` is short and says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Parsed:
    """What a format parser extracts; the common fields are filled in by ``load_file``."""

    title: str
    text: str
    url: str = ""
    tags: tuple[str, ...] = ()
    audience: str = ""
    updated: str = ""
    doc_id: str = ""


# --- folder -------------------------------------------------------------------------------------------


def load_folder(
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_file: Callable[[Path], None] | None = None,
) -> LoadResult:
    """Load every supported file under ``root`` (sorted, hidden entries skipped); never raises for a bad file.

    ``on_file(path)`` is called after each file that was loaded or skipped (not for ignored noise such as
    images), e.g. to advance a progress bar. A ``root`` that is a file loads just that file.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"help-centre folder not found: {root}")
    base = root.parent if root.is_file() else root
    documents: list[SourceDocument] = []
    skipped: list[Skipped] = []
    first_path: dict[str, str] = {}
    paths = [root] if root.is_file() else _walk(root, skipped)
    for path in paths:
        rel = path.relative_to(base).as_posix()
        try:
            doc = load_file(path, root=base, max_bytes=max_bytes)
        except LoadError as exc:
            skipped.append(Skipped(path=rel, reason=exc.reason))
        else:
            if doc.doc_id in first_path:
                reason = f"duplicate id '{doc.doc_id}' (also in {first_path[doc.doc_id]})"
                skipped.append(Skipped(path=rel, reason=reason))
            else:
                first_path[doc.doc_id] = rel
                documents.append(doc)
        if on_file is not None:
            on_file(path)
    return LoadResult(documents=documents, skipped=skipped)


def _walk(root: Path, skipped: list[Skipped]) -> list[Path]:
    """Files under ``root``, sorted, minus hidden and noise files; unreadable folders go to ``skipped``."""

    def on_error(exc: OSError) -> None:
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else "."
        skipped.append(Skipped(path=where, reason=f"cannot read: {exc.strerror or exc}"))

    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(folder, name) for name in filenames if not _ignored(name))
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _ignored(name: str) -> bool:
    return name.startswith(".") or Path(name).suffix.lower() in NOISE_SUFFIXES


# --- one file -----------------------------------------------------------------------------------------


def load_file(path: Path, *, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceDocument:
    """Load one file; ``path`` must lie under ``root``. Raises ``LoadError`` with a readable reason."""
    rel = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise LoadError(f"unsupported file type {suffix or '(no extension)'}")
    data = _read_bytes(path, max_bytes)
    if fmt == "pdf":
        parsed = _parse_pdf(data, path.stem)
    else:
        if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
            raise LoadError("binary file")
        text = _decode(data)
        if fmt == "markdown":
            parsed = _parse_markdown(text, path.stem)
        elif fmt == "html":
            parsed = _parse_html(text, path.stem)
        else:
            parsed = _parse_text(text, path.stem)
    if not parsed.text.strip():
        raise LoadError(_EMPTY_REASONS.get(fmt, "empty file") if data.strip() else "empty file")
    category = rel.split("/")[0] if "/" in rel else ""
    return SourceDocument(
        doc_id=parsed.doc_id or rel,
        title=parsed.title,
        text=parsed.text,
        content_hash=_content_hash(parsed, category),
        url=parsed.url,
        source_path=rel,
        fmt=fmt,
        category=category,
        tags=parsed.tags,
        audience=parsed.audience,
        updated=parsed.updated,
    )


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file")
        if info.st_size > max_bytes:
            size, limit = _size(info.st_size, round_up=True), _size(max_bytes)
            raise LoadError(f"file too large ({size} > {limit} limit)")
        if info.st_size == 0:
            raise LoadError("empty file")
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read: {exc.strerror or exc}") from exc


def _size(n: int, *, round_up: bool = False) -> str:
    """``12.3 MB`` style; a size is rounded up so that one just over the limit never prints as equal."""
    for unit, scale in (("MB", _MB), ("KB", 1024)):
        if n >= scale:
            tenths = -(-n * 10 // scale) if round_up else round(n * 10 / scale)
            return f"{tenths / 10:.1f} {unit}" if round_up else f"{tenths / 10:g} {unit}"
    return f"{n} bytes"


def _decode(data: bytes) -> str:
    """UTF-8 (a leading BOM is dropped) with newlines normalised to ``\\n``."""
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise LoadError(f"not valid UTF-8 (byte 0x{data[offset]:02x} at offset {offset})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _content_hash(parsed: _Parsed, category: str) -> str:
    """SHA-256 over text and metadata, so a metadata-only edit also counts as a change."""
    fields = {key: value for key, value in asdict(parsed).items() if key != "doc_id"}
    canonical = json.dumps({**fields, "category": category}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _pretty_stem(stem: str) -> str:
    """``request-a-refund`` -> ``Request a refund``."""
    words = re.sub(r"[-_\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


# --- Markdown -----------------------------------------------------------------------------------------

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FRONT_MATTER_END = frozenset({"---", "..."})


def _parse_markdown(text: str, stem: str) -> _Parsed:
    meta, body = _split_front_matter(text)
    body = body.strip()
    title = _meta_str(meta.get("title"))
    first_line, _, rest = body.partition("\n")
    heading = _ATX_HEADING.match(first_line)
    if heading and len(heading.group(1)) == 1 and (not title or heading.group(2).strip() == title):
        title, body = heading.group(2).strip(), rest.strip()
    if not title:
        title = _first_h1(body) or _pretty_stem(stem)
    return _Parsed(
        title=title,
        text=body,
        url=_meta_str(meta.get("url")),
        tags=_meta_tags(meta.get("tags")),
        audience=_meta_str(meta.get("audience")),
        updated=_meta_str(meta.get("updated")),
        doc_id=_meta_str(meta.get("id")),
    )


def _split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """``(metadata, body)``; front matter is YAML between a first ``---`` line and a closing ``---``."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in _FRONT_MATTER_END), None)
    if end is None:
        raise LoadError("malformed front matter: no closing '---' line")
    block = "\n".join(lines[1:end])
    try:
        meta = yaml.load(block, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        try:  # libyaml is fast; the pure-Python parser points at the offending line more precisely
            yaml.safe_load(block)
        except yaml.YAMLError as exc:
            raise LoadError(f"malformed front matter: {_yaml_message(exc)}") from exc
        raise
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise LoadError(f"malformed front matter: expected 'key: value' lines, got a {type(meta).__name__}")
    return {str(k).lower(): v for k, v in meta.items()}, "\n".join(lines[end + 1 :])


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


def _yaml_message(exc: yaml.YAMLError) -> str:
    """One line: the YAML problem and its line number in the file (front matter starts on line 2)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        where = f" (line {exc.problem_mark.line + 2})" if exc.problem_mark is not None else ""
        return f"{exc.problem}{where}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _meta_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):  # also datetime
        return value.isoformat()
    return str(value).strip()


def _meta_tags(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return tuple(tag for tag in (_meta_str(item) for item in items) if tag)


def _first_h1(body: str) -> str:
    in_fence = False
    for line in body.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _ATX_HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2).strip()
    return ""


# --- plain text and PDF -------------------------------------------------------------------------------


def _parse_text(text: str, stem: str) -> _Parsed:
    """The first short line doubles as the title; it stays in the text, as it may be content too."""
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    title = first if len(first) < _SHORT_TITLE else _pretty_stem(stem)
    return _Parsed(title=title, text=text.strip())


def _parse_pdf(data: bytes, stem: str) -> _Parsed:
    from pypdf import PdfReader  # lazily: only a folder with PDFs pays for the import

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("unreadable PDF: encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoadError(f"unreadable PDF: {message}") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    text = re.sub(r"[ \t]+\n", "\n", text)
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else _pretty_stem(stem)
    return _Parsed(title=title, text=text)


def _parse_html(text: str, stem: str) -> _Parsed:
    page = extract_html(text)
    return _Parsed(title=page.title or _pretty_stem(stem), text=page.text, url=page.url)
