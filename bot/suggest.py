"""Suggested questions for a new conversation: the articles people asked about most in the last month
(the report's counters), topped up from the help centre's own articles while there is no history."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.conversation import ASKED_PREFIX
from bot.store import DAY_S, ConversationStore
from knowledge.kb import Article

# How-to titles start with a verb ("Reset your password"): asked as "How do I reset my password?"
_HOW_TO_VERBS = frozenset({
    "add", "archive", "assign", "automate", "cancel", "change", "choose", "configure", "connect", "create",
    "customise", "customize", "delete",
    "disable", "download", "downgrade", "edit", "enable", "export", "find", "fix", "get", "import",
    "install", "invite", "join", "leave", "lock", "manage", "merge", "move", "pause", "plan",
    "provision", "recover", "remove", "rename", "request", "reset", "restore", "schedule", "set",
    "share", "sign", "start", "stop", "switch", "sync", "transfer", "turn", "update", "upgrade", "use",
    "verify", "view",
})
_QUESTION_WORDS = frozenset({
    "how", "what", "why", "when", "where", "who", "which", "can", "is", "are", "do", "does", "should",
    "will",
})
_NOUN_SECOND = frozenset({
    "error", "errors", "issue", "issues", "problem", "problems", "settings", "status",
})  # "Sync error"
_PRONOUNS = {"your": "my", "you": "I", "yours": "mine", "yourself": "myself"}
MAX_TITLE = 75  # Slack's prompt title; longer titles are cut at a word


@dataclass(frozen=True)
class Suggestion:
    title: str  # what the button shows
    message: str  # what is asked when it is clicked


def as_question(title: str) -> str:
    """An article title as a user would ask it: "Reset your password" -> "How do I reset my password?"."""
    words = title.strip().rstrip(".?!").split()
    if not words:
        return title
    first = words[0].casefold()
    if first in _QUESTION_WORDS:
        return " ".join(words) + "?"
    if first in _HOW_TO_VERBS and (len(words) < 2 or words[1].casefold() not in _NOUN_SECOND):
        mine = [_PRONOUNS.get(w.casefold(), w) for w in words]
        return "How do I " + " ".join([mine[0].casefold(), *mine[1:]]) + "?"
    return "Tell me about " + " ".join([words[0] if words[0].isupper() else words[0].casefold(), *words[1:]])


def _short(title: str) -> str:
    if len(title) <= MAX_TITLE:
        return title
    cut = title[: MAX_TITLE - 1].rsplit(" ", 1)[0]
    return re.sub(r"[\s,;:.-]+$", "", cut) + "…"


def suggested_questions(
    store: ConversationStore, articles: Sequence[Article], *, now: float, n: int = 4,
    days: int = 30,
) -> list[Suggestion]:
    """Up to ``n`` suggestions: the most asked-about articles of the last ``days`` days that still
    exist, then the help centre's articles in order."""
    titles = {a.doc_id: a.title for a in articles}
    counts = store.counts(now - days * DAY_S, now)
    asked = sorted(
        ((c, doc[len(ASKED_PREFIX):]) for doc, c in counts.items() if doc.startswith(ASKED_PREFIX)),
        key=lambda cd: (-cd[0], cd[1]),
    )
    chosen = [doc for c, doc in asked if c > 0 and doc in titles]
    chosen += [a.doc_id for a in articles if a.doc_id not in chosen]
    return [Suggestion(_short(titles[doc]), as_question(titles[doc])) for doc in chosen[:n]]
