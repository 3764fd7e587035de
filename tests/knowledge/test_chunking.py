"""Heading-aware chunking: heading paths, size bounds with overlap, code fences, ids."""

from __future__ import annotations

import itertools
import random

import pytest

from knowledge.chunking import CHUNKER_VERSION, chunk_document, chunker_fingerprint
from knowledge.documents import SourceDocument


def doc(text: str, *, title: str = "Refunds", doc_id: str = "billing/refunds.md") -> SourceDocument:
    return SourceDocument(doc_id=doc_id, title=title, text=text, content_hash="h")


def sentences(n: int, word: str = "refund") -> str:
    """``n`` distinct, numbered sentences of about 60 characters each."""
    return " ".join(f"Sentence {i} explains the {word} rule number {i} in detail." for i in range(n))


def test_short_text_without_headings_is_one_chunk() -> None:
    chunks = chunk_document(doc("You can request a refund within 30 days."))

    assert len(chunks) == 1
    assert chunks[0].chunk_id == "billing/refunds.md#0"
    assert chunks[0].index == 0
    assert chunks[0].doc_id == "billing/refunds.md"
    assert chunks[0].title == "Refunds"
    assert chunks[0].headings == ()
    assert chunks[0].text == "You can request a refund within 30 days."


def test_sections_carry_their_heading_path_without_the_heading_lines() -> None:
    text = (
        "Intro before any heading.\n\n"
        "# Refund policy\n\nWho can get money back.\n\n"
        "## Annual plans\n\nPro rata refunds.\n\n"
        "### Exceptions\n\nNot after 90 days.\n\n"
        "## Monthly plans ##\n\nNo refunds.\n\n"
        "# Contact\n\nWrite to us.\n"
    )

    chunks = chunk_document(doc(text))

    assert [(c.headings, c.text) for c in chunks] == [
        ((), "Intro before any heading."),
        (("Refund policy",), "Who can get money back."),
        (("Refund policy", "Annual plans"), "Pro rata refunds."),
        (("Refund policy", "Annual plans", "Exceptions"), "Not after 90 days."),
        (("Refund policy", "Monthly plans"), "No refunds."),
        (("Contact",), "Write to us."),
    ]
    assert all("#" not in c.text for c in chunks)
    assert chunks[2].search_text() == "Refunds > Refund policy > Annual plans\nPro rata refunds."


def test_empty_sections_fold_their_heading_into_the_next_section() -> None:
    text = (
        "# Billing\n\n## Step 1: open Settings\n\n## Step 2: choose Billing\n\n"
        "The Billing tab lists invoices.\n"
    )

    chunks = chunk_document(doc(text))

    assert len(chunks) == 1
    assert chunks[0].headings == ("Billing", "Step 1: open Settings", "Step 2: choose Billing")
    assert chunks[0].text == "The Billing tab lists invoices."


def test_a_heading_repeating_the_document_title_is_not_part_of_the_path() -> None:
    chunks = chunk_document(doc("# Refunds\n\nIntro.\n\n## Annual plans\n\nPro rata.", title="Refunds"))

    assert [c.headings for c in chunks] == [(), ("Annual plans",)]


def test_hash_lines_inside_code_fences_are_not_headings() -> None:
    text = (
        "## Configure\n\nRun this:\n\n"
        "```bash\n# install the CLI\npip install acme\n## still a comment\n```\n\n"
        "~~~~\n# tilde fence\n~~~\n# still inside: a shorter fence does not close it\n~~~~\n\n"
        "Then restart.\n"
    )

    chunks = chunk_document(doc(text))

    assert len(chunks) == 1
    assert chunks[0].headings == ("Configure",)
    assert "# install the CLI" in chunks[0].text
    assert "## still a comment" in chunks[0].text
    assert "# still inside: a shorter fence does not close it" in chunks[0].text
    assert chunks[0].text.endswith("Then restart.")


def test_long_section_splits_within_max_chars_with_overlap() -> None:
    body = "\n\n".join(sentences(8, word) for word in ("refund", "invoice", "card", "plan"))
    max_chars, overlap = 400, 120

    chunks = chunk_document(doc(f"## Annual plans\n\n{body}"), max_chars=max_chars, overlap_chars=overlap)

    assert len(chunks) > 4
    assert all(len(c.text) <= max_chars for c in chunks)
    assert all(c.headings == ("Annual plans",) for c in chunks)
    for before, after in itertools.pairwise(chunks):
        shared = _shared_prefix_suffix(before.text, after.text)
        assert shared, f"no overlap between {before.chunk_id} and {after.chunk_id}"
        assert len(shared) <= overlap
        assert shared[0].isupper()  # the repeated tail starts at a sentence
    for i in range(8):  # nothing lost: every sentence appears somewhere
        for word in ("refund", "invoice", "card", "plan"):
            assert any(f"the {word} rule number {i} in" in c.text for c in chunks)


def _shared_prefix_suffix(before: str, after: str) -> str:
    """The longest start of ``after`` that is also the end of ``before``."""
    for size in range(min(len(before), len(after)), 0, -1):
        if before.endswith(after[:size]):
            return after[:size]
    return ""


def test_overlap_cuts_at_a_word_boundary_when_there_is_no_sentence_end() -> None:
    words = " ".join(f"w{i}" for i in range(600))

    chunks = chunk_document(doc(words), max_chars=300, overlap_chars=40)

    assert len(chunks) > 1
    assert all(len(c.text) <= 300 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        first_word = after.text.split(" ")[0]
        assert f" {first_word} " in f" {before.text} "  # a whole word, repeated from the previous piece


def test_unbroken_text_is_cut_hard_at_max_chars_and_nothing_is_lost() -> None:
    blob = "".join(chr(ord("a") + i % 26) for i in range(1000))

    chunks = chunk_document(doc(blob), max_chars=300, overlap_chars=0)

    assert [len(c.text) for c in chunks] == [300, 300, 300, 100]
    assert "".join(c.text for c in chunks) == blob


def test_no_chunk_is_empty_and_whitespace_only_text_gives_none() -> None:
    text = "# A\n\n   \n\n## B\n\n\t\n\n## C\n\nBody of C.\n\n## D\n"

    chunks = chunk_document(doc(text))

    assert [c.text for c in chunks] == ["Body of C."]
    assert chunk_document(doc(" \n\n\t")) == []


def test_a_document_of_headings_only_still_yields_one_chunk() -> None:
    chunks = chunk_document(doc("# Refunds\n\n## Contact billing@example.com\n", title="Refunds"))

    assert [(c.headings, c.text) for c in chunks] == [((), "Refunds\nContact billing@example.com")]


def test_invariants_hold_on_varied_documents() -> None:
    rng = random.Random(7)
    pieces = ["# Top", "## Sub", "### Deep", "```", "# in code?", "", "Short line.", sentences(3), "x" * 700]
    for _ in range(200):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))

        chunks = chunk_document(doc(text), max_chars=300, overlap_chars=60)

        assert all(c.text.strip() for c in chunks)
        assert all(len(c.text) <= 300 for c in chunks)
        assert [c.index for c in chunks] == list(range(len(chunks)))
        assert bool(chunks) == bool(text.strip())


def test_ids_are_sequential_and_stable_across_runs() -> None:
    text = "Intro.\n\n## One\n\n" + sentences(40) + "\n\n## Two\n\nEnd."

    first = chunk_document(doc(text), max_chars=500, overlap_chars=100)
    again = chunk_document(doc(text), max_chars=500, overlap_chars=100)

    assert [c.chunk_id for c in first] == [f"billing/refunds.md#{i}" for i in range(len(first))]
    assert [c.index for c in first] == list(range(len(first)))
    assert first == again


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        chunk_document(doc("x"), max_chars=0)
    with pytest.raises(ValueError, match="overlap_chars"):
        chunk_document(doc("x"), max_chars=100, overlap_chars=100)


def test_fingerprint_changes_with_settings_and_names_the_version() -> None:
    base = chunker_fingerprint(1200, 150)

    assert CHUNKER_VERSION in base
    assert base == chunker_fingerprint(1200, 150)
    assert base != chunker_fingerprint(1000, 150)
    assert base != chunker_fingerprint(1200, 100)
