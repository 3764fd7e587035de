"""Markdown -> Slack mrkdwn, and splitting mrkdwn into section-sized pieces (adapters/slack/mrkdwn.py)."""

from __future__ import annotations

import re

import pytest

from adapters.slack.mrkdwn import escape, is_linkable, link, split_text, to_mrkdwn

# ---- to_mrkdwn ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Open **Settings** now", "Open *Settings* now"),
        ("Open __Settings__ now", "Open *Settings* now"),
        ("an *important* step", "an _important_ step"),
        ("an _important_ step", "an _important_ step"),
        ("the ~~old~~ way", "the ~old~ way"),
        ("***really***", "*_really_*"),
        ("**Billing** and *refunds*", "*Billing* and _refunds_"),
        ("**bold with *italic* inside**", "*bold with _italic_ inside*"),
    ],
)
def test_emphasis(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


@pytest.mark.parametrize(
    "text",
    ["snake_case_name stays", "2*3*4 is 24", "a * b * c", "file__name__here", "price: 5 * 3"],
)
def test_lone_markers_are_not_emphasis(text: str) -> None:
    assert to_mrkdwn(text) == text


@pytest.mark.parametrize("level", range(1, 7))
def test_headings_become_bold_lines(level: int) -> None:
    out = to_mrkdwn(f"Intro\n{'#' * level} Reset your **password** ##\nBody")
    assert out.split("\n") == ["Intro", "*Reset your password*", "Body"]


def test_a_hashtag_is_not_a_heading() -> None:
    assert to_mrkdwn("#general is the channel") == "#general is the channel"


def test_bullets_become_dots_and_keep_nesting() -> None:
    md = "- first\n* second\n+ third\n  - nested **bold**\n    * deeper"
    assert to_mrkdwn(md).split("\n") == ["• first", "• second", "• third", "  • nested *bold*", "    • deeper"]


def test_numbered_lists_are_kept() -> None:
    assert to_mrkdwn("1. Open *Settings*\n2. Choose Billing\n10) Done") == (
        "1. Open _Settings_\n2. Choose Billing\n10) Done"
    )


def test_block_quotes_are_kept_unescaped_and_flattened() -> None:
    out = to_mrkdwn("> Refunds take **5 days** & more\n>> nested <b>")
    assert out.split("\n") == ["> Refunds take *5 days* &amp; more", "> nested &lt;b&gt;"]


def test_horizontal_rule_becomes_a_break() -> None:
    assert to_mrkdwn("above\n\n---\n\nbelow") == "above\n\nbelow"


def test_links_become_slack_links() -> None:
    md = "See [Refunds](https://help.example.test/refunds) or [mail us](mailto:help@example.test)."
    assert to_mrkdwn(md) == (
        "See <https://help.example.test/refunds|Refunds> or <mailto:help@example.test|mail us>."
    )


def test_link_urls_and_labels_are_escaped() -> None:
    out = to_mrkdwn("[Fees & <taxes>](https://h.test/a?x=1&y=2)")
    assert out == "<https://h.test/a?x=1&amp;y=2|Fees &amp; &lt;taxes&gt;>"


def test_link_label_loses_its_formatting_and_url_with_parentheses_survives() -> None:
    out = to_mrkdwn("[**The** `guide`](https://en.example.test/wiki/Foo_(bar))")
    assert out == "<https://en.example.test/wiki/Foo_(bar)|The guide>"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Read [the setup guide](../setup/guide.md) first", "Read the setup guide first"),
        ("Jump to [Limits](#limits).", "Jump to Limits."),
        ("[Local](guide.md) & more", "Local &amp; more"),
    ],
)
def test_relative_links_keep_only_their_label(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_images_and_autolinks() -> None:
    out = to_mrkdwn("![Billing page](https://h.test/p.png) and <https://h.test/x>")
    assert out == "<https://h.test/p.png|Billing page> and <https://h.test/x>"


def test_citation_markers_are_not_links() -> None:
    assert to_mrkdwn("Refunds take 5 days [1][2]. Fees apply [3].") == (
        "Refunds take 5 days [1][2]. Fees apply [3]."
    )


def test_bare_urls_stay_as_they_are() -> None:
    md = "Go to https://help.example.test/my_long_page_name, or https://h.test/a_(b)."
    assert to_mrkdwn(md) == md


def test_bare_url_inside_bold() -> None:
    assert to_mrkdwn("**https://h.test/a_b**") == "*https://h.test/a_b*"


def test_text_is_escaped() -> None:
    out = to_mrkdwn("if a < b && c > d then <!here> <@U123>")
    assert out == "if a &lt; b &amp;&amp; c &gt; d then &lt;!here&gt; &lt;@U123&gt;"
    assert "<" not in out and ">" not in out


def test_inline_code_is_not_converted() -> None:
    out = to_mrkdwn("Run `**not bold** [x](https://a.test) _y_` then **bold**")
    assert out == "Run `**not bold** [x](https://a.test) _y_` then *bold*"


def test_inline_code_with_double_backticks() -> None:
    assert to_mrkdwn("use ``a `b` **c**`` here") == "use ``a `b` **c**`` here"


def test_fenced_code_is_not_converted() -> None:
    md = "Try:\n```python\n# not a heading\n- not a bullet\nx = **kwargs  # [a](../b.md) ~~s~~\n```\nDone **now**"
    assert to_mrkdwn(md) == (
        "Try:\n```\n# not a heading\n- not a bullet\nx = **kwargs  # [a](../b.md) ~~s~~\n```\nDone *now*"
    )


def test_code_keeps_its_characters_as_entities() -> None:
    # Slack shows &lt; as "<" inside code; a raw "<!here>" would be a control sequence even there.
    out = to_mrkdwn("`<!here>`\n```\nif a < b && c:\n    pass\n```")
    assert out == "`&lt;!here&gt;`\n```\nif a &lt; b &amp;&amp; c:\n    pass\n```"


def test_tilde_fence_and_unclosed_fence() -> None:
    assert to_mrkdwn("~~~\n**x**\n~~~") == "```\n**x**\n```"
    assert to_mrkdwn("```\n**x**") == "```\n**x**\n```"


def test_backslash_escapes_are_literal() -> None:
    assert to_mrkdwn(r"a \[1\] b \_c\_ d") == "a [1] b _c_ d"
    assert to_mrkdwn(r"\<tag\>") == "&lt;tag&gt;"


def test_blank_runs_collapse_and_ends_are_trimmed() -> None:
    assert to_mrkdwn("\n\none\n\n\n\ntwo\n\n") == "one\n\ntwo"


def test_link_helpers() -> None:
    assert is_linkable("https://a.test") and is_linkable("mailto:x@y.test")
    assert not is_linkable("../a.md") and not is_linkable("javascript:alert(1)") and not is_linkable("")
    assert link("https://a.test/?q=a|b", "A & B") == "<https://a.test/?q=a%7Cb|A &amp; B>"
    assert link("docs/a.md", "Guide") == "Guide"
    assert escape("<&>") == "&lt;&amp;&gt;"


# ---- split_text ---------------------------------------------------------------------------------------


def _assert_in_order(pieces: list[str], text: str) -> None:
    """The pieces are the text itself, in order, with only whitespace dropped between them."""
    pos = 0
    for piece in pieces:
        found = text.find(piece, pos)
        assert found >= 0, piece[:80]
        assert text[pos:found].strip() == "", repr(text[pos:found])
        pos = found + len(piece)
    assert text[pos:].strip() == ""


def _answer_text(chars: int) -> str:
    sentence = "Refunds for annual plans arrive within 30 days of the request [1]. "
    paragraphs, n = [], 0
    while n < chars:
        para = sentence * (3 + n % 7)
        paragraphs.append(para.strip())
        n += len(para) + 2
    return "\n\n".join(paragraphs)[:chars].strip()


def test_short_text_is_one_piece_and_empty_text_none() -> None:
    assert split_text("hello *there*") == ["hello *there*"]
    assert split_text("") == []
    assert split_text(" \n\n ") == []


def test_long_answer_splits_within_limit_and_rejoins() -> None:
    text = _answer_text(10_000)
    assert len(text) >= 9_990
    pieces = split_text(text, 3000)
    assert len(pieces) >= 4
    assert all(0 < len(p) <= 3000 for p in pieces)
    _assert_in_order(pieces, text)


def test_prefers_paragraphs_then_lines_then_spaces() -> None:
    para = ("word " * 30).strip()  # 149 characters
    text = f"{para}\n\n{para}\n{para}"
    assert split_text(text, 400) == [para, f"{para}\n{para}"]
    assert split_text(f"{para}\n{para}", 200) == [para, para]
    assert split_text(para, 100) == [("word " * 20).strip(), ("word " * 10).strip()]


def test_hard_cut_when_there_is_no_space() -> None:
    pieces = split_text("x" * 250, 100)
    assert pieces == ["x" * 100, "x" * 100, "x" * 50]


def test_never_returns_empty_pieces() -> None:
    pieces = split_text("a\n\n\n\n" + " " * 500 + "\n\nb " * 200, 20)
    assert pieces and all(p.strip() for p in pieces)


def test_links_are_never_cut() -> None:
    links = [f"<https://help.example.test/articles/{i}|Article number {i}>" for i in range(60)]
    text = " ".join(links)
    for limit in (66, 75, 120, 500):  # a link is at most 57 characters; fences may need 8 more
        pieces = split_text(text, limit)
        assert all(len(p) <= limit for p in pieces)
        assert all(p.count("<") == p.count(">") for p in pieces)
        assert sorted(re.findall(r"<[^<>]*>", "".join(pieces))) == sorted(links)


def test_entities_are_never_cut() -> None:
    text = "&amp;" * 100
    for limit in (16, 17, 18, 19, 33):
        pieces = split_text(text, limit)
        assert "".join(pieces) == text
        assert all(len(p) <= limit and len(p) % 5 == 0 for p in pieces)


def test_a_link_longer_than_any_piece_keeps_its_label() -> None:
    long_link = f"<https://h.test/{'a' * 200}|the label>"
    assert split_text(f"see {long_link} now", 100) == ["see the label now"]


def test_fences_are_closed_and_reopened() -> None:
    code = "\n".join(f"    line {i} = compute({i})" for i in range(200))
    text = f"Run this:\n\n```\n{code}\n```\n\nThen restart."
    pieces = split_text(text, 500)
    assert len(pieces) > 5
    for piece in pieces:
        assert len(piece) <= 500
        segments = piece.split("```")
        assert len(segments) % 2 == 1, piece  # every opened fence is closed
        assert all(segments[i].strip() for i in range(1, len(segments), 2))  # no empty code blocks
    assert pieces[0].startswith("Run this:") and pieces[-1].endswith("Then restart.")
    assert all(p.startswith("```\n") for p in pieces[2:-1])  # reopened: the first code piece opens itself

    def squash(t: str) -> str:
        return re.sub(r"\s+", "", t.replace("```", ""))

    assert squash("".join(pieces)) == squash(text)
    # indentation inside code survives a cut
    assert all(line.startswith("    line") for p in pieces[1:-1] for line in p.split("\n")[1:-1])


def test_fence_overhead_counts_against_the_limit() -> None:
    text = "```\n" + "y" * 1000 + "\n```"
    pieces = split_text(text, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert all(p.startswith("```\n") and p.endswith("\n```") for p in pieces)
    assert "".join(p[4:-4] for p in pieces) == "y" * 1000


def test_an_unclosed_fence_is_closed() -> None:
    assert split_text("```\ncode") == ["```\ncode\n```"]


def test_limit_too_small() -> None:
    with pytest.raises(ValueError):
        split_text("anything", 10)
