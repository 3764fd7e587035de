"""Markdown -> Slack mrkdwn, and mrkdwn cut into Block Kit-sized pieces: Slack mrkdwn is not Markdown and a
section holds at most 3,000 characters (platform-rules.md, "Slack")."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable

_FENCE = "```"
_OPEN = _FENCE + "\n"  # reopens a code block at the start of a piece
_CLOSE = "\n" + _FENCE  # closes it at the end of the previous one
_MIN_LIMIT = 16  # room for a reopened and a closed fence and the longest entity, with some text
_LINK_SCHEMES = ("http://", "https://", "mailto:")

# Characters Slack parses as control sequences and that therefore travel as entities (platform rules).
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Placeholders for pieces that are already final (code, links): they must not look like text or spaces.
_HOLD = "\x00"
_STAR = "\x01"  # a Slack bold star, put back last so the italic rule cannot see it


def escape(text: str) -> str:
    """`&`, `<` and `>` as the entities Slack expects in text that is not a control sequence."""
    return text.translate(_ESCAPES)


def is_linkable(url: str) -> bool:
    """Whether Slack can open `url`: only http(s) and mailto; relative help-centre paths cannot."""
    url = url.strip()
    return url.lower().startswith(_LINK_SCHEMES) and not any(c.isspace() for c in url)


def link(url: str, label: str = "") -> str:
    """`<url|label>` for an http(s)/mailto URL; just the escaped label (no link) for anything else."""
    label = " ".join(label.split())
    if not is_linkable(url):
        return escape(label)
    safe = url.strip().replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{escape(label)}>" if label and label != url.strip() else f"<{safe}>"


# ---- Markdown -> mrkdwn ---------------------------------------------------------------------------------

_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET = re.compile(r"^(\s*)[-*+][ \t]+(.*)$")
_ORDERED = re.compile(r"^(\s*\d{1,9}[.)])[ \t]+(.*)$")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?(.*)$")

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_BACKSLASH = re.compile(r"\\([!-/:-@\[-`{-~])")
# [label](url "title") and ![alt](url); one level of brackets in the label and of parentheses in the URL.
_LINK = re.compile(
    r"!?\[(?P<label>(?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\(\s*<?(?P<url>(?:[^\s()<>]|\([^\s()<>]*\))*)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>]+)>", re.IGNORECASE)
_BARE_URL = re.compile(r"(?:https?://|mailto:)[^\s<>\x00]+", re.IGNORECASE)
_HELD = re.compile(_HOLD + r"(\d+)" + _HOLD)

_BOLD_ITALIC = re.compile(r"(?<![*\w])\*\*\*(?![\s*])(.+?)(?<![\s*])\*\*\*(?![*\w])")
_BOLD_STARS = re.compile(r"\*\*(?![\s*])(.+?)(?<!\s)\*\*")
_BOLD_UNDERS = re.compile(r"(?<![\w_])__(?![\s_])(.+?)(?<!\s)__(?![\w_])")
_STRIKE = re.compile(r"~~(?![\s~])(.+?)(?<![\s~])~~")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?![\s*])(.+?)(?<![\s*])\*(?![*\w])")
_ITALIC_UNDER = re.compile(r"(?<![\w_])_(?![\s_])(.+?)(?<![\s_])_(?![\w_])")


def to_mrkdwn(markdown: str) -> str:
    """Convert the answer engine's Markdown into Slack mrkdwn.

    Code spans and fenced blocks get no formatting conversion (their `&`, `<`, `>` are still sent as
    entities, which Slack shows as the characters: sent raw, `<!here>` in a code block would ping a
    channel). Citation markers such as `[1]` and bare URLs pass through unchanged.
    """
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").replace(_HOLD, "").replace(_STAR, "")
    out: list[str] = []
    fence = ""  # the opening fence while inside a fenced block
    for line in lines.split("\n"):
        m = _FENCE_LINE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                out.append(_FENCE)
                fence = ""
            else:
                out.append(escape(line))
        elif m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            out.append(_FENCE)  # the info string (a language name) would show as a line of code in Slack
            fence = m.group(1)
        else:
            out.append(_line(line))
    if fence:
        out.append(_FENCE)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _line(line: str) -> str:
    if not line.strip():
        return ""
    if m := _HEADING.match(line):
        title = _inline(_plain(m.group(1) or "")).strip()
        return f"*{title}*" if title else ""
    if _RULE.match(line):
        return ""
    if m := _BULLET.match(line):
        return f"{m.group(1)}• {_inline(m.group(2))}"
    if m := _ORDERED.match(line):
        return f"{m.group(1)} {_inline(m.group(2))}"
    if m := _QUOTE.match(line):
        inner = m.group(1)
        while q := _QUOTE.match(inner):  # Slack has one level of quote
            inner = q.group(1)
        return f"> {_line(inner)}".rstrip()
    return _inline(line)


def _plain(text: str) -> str:
    """Text without emphasis markers: for headings (already bold) and link labels (Slack won't format)."""
    for pattern in (_BOLD_ITALIC, _BOLD_STARS, _BOLD_UNDERS, _STRIKE, _ITALIC_STAR, _ITALIC_UNDER):
        text = pattern.sub(r"\1", text)
    return text


def _inline(text: str) -> str:
    final: list[str] = []  # what each placeholder becomes
    raw: list[str] = []  # its plain text, for a link label that contains it

    def hold(done: str, plain: str) -> str:
        final.append(done)
        raw.append(plain)
        return f"{_HOLD}{len(final) - 1}{_HOLD}"

    def unhold(label: str) -> str:
        return _HELD.sub(lambda m: raw[int(m.group(1))], label)

    text = _CODE_SPAN.sub(lambda m: hold(escape(m.group(0)), m.group(2)), text)
    text = _BACKSLASH.sub(lambda m: hold(escape(m.group(1)), m.group(1)), text)
    text = _LINK.sub(lambda m: hold(_markdown_link(unhold(m.group("label")), m.group("url")), ""), text)
    text = _AUTOLINK.sub(lambda m: hold(link(m.group(1)), m.group(1)), text)
    text = _BARE_URL.sub(lambda m: _bare_url(m.group(0), hold), text)
    text = escape(text)
    text = _BOLD_ITALIC.sub(_STAR + r"_\1_" + _STAR, text)
    text = _BOLD_STARS.sub(_STAR + r"\1" + _STAR, text)
    text = _BOLD_UNDERS.sub(_STAR + r"\1" + _STAR, text)
    text = _STRIKE.sub(r"~\1~", text)
    text = _ITALIC_STAR.sub(r"_\1_", text)
    text = text.replace(_STAR, "*")
    return _HELD.sub(lambda m: final[int(m.group(1))], text)


def _markdown_link(label: str, url: str) -> str:
    return link(url, _plain(label))


def _bare_url(url: str, hold: Callable[[str, str], str]) -> str:
    """Hold a bare URL as it is (so `_` in it is not italics), leaving trailing punctuation to the text."""
    tail = ""
    while url and url[-1] in ".,;:!?'\"*_~)]":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        tail = url[-1] + tail
        url = url[:-1]
    return hold(escape(url), url) + tail


# ---- splitting ------------------------------------------------------------------------------------------

# What a cut must never fall inside: a link or mention, an entity, a fence marker.
_ATOMIC = re.compile(r"<[^<>\n]*>|&(?:amp|lt|gt);|```")
_CLOSING_AHEAD = re.compile(r"\s*```")


def split_text(text: str, limit: int = 3000) -> list[str]:
    """Cut mrkdwn into non-empty pieces of at most `limit` characters, for Block Kit section blocks.

    Cuts prefer blank lines, then line ends, then spaces, then anywhere; never inside a `<url|label>` link
    or an entity. A code block cut in two is closed at the end of one piece and reopened in the next, within
    the limit. A link too long for any piece loses its URL and keeps its label.
    """
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT}, got {limit}")
    return _Splitter(_unlink_long(text.strip(), limit - len(_OPEN) - len(_CLOSE)), limit).pieces()


def _unlink_long(text: str, longest: int) -> str:
    def unlink(m: re.Match[str]) -> str:
        whole = m.group(0)
        if len(whole) <= longest:
            return whole
        inner = whole[1:-1]
        return inner.split("|", 1)[1] if "|" in inner else inner

    return re.sub(r"<[^<>\n]*>", unlink, text)


class _Splitter:
    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.fence_ends = [m.end() for m in re.finditer(_FENCE, text)]
        spans = [(m.start(), m.end()) for m in _ATOMIC.finditer(text)]
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]

    def pieces(self) -> list[str]:
        text, n = self.text, len(self.text)
        out: list[str] = []
        s = 0
        while True:
            s = self._skip_blank(s)
            if s >= n:
                return out
            prefix = _OPEN if self._in_fence(s) else ""
            room = self.limit - len(prefix)
            if self._size(s, n) <= room:
                out.append(prefix + text[s:].rstrip() + (_CLOSE if self._in_fence(n) else ""))
                return out
            p = self._cut(s, room)
            if self._in_fence(p):
                p = self._cut(s, room - len(_CLOSE))
            body = text[s:p].rstrip()
            if body:
                out.append(prefix + body + (_CLOSE if self._in_fence(p) else ""))
            s = p

    def _size(self, s: int, p: int) -> int:
        """Length of text[s:p] as a piece body, with the fence that would close it."""
        return len(self.text[s:p].rstrip()) + (len(_CLOSE) if self._in_fence(p) else 0)

    def _skip_blank(self, s: int) -> int:
        blank = "\n" if self._in_fence(s) else " \t\n"  # inside code, indentation is content
        while s < len(self.text) and self.text[s] in blank:
            s += 1
        return s

    def _in_fence(self, p: int) -> bool:
        return bisect_right(self.fence_ends, p) % 2 == 1

    def _inside_atom(self, p: int) -> bool:
        k = bisect_left(self.starts, p) - 1
        return k >= 0 and self.ends[k] > p

    def _fits_fences(self, s: int, p: int) -> bool:
        """A cut inside code must not leave an empty code block on either side."""
        if not self._in_fence(p):
            return True
        j = p
        while j > s and self.text[j - 1].isspace():
            j -= 1
        if j - len(_FENCE) >= s and self.text[j - len(_FENCE) : j] == _FENCE:
            return False
        return _CLOSING_AHEAD.match(self.text, p) is None

    def _cut(self, s: int, room: int) -> int:
        text, w = self.text, min(s + room, len(self.text))
        for sep in ("\n\n", "\n", " "):
            i = text.rfind(sep, s + 1, w + len(sep))
            while i != -1:
                if not self._inside_atom(i) and self._fits_fences(s, i):
                    return i
                i = text.rfind(sep, s + 1, i + len(sep) - 1)
        for p in range(w, s, -1):
            if not self._inside_atom(p) and self._fits_fences(s, p):
                return p
        k = bisect_left(self.starts, w) - 1  # the last resort: just before the atom that straddles w
        return self.starts[k] if k >= 0 and self.ends[k] > w and self.starts[k] > s else w
