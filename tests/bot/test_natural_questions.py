"""Questions as people type them in chat: answered on a 3-article help centre as on the full sample,
and led by the article that answers them (issue: answers people can trust in chat)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from adapters.app import SAMPLE_HELPCENTRE
from bot.engine import AnswerEngine
from bot.types import Reason
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase

SMALL = ("account/reset-your-password.md", "billing/download-invoices.md",
         "security/enable-two-factor-authentication.md")


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("small-helpcentre")
    for rel in SMALL:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_HELPCENTRE / rel, root / rel)
    kb = KnowledgeBase.open(data_dir=tmp_path_factory.mktemp("small-data"), name="small", embedder=embedder)
    kb.reload(root)
    return kb


@pytest.fixture(scope="module")
def sample_kb(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> KnowledgeBase:
    kb = KnowledgeBase.open(data_dir=tmp_path_factory.mktemp("sample-data"), name="sample", embedder=embedder)
    kb.reload(Path(SAMPLE_HELPCENTRE))
    return kb


@pytest.mark.parametrize(("question", "doc"), [
    ("How do I reset my password?", "account/reset-your-password.md"),
    ("reset password", "account/reset-your-password.md"),
    ("forgot my pasword, how do i get back in", "account/reset-your-password.md"),
    ("where can I get my invoices", "billing/download-invoices.md"),
    ("need a receipt for last month", "billing/download-invoices.md"),
    ("how do i turn on 2fa", "security/enable-two-factor-authentication.md"),
    ("can I use an authenticator app for my login codes", "security/enable-two-factor-authentication.md"),
])
def test_small_help_centre_answers_what_it_covers(small_kb: KnowledgeBase, question: str, doc: str) -> None:
    a = AnswerEngine(knowledge=small_kb).answer(question)
    assert a.reason == Reason.ANSWERED and a.citations[0].doc_id == doc, (question, a)


@pytest.mark.parametrize("question", ["Is there an Apple Watch app?", "What is the capital of Peru?",
                                      "do you integrate with xero"])
def test_small_help_centre_still_declines_what_it_does_not(small_kb: KnowledgeBase, question: str) -> None:
    assert AnswerEngine(knowledge=small_kb).answer(question).reason == Reason.NOT_COVERED


@pytest.mark.parametrize(("question", "doc"), [
    ("What happens when my trial ends?", "billing/what-happens-when-your-trial-ends.md"),
    ("How do I update my credit card?", "billing/update-your-payment-method.md"),
    ("Can I use the mobile app offline?", "mobile/use-cadence-offline.md"),
])
def test_answer_leads_with_the_article_that_answers(sample_kb: KnowledgeBase, question: str, doc: str) -> None:
    a = AnswerEngine(knowledge=sample_kb).answer(question)
    assert a.reason == Reason.ANSWERED, a
    assert a.citations[0].doc_id == doc and a.text.split("[", 1)[0].strip(), a
    # the first thing the answer says comes from the lead article
    assert re.search(r"\[(\d+)\]", a.text).group(1) == "1", a.text  # type: ignore[union-attr]


def test_how_to_questions_are_answered_with_the_steps(sample_kb: KnowledgeBase) -> None:
    a = AnswerEngine(knowledge=sample_kb).answer("How do I update my credit card?")
    first = a.text.splitlines()[0]
    assert first.startswith("1. ") and "Settings → Billing → Payment method" in first and "[1]" in first, a.text


def test_a_list_cut_by_a_chunk_boundary_is_quoted_from_its_first_step(sample_kb: KnowledgeBase) -> None:
    a = AnswerEngine(knowledge=sample_kb).answer("how do i invite my team")
    steps = [line for line in a.text.splitlines() if re.match(r"\d+\. ", line)]
    assert steps and steps[0].startswith("1. "), a.text
