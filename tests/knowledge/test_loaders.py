"""Loading a help-centre folder: formats, metadata, and every bad-input case skipped with a clear reason."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfWriter

from knowledge.documents import LoadResult, SourceDocument
from knowledge.loaders import LoadError, load_file, load_folder

REFUND_MD = """---
title: Request a refund
url: https://help.example.com/billing/refund
tags: [billing, refunds]
audience: admins
updated: 2024-03-01
colour: blue
---
# Request a refund

You can request a refund within 30 days.

## Annual plans

Annual plans are refunded pro rata.
"""

NOISY_HTML = """<!doctype html>
<html><head>
  <title>Reset your password</title>
  <link rel="canonical" href="https://help.example.com/account/reset">
  <style>body { color: red }</style>
  <script>window.tracking = "SCRIPT-NOISE";</script>
</head>
<body>
  <header class="site-header"><a href="/">HEADER-NOISE</a></header>
  <nav><ul><li>NAV-NOISE</li></ul></nav>
  <div class="breadcrumbs">BREADCRUMB-NOISE</div>
  <main>
    <div id="sidebar-left">SIDEBAR-NOISE</div>
    <h1>Reset your password</h1>
    <p>Open the   sign-in page
       and choose <b>Forgot password</b>.</p>
    <h2>If the email never arrives</h2>
    <ol><li>Check your spam folder</li><li>Ask your admin</li></ol>
    <!-- COMMENT-NOISE -->
    <div class="cookie-banner">COOKIE-NOISE</div>
  </main>
  <aside>ASIDE-NOISE</aside>
  <footer>FOOTER-NOISE</footer>
</body></html>
"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def pdf_with_text(text: str, *, title: str | None = None) -> bytes:
    """A minimal one-page PDF drawing ``text`` in Helvetica, with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title is not None:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    info = " /Info 6 0 R" if title is not None else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += f"startxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


def by_path(result: LoadResult) -> dict[str, SourceDocument]:
    return {doc.source_path: doc for doc in result.documents}


def reasons(result: LoadResult) -> dict[str, str]:
    return {skip.path: skip.reason for skip in result.skipped}


# --- formats ------------------------------------------------------------------------------------------


def test_markdown_front_matter_becomes_metadata_and_title_heading_leaves_the_text(tmp_path: Path) -> None:
    write(tmp_path / "billing" / "request-a-refund.md", REFUND_MD)

    [doc] = load_folder(tmp_path).documents

    assert doc.doc_id == "billing/request-a-refund.md"
    assert doc.source_path == "billing/request-a-refund.md"
    assert doc.category == "billing"
    assert doc.fmt == "markdown"
    assert doc.title == "Request a refund"
    assert doc.url == "https://help.example.com/billing/refund"
    assert doc.tags == ("billing", "refunds")
    assert doc.audience == "admins"
    assert doc.updated == "2024-03-01"  # a YAML date comes back as an ISO string
    assert doc.text.startswith("You can request a refund within 30 days.")
    assert "# Request a refund" not in doc.text
    assert "## Annual plans" in doc.text
    assert len(doc.content_hash) == 64


def test_markdown_comma_tags_front_matter_id_and_heading_title(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "---\nid: refunds-101\ntags: billing, refunds ,\n---\n# Refunds\n\nBody.\n")
    write(tmp_path / "plain-article_name.md", "Just a body, no heading.\n")

    docs = by_path(load_folder(tmp_path))

    assert docs["a.md"].doc_id == "refunds-101"
    assert docs["a.md"].tags == ("billing", "refunds")
    assert docs["a.md"].title == "Refunds"
    assert docs["a.md"].text == "Body."
    assert docs["a.md"].category == ""
    assert docs["plain-article_name.md"].title == "Plain article name"


def test_markdown_keeps_a_first_heading_that_differs_from_the_front_matter_title(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "---\ntitle: Refunds\n---\n# Before you start\n\nCheck your plan.\n")

    [doc] = load_folder(tmp_path).documents

    assert doc.title == "Refunds"
    assert doc.text.startswith("# Before you start")


def test_html_keeps_main_content_and_drops_page_chrome(tmp_path: Path) -> None:
    write(tmp_path / "account" / "reset.html", NOISY_HTML)

    [doc] = load_folder(tmp_path).documents

    assert doc.fmt == "html"
    assert doc.title == "Reset your password"
    assert doc.url == "https://help.example.com/account/reset"
    for noise in ("SCRIPT", "HEADER", "NAV", "BREADCRUMB", "SIDEBAR", "COMMENT", "COOKIE", "ASIDE", "FOOTER"):
        assert f"{noise}-NOISE" not in doc.text
    assert "color: red" not in doc.text
    assert doc.text.split("\n\n") == [
        "Open the sign-in page and choose Forgot password.",
        "## If the email never arrives",
        "- Check your spam folder\n- Ask your admin",
    ]


def test_html_falls_back_to_body_first_h1_title_and_og_url(tmp_path: Path) -> None:
    html = """<html><head><meta property="og:url" content="https://help.example.com/x"></head>
    <body><div class="page-with-sidebar"><h1>Invite a teammate</h1><p>Open <em>People</em>.</p>
    <table><tr><th>Role</th><th>Can invite</th></tr><tr><td>Admin</td><td>Yes</td></tr></table>
    <pre><code># not a heading
    print("hi")</code></pre></div></body></html>"""
    write(tmp_path / "invite.htm", html)

    [doc] = load_folder(tmp_path).documents

    assert doc.title == "Invite a teammate"
    assert doc.url == "https://help.example.com/x"
    assert "Open People." in doc.text  # the wrapper's "sidebar" class did not remove the article
    assert "Role | Can invite\nAdmin | Yes" in doc.text
    assert "```\n# not a heading" in doc.text


def test_text_title_is_first_short_line_else_the_file_name(tmp_path: Path) -> None:
    write(tmp_path / "opening-hours.txt", "\n\nOpening hours\n\nWe answer 9 to 5.\n")
    write(tmp_path / "long-first-line.txt", "word " * 40 + "\nmore\n")

    docs = by_path(load_folder(tmp_path))

    assert docs["opening-hours.txt"].title == "Opening hours"
    assert docs["opening-hours.txt"].fmt == "text"
    assert "We answer 9 to 5." in docs["opening-hours.txt"].text
    assert docs["long-first-line.txt"].title == "Long first line"


def test_pdf_text_and_metadata_title_are_extracted(tmp_path: Path) -> None:
    write(tmp_path / "guides" / "setup-guide.pdf", pdf_with_text("Plug the router in first."))
    write(tmp_path / "titled.pdf", pdf_with_text("Hello PDF", title="Router Setup"))

    docs = by_path(load_folder(tmp_path))

    guide = docs["guides/setup-guide.pdf"]
    assert guide.fmt == "pdf"
    assert "Plug the router in first." in guide.text
    assert guide.title == "Setup guide"
    assert guide.category == "guides"
    assert docs["titled.pdf"].title == "Router Setup"


def test_utf8_bom_and_crlf_are_tolerated(tmp_path: Path) -> None:
    write(tmp_path / "bom.md", b"\xef\xbb\xbf---\r\ntitle: Caf\xc3\xa9\r\n---\r\nBody line.\r\n")

    [doc] = load_folder(tmp_path).documents

    assert doc.title == "Café"
    assert doc.text == "Body line."


# --- folder walking -----------------------------------------------------------------------------------


def test_walk_is_sorted_skips_hidden_entries_and_reports_progress(tmp_path: Path) -> None:
    write(tmp_path / "b.md", "B")
    write(tmp_path / "a" / "z.md", "Z")
    write(tmp_path / "a.md", "A")
    write(tmp_path / ".git" / "config.md", "hidden")
    write(tmp_path / ".DS_Store", b"\x00\x01")
    write(tmp_path / "a" / "logo.png", b"\x89PNG\x00")
    write(tmp_path / "site.css", "body {}")
    seen: list[Path] = []

    result = load_folder(tmp_path, on_file=seen.append)

    # folder by folder, as a tree: a/ (and everything in it) before a.md
    assert [doc.source_path for doc in result.documents] == ["a/z.md", "a.md", "b.md"]
    assert result.skipped == []  # hidden files and images/css are ignored silently
    assert [p.relative_to(tmp_path).as_posix() for p in seen] == ["a/z.md", "a.md", "b.md"]


def test_single_file_root_loads_just_that_file(tmp_path: Path) -> None:
    target = write(tmp_path / "docs" / "one.md", "# One\n\nBody.")
    write(tmp_path / "docs" / "two.md", "# Two\n\nBody.")

    [doc] = load_folder(target).documents

    assert doc.doc_id == "one.md"
    assert doc.title == "One"


def test_missing_root_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"help-centre folder not found: .*nowhere"):
        load_folder(tmp_path / "nowhere")


def test_content_hash_is_stable_and_changes_with_text_or_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", REFUND_MD)
    first = load_file(path, root=tmp_path).content_hash

    assert load_file(path, root=tmp_path).content_hash == first
    write(path, REFUND_MD.replace("audience: admins", "audience: everyone"))
    metadata_edit = load_file(path, root=tmp_path).content_hash
    write(path, REFUND_MD.replace("30 days", "14 days"))
    text_edit = load_file(path, root=tmp_path).content_hash

    assert len({first, metadata_edit, text_edit}) == 3


# --- bad input ----------------------------------------------------------------------------------------


def test_each_bad_file_is_skipped_with_a_reason_and_the_rest_loads(tmp_path: Path) -> None:
    write(tmp_path / "good.md", REFUND_MD)
    write(tmp_path / "good.html", NOISY_HTML)
    write(tmp_path / "good.txt", "Fine\n\nText.")
    write(tmp_path / "good.pdf", pdf_with_text("Readable"))
    write(tmp_path / "empty.md", "")
    write(tmp_path / "blank.txt", "  \n\t\n")
    write(tmp_path / "only-front-matter.md", "---\ntitle: Nothing here\n---\n\n")
    write(tmp_path / "binary.md", b"abc\x00def")
    write(tmp_path / "huge.txt", b"a" * (11 * 1024 * 1024))
    write(tmp_path / "latin1.md", b"# Caf\xe9\n")
    write(tmp_path / "bad-yaml.md", "---\ntitle: [unclosed\n---\nBody\n")
    write(tmp_path / "list-yaml.md", "---\n- a\n- b\n---\nBody\n")
    write(tmp_path / "unterminated.md", "---\ntitle: Oops\nBody without a closing line\n")
    write(tmp_path / "notes.docx", b"PK\x03\x04")
    write(tmp_path / "scanned.pdf", _blank_pdf())
    write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    write(tmp_path / "chrome-only.html", "<html><body><nav>Home</nav><footer>(c)</footer></body></html>")

    result = load_folder(tmp_path)

    assert sorted(by_path(result)) == ["good.html", "good.md", "good.pdf", "good.txt"]
    got = reasons(result)
    bad_yaml, broken_pdf = got.pop("bad-yaml.md"), got.pop("broken.pdf")  # wording from PyYAML / pypdf
    assert got == {
        "empty.md": "empty file",
        "blank.txt": "empty file",
        "only-front-matter.md": "empty file",
        "binary.md": "binary file",
        "huge.txt": "file too large (11.0 MB > 10 MB limit)",
        "latin1.md": "not valid UTF-8 (byte 0xe9 at offset 5)",
        "list-yaml.md": "malformed front matter: expected 'key: value' lines, got a list",
        "unterminated.md": "malformed front matter: no closing '---' line",
        "notes.docx": "unsupported file type .docx",
        "scanned.pdf": "no extractable text (scanned PDF?)",
        "chrome-only.html": "no text in the page's main content",
    }
    assert bad_yaml.startswith("malformed front matter: ")
    assert bad_yaml.endswith("(line 2)")  # the line in the file, counting the opening ---
    assert "\n" not in bad_yaml
    assert broken_pdf.startswith("unreadable PDF: ")


def _blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_size_limit_is_configurable_and_reported_in_readable_units(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "x" * 3000)
    write(tmp_path / "b.md", "small")

    result = load_folder(tmp_path, max_bytes=2048)

    assert reasons(result) == {"a.md": "file too large (3.0 KB > 2 KB limit)"}
    assert [doc.source_path for doc in result.documents] == ["b.md"]


def test_duplicate_front_matter_id_keeps_the_first_file(tmp_path: Path) -> None:
    write(tmp_path / "a" / "first.md", "---\nid: refunds\n---\nFirst.")
    write(tmp_path / "b" / "second.md", "---\nid: refunds\n---\nSecond.")

    result = load_folder(tmp_path)

    [doc] = result.documents
    assert doc.text == "First."
    assert reasons(result) == {"b/second.md": "duplicate id 'refunds' (also in a/first.md)"}


def test_dangling_link_is_skipped_as_unreadable(tmp_path: Path) -> None:
    write(tmp_path / "good.md", "Fine.")
    (tmp_path / "gone.md").symlink_to(tmp_path / "missing.md")

    result = load_folder(tmp_path)

    assert reasons(result) == {"gone.md": "cannot read: No such file or directory"}
    assert [doc.source_path for doc in result.documents] == ["good.md"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_permission_denied_is_skipped_as_unreadable(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.md", "Secret.")
    locked.chmod(0)
    try:
        result = load_folder(tmp_path)
    finally:
        locked.chmod(0o644)

    assert reasons(result) == {"locked.md": "cannot read: Permission denied"}


def test_load_file_raises_load_error_with_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.md", "")

    with pytest.raises(LoadError) as caught:
        load_file(path, root=tmp_path)

    assert caught.value.reason == "empty file"
