"""HTML help-centre exports to Markdown-like text: main content only, headings kept as ``#`` lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

_DROP_TAGS = ["script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "iframe"]
_NOISE_WORDS = ("nav", "sidebar", "breadcrumb", "cookie", "footer", "header")
_BLOCK_TAGS = frozenset(
    {"address", "article", "blockquote", "dd", "details", "div", "dl", "dt", "fieldset", "figcaption"}
    | {"figure", "main", "p", "section", "summary", "table"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_LINE_KINDS = frozenset({"li", "tr"})  # list items, table rows: one line each, no blank line between


@dataclass(frozen=True)
class HtmlPage:
    title: str  # <title>, else the first <h1>, else ""
    text: str  # Markdown-like main content
    url: str  # canonical link or og:url


def extract(text: str) -> HtmlPage:
    """The page's main content as Markdown-like text, without navigation, scripts and other chrome."""
    soup = BeautifulSoup(text, "html.parser")
    found = soup.find("h1")
    first_h1 = found if isinstance(found, Tag) else None
    title = _collapse(soup.title.get_text(" ")) if soup.title else ""
    if not title and first_h1 is not None:
        title = _collapse(first_h1.get_text(" "))
    body = _render_html(_main_content(soup, first_h1))
    first_line, _, rest = body.partition("\n")
    if title and first_line == f"# {title}":
        body = rest.strip()
    return HtmlPage(title=title, text=body, url=_html_url(soup))


def _html_url(soup: BeautifulSoup) -> str:
    link = soup.find("link", rel="canonical")
    meta = soup.find("meta", property="og:url")
    for tag, attr in ((link, "href"), (meta, "content")):
        value = tag.get(attr) if isinstance(tag, Tag) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _main_content(soup: BeautifulSoup, first_h1: Tag | None) -> Tag:
    """The main content element with page chrome (navigation, headers, footers, banners) removed."""
    found = soup.find("main") or soup.find("article") or soup.find(True, attrs={"role": "main"}) or soup.body
    main = found if isinstance(found, Tag) else soup
    for tag in main.find_all(_DROP_TAGS):
        if isinstance(tag, Tag):
            tag.decompose()
    for tag in main.find_all(True):
        # A class match on a wrapper that holds the article (its h1) is layout, not chrome: keep it.
        if not isinstance(tag, Tag) or tag.decomposed or not _looks_like_chrome(tag):
            continue
        if first_h1 is not None and not first_h1.decomposed and first_h1 in tag.descendants:
            continue
        tag.decompose()
    return main


def _looks_like_chrome(tag: Tag) -> bool:
    raw = tag.get("class")
    names: list[str] = [raw] if isinstance(raw, str) else [str(c) for c in raw or []]
    ident = tag.get("id")
    if isinstance(ident, str):
        names.append(ident)
    words = re.split(r"[^a-z0-9]+", " ".join(names).lower())
    return any(word.startswith(noise) for word in words for noise in _NOISE_WORDS)


def _render_html(main: Tag) -> str:
    """Markdown-like text: ``#`` headings, ``- `` items, ``a | b`` table rows, fenced ``pre`` blocks."""
    blocks: list[tuple[str, str]] = []  # (kind, text)
    inline: list[str] = []
    pending = ["p", ""]  # kind and prefix of the text being collected (a paragraph or a list item)

    def flush() -> None:
        lines = (re.sub(r"[^\S\n]+", " ", line).strip() for line in "".join(inline).split("\n"))
        text = "\n".join(line for line in lines if line)
        inline.clear()
        if text:
            blocks.append((pending[0], pending[1] + text))

    def walk(node: Tag, depth: int) -> None:
        for child in list(node.children):
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                inline.append(str(child).replace("\n", " "))  # only <br> breaks a line
            elif not isinstance(child, Tag):
                continue
            elif child.name in _HEADINGS:
                flush()
                if heading := _collapse(child.get_text(" ")):
                    blocks.append(("h", "#" * int(child.name[1]) + " " + heading))
            elif child.name in {"ul", "ol"}:
                flush()
                walk(child, depth + 1)
            elif child.name == "li":
                flush()
                outer = list(pending)
                pending[:] = ["li", "  " * max(depth - 1, 0) + "- "]
                walk(child, depth)
                flush()
                pending[:] = outer
            elif child.name == "pre":
                flush()
                blocks.append(("pre", "```\n" + child.get_text().strip("\n") + "\n```"))
            elif child.name == "tr":
                flush()
                cells = [_collapse(cell.get_text(" ")) for cell in child.find_all(["td", "th"])]
                if any(cells):
                    blocks.append(("tr", " | ".join(cells)))
            elif child.name == "br":
                inline.append("\n")
            elif child.name in _BLOCK_TAGS:
                flush()
                walk(child, depth)
                flush()
            else:
                walk(child, depth)

    walk(main, 0)
    flush()
    out: list[str] = []
    for i, (kind, text) in enumerate(blocks):
        if i:
            out.append("\n" if kind in _LINE_KINDS and kind == blocks[i - 1][0] else "\n\n")
        out.append(text)
    return "".join(out).strip()


def _collapse(text: str) -> str:
    return " ".join(text.split())
