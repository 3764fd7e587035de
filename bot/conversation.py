"""One incoming message to one reply: the turn every adapter (Slack, Teams, the console) runs.

Claim the message's identity (retries and redeliveries get no second answer), take a token from the
user's bucket (a friendly "slow down" when it is empty), answer with the thread's history, then
remember: the new turns, the answer (so a rating can name it), the unanswered log and daily counters.
Platform-free: an adapter builds an ``Incoming`` from its event and renders the ``Reply``. State lives
behind ``ConversationStore``, so any number of workers can run this side by side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot import messages
from bot.store import AnswerRecord, ConversationStore, FeedbackKind, FeedbackRecord, ThreadKey
from bot.types import Answer, Reason, Turn
from knowledge.retrieval import Scope

log = logging.getLogger(__name__)


class Answerer(Protocol):
    """What the turn needs of the engine (``bot.engine.AnswerEngine`` implements it)."""

    def answer(self, question: str, history: Sequence[Turn] = (), scope: Scope | None = None) -> Answer: ...


class Outcome(StrEnum):
    ANSWERED = "answered"  # ``answer`` is set (it may itself be a short reason: not covered, error…)
    DUPLICATE = "duplicate"  # another delivery of a message already claimed: send nothing
    RATE_LIMITED = "rate_limited"  # ``text`` asks the user to slow down


@dataclass(frozen=True)
class Incoming:
    """A question as the core sees it, whatever the platform."""

    key: ThreadKey
    message_id: str  # the message's identity: Slack "team:channel:ts", Teams activity id
    user_id: str
    text: str
    scope: Scope | None = None

    @property
    def identity(self) -> str:
        """Unique across platforms; the de-duplication claim and the answer id."""
        return f"{self.key.platform}:{self.message_id}"


@dataclass(frozen=True)
class Reply:
    outcome: Outcome
    text: str = ""  # what to post ("" for a duplicate)
    answer: Answer | None = None
    answer_id: str = ""  # what a rating of this answer refers to (feedback buttons carry it)


@dataclass(frozen=True)
class Rated:
    recorded: bool
    text: str  # the acknowledgement to show the user


_THANKS = {"helpful": messages.THANKS_HELPFUL, "not_helpful": messages.THANKS_NOT_HELPFUL,
           "human": messages.HUMAN_REQUESTED}


class SupportBot:
    def __init__(
        self, *, engine: Answerer, store: ConversationStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock

    def handle(self, msg: Incoming) -> Reply:
        """Always a reply (answer, short reason or "slow down") unless the message is a duplicate."""
        now = self.clock()
        if not self.store.claim_message(msg.identity):
            log.info("duplicate message %s ignored", msg.identity)
            return Reply(Outcome.DUPLICATE)
        if not self.store.allow(msg.user_id):
            self.store.count(str(Outcome.RATE_LIMITED), now)
            return Reply(Outcome.RATE_LIMITED, text=messages.SLOW_DOWN)
        answer = self.engine.answer(msg.text, self.store.history(msg.key), msg.scope)
        self._remember(msg, answer, now)
        return Reply(Outcome.ANSWERED, text=answer.text, answer=answer, answer_id=msg.identity)

    def rate(self, answer_id: str, kind: FeedbackKind, user_id: str) -> Rated:
        """Log a rating of an answer (helpful, not helpful, asked for a human): once per user and
        answer for the thumbs, once more for asking for a human."""
        rec = self.store.recall_answer(answer_id)
        if rec is None:
            unknown = messages.RATING_UNKNOWN if self.store.healthy() else messages.RATING_UNAVAILABLE
            return Rated(False, unknown)
        group = "human" if kind == "human" else "thumbs"
        if not self.store.claim_message(f"vote:{group}:{answer_id}:{user_id}"):
            return Rated(False, messages.RATING_REPEATED)
        now = self.clock()
        self.store.record_feedback(
            FeedbackRecord(kind=kind, question=rec.question, answer=rec.answer, citations=rec.citations,
                           channel=rec.channel, at=now)
        )
        self.store.count(f"feedback_{kind}", now)
        return Rated(True, _THANKS[kind])

    def _remember(self, msg: Incoming, answer: Answer, now: float) -> None:
        self.store.append(msg.key, Turn("user", msg.text), Turn("assistant", answer.text))
        self.store.count(str(answer.reason), now)
        question = answer.question or msg.text.strip()
        cited = tuple(c.doc_id for c in answer.citations)
        record = AnswerRecord(question, answer.text, cited, msg.key.channel, now)
        self.store.remember_answer(msg.identity, record)
        if answer.reason == Reason.NOT_COVERED:
            self.store.record_unanswered(question, msg.key.channel, now)
