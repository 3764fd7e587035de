"""Suggested questions: the most asked-about articles first, then the help centre's own."""

from __future__ import annotations

from bot.conversation import ASKED_PREFIX
from bot.store import DAY_S, InMemoryStore
from bot.suggest import MAX_TITLE, as_question, suggested_questions
from knowledge.kb import Article
from tests.conftest import Clock

ARTICLES = [Article("a.md", "Reset your password", ""), Article("b.md", "Plans and pricing", ""),
            Article("c.md", "Why was I charged twice", ""), Article("d.md", "Sync error E-4011", ""),
            Article("e.md", "Sync Google Calendar", ""), Article("f.md", "Use the API", "")]


def test_titles_become_questions_people_would_ask() -> None:
    assert as_question("Reset your password") == "How do I reset my password?"
    assert as_question("Why was I charged twice") == "Why was I charged twice?"
    assert as_question("Plans and pricing") == "Tell me about plans and pricing"
    assert as_question("Sync error E-4011") == "Tell me about sync error E-4011"
    assert as_question("Sync Google Calendar") == "How do I sync Google Calendar?"
    assert as_question("API rate limits") == "Tell me about API rate limits"


def test_most_asked_articles_come_first_then_the_help_centres(clock: Clock) -> None:
    store = InMemoryStore(clock=clock)
    assert [s.title for s in suggested_questions(store, ARTICLES, now=clock())] == [
        "Reset your password", "Plans and pricing", "Why was I charged twice", "Sync error E-4011"]
    for doc, times in (("e.md", 3), ("c.md", 5), ("gone.md", 9)):  # gone.md was removed since
        for _ in range(times):
            store.count(ASKED_PREFIX + doc, clock())
    store.count(ASKED_PREFIX + "f.md", clock() - 40 * DAY_S)  # asked, but too long ago
    got = suggested_questions(store, ARTICLES, now=clock(), n=4)
    assert [s.title for s in got] == ["Why was I charged twice", "Sync Google Calendar", "Reset your password",
                                      "Plans and pricing"]
    assert got[1].message == "How do I sync Google Calendar?"


def test_long_titles_are_cut_at_a_word() -> None:
    long = Article("x.md", "Limits of " + "very " * 30 + "long projects", "")
    (s,) = suggested_questions(InMemoryStore(), [long], now=0.0, n=1)
    assert len(s.title) <= MAX_TITLE and s.title.endswith("…") and " very…" in s.title
    assert s.message.startswith("Tell me about limits of very")
