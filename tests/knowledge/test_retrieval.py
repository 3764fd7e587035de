"""Hybrid retrieval over a real index: lexical and dense both count, scopes filter, one hit per article."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document

from knowledge.kb import KnowledgeBase
from knowledge.retrieval import FusionConfig, HybridSearcher, Scope, expand_query
from tests.conftest import write_articles

LONG_ARTICLE = {
    "account/long-guide.md": "---\ntitle: The complete account guide\n---\n"
    + "\n".join(
        f"## Section {i}\nYour account profile settings page number {i} explains profile options "
        "such as avatar, display name and language preferences in detail. " * 4
        for i in range(8)
    )
}


@pytest.fixture
def indexed(kb: KnowledgeBase, helpcentre: Path) -> KnowledgeBase:
    write_articles(helpcentre, LONG_ARTICLE)
    kb.reload(helpcentre)
    return kb


def test_exact_code_found_lexically(indexed: KnowledgeBase) -> None:
    hit = indexed.search("E-4011", k=1)[0]
    assert hit.doc_id == "troubleshooting/error-e4011.md"
    assert hit.lexical > 0


def test_paraphrase_found_without_shared_words(indexed: KnowledgeBase) -> None:
    # no content word of the question appears in the offline article
    hits = indexed.search("no internet on my cellphone, can I still see my plans?", k=2)
    assert "mobile/offline.md" in [h.doc_id for h in hits]


def test_hybrid_is_not_just_one_side(indexed: KnowledgeBase) -> None:
    lexical_only = HybridSearcher(indexed, config=FusionConfig(lexical_weight=1.0))
    dense_only = HybridSearcher(indexed, config=FusionConfig(lexical_weight=0.0))
    q = "no internet on my cellphone, can I still see my plans?"
    assert lexical_only.search(q, k=1)[0].doc_id != "mobile/offline.md"
    assert dense_only.search(q, k=1)[0].doc_id == "mobile/offline.md"


def test_results_are_one_per_article_with_metadata(indexed: KnowledgeBase) -> None:
    hits = indexed.search("account profile settings avatar display name", k=5)
    ids = [h.doc_id for h in hits]
    assert len(ids) == len(set(ids))
    assert ids[0] == "account/long-guide.md"
    assert hits[0].score >= hits[-1].score
    refunds = indexed.search("refund", k=1)[0]
    assert refunds.url == "https://help.example.test/billing/refunds"
    assert refunds.title == "Request a refund"
    assert refunds.metadata["category"] == "billing"


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        (Scope(categories=("security",)), {"security/two-factor.md"}),
        (Scope(tags=("refunds", "2fa")), {"billing/refunds.md", "security/two-factor.md"}),
        (Scope(audiences=("admins",)), {"troubleshooting/error-e4011.md"}),
        (Scope(categories=("billing", "security"), tags=("2fa",)), {"security/two-factor.md"}),
    ],
)
def test_scope_filters_both_retrievers(indexed: KnowledgeBase, scope: Scope, allowed: set[str]) -> None:
    for q in ("refund for annual plan", "E-4011", "authenticator code", "offline phone"):
        got = {h.doc_id for h in indexed.search(q, k=10, scope=scope)}
        assert got <= allowed, (q, got)
    assert {h.doc_id for h in indexed.search("refund two-factor error offline", k=10, scope=scope)}


def test_scope_matching_nothing_returns_nothing(indexed: KnowledgeBase) -> None:
    assert indexed.search("refund", scope=Scope(categories=("nope",))) == []


def test_follow_up_uses_history(indexed: KnowledgeBase) -> None:
    follow_up = "and how long do I have for that?"
    with_history = indexed.search(follow_up, k=1, history=("Can I get a refund on my annual plan?",))
    assert with_history[0].doc_id == "billing/refunds.md"
    assert expand_query("and on Android?", ("How do I use it offline?",), 2) == (
        "How do I use it offline? and on Android?"
    )


def test_empty_query_and_empty_index(kb: KnowledgeBase, tmp_path: Path) -> None:
    assert kb.search("anything") == []  # nothing indexed yet
    kb.reload(write_articles(tmp_path / "hc"))
    assert kb.search("   ") == []


def test_langchain_retriever(indexed: KnowledgeBase) -> None:
    retriever = indexed.as_retriever(k=2, scope=Scope(categories=("billing",)))
    docs = retriever.invoke("refund")
    assert docs and all(isinstance(d, Document) for d in docs)
    assert docs[0].metadata["doc_id"] == "billing/refunds.md"
    assert docs[0].metadata["url"].startswith("https://")
    assert 0 < docs[0].metadata["score"] <= 1.0
    assert "30 days" in docs[0].page_content or "Request refund" in docs[0].page_content
