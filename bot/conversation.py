"""One incoming message to one reply: the turn every adapter (Slack, Teams, the console) runs.

Lease the message's identity (retries and redeliveries get no second answer), take a token from the
user's bucket (a friendly "slow down" when it is empty), answer with the thread's history, then
remember: the new turns, the answer (so a rating can name it), the unanswered log and daily counters.
``admit`` (cheap: two store calls) and ``answer`` (CPU work) are separate steps so that a server can
admit on its event loop and answer in a worker pool; ``handle`` runs both.

No question lost: the claim is a lease (``lease_s``) that the answering worker renews until its reply
is posted (``finish``). If the worker dies first, the lease runs out and another worker takes the
message over (``resume``), with the ``work`` the adapter left to answer it again; a message still
being answered is never answered twice. After ``MAX_ATTEMPTS`` workers, the user gets an apology
instead of another try (a message that kills every worker it reaches must not go round for ever).
Platform-free: an adapter builds an ``Incoming`` from its event and renders the ``Reply``. State lives
behind ``ConversationStore``, so any number of workers can run this side by side.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot import messages
from bot.store import AnswerRecord, Claim, ConversationStore, FeedbackKind, FeedbackRecord, Lease, ThreadKey
from bot.types import ANSWERED_REASONS, Answer, Reason, Turn
from knowledge.retrieval import Scope

log = logging.getLogger(__name__)


class Answerer(Protocol):
    """What the turn needs of the engine (``bot.engine.AnswerEngine`` implements it)."""

    def answer(self, question: str, history: Sequence[Turn] = (), scope: Scope | None = None, *,
               voice: str = "", platform: str = "") -> Answer: ...


class TurnObserver(Protocol):
    """Told what each turn came to, for metrics (``adapters/server/metrics.py``); never told any text."""

    def admitted(self, platform: str, outcome: str) -> None: ...

    def answered(self, platform: str, answer: Answer, seconds: float) -> None: ...

    def rated(self, platform: str, kind: str) -> None: ...


class _Unobserved:
    def admitted(self, platform: str, outcome: str) -> None:
        pass

    def answered(self, platform: str, answer: Answer, seconds: float) -> None:
        pass

    def rated(self, platform: str, kind: str) -> None:
        pass


class Outcome(StrEnum):
    ANSWERED = "answered"  # ``answer`` is set (it may itself be a short reason: not covered, error…)
    DUPLICATE = "duplicate"  # another delivery of a message already claimed: send nothing
    RATE_LIMITED = "rate_limited"  # ``text`` asks the user to slow down
    BUSY = "busy"  # every worker is taken and the queue is full: ``text`` asks to try again soon
    RESUMED = "resumed"  # (metrics only) a message whose worker died, taken over by this one
    GAVE_UP = "gave_up"  # ``MAX_ATTEMPTS`` workers took it and none posted a reply: ``text`` apologises


@dataclass(frozen=True)
class Incoming:
    """A question as the core sees it, whatever the platform."""

    key: ThreadKey
    message_id: str  # the message's identity: Slack "team:channel:ts", Teams activity id
    user_id: str
    text: str
    scope: Scope | None = None
    voice: str = ""  # the channel's voice profile ("" = the default)

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
_REPEATED = {"helpful": messages.RATING_REPEATED, "not_helpful": messages.RATING_REPEATED,
             "human": messages.HUMAN_ALREADY_REQUESTED}
MAX_ATTEMPTS = 3  # workers that may take one message before the user gets an apology instead
DEFAULT_LEASE_S = 30.0
MAX_QUESTION_CHARS = 4000  # longer messages get a short reason from the adapters, not a search
ASKED_PREFIX = "asked:"  # daily counter of questions answered from each article: ``asked:{doc id}``


def voter_id(answer_id: str, user_id: str) -> str:
    """Who rated which answer, without keeping the user id in the feedback log."""
    return hashlib.sha1(f"{answer_id}\0{user_id}".encode()).hexdigest()[:16]


def worker_name() -> str:
    """This process among the workers: host, pid and a random part (a restarted pid is a new owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}".replace("|", "_")


class SupportBot:
    def __init__(
        self, *, engine: Answerer, store: ConversationStore, clock: Callable[[], float] = time.time,
        observer: TurnObserver | None = None, owner: str | None = None, lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.engine = engine
        self.store = store
        self.clock = clock
        self.observer: TurnObserver = observer or _Unobserved()
        self.owner = owner or worker_name()
        self.lease_s = lease_s

    def handle(self, msg: Incoming) -> Reply:
        """Always a reply (answer, short reason or "slow down") unless the message is a duplicate."""
        admitted = self.admit(msg)
        if admitted is not None:
            return admitted
        reply = self.answer(msg)
        self.finish(msg.identity)
        return reply

    def admit(self, msg: Incoming, work: str = "") -> Reply | None:
        """None when the message is to be answered (then ``finish`` it once the reply is posted); else
        the reply instead (duplicate, slow down). ``work``: what another worker would need to answer
        it if this one dies first (``resume``)."""
        platform = msg.key.platform
        lease = self.store.lease_message(msg.identity, self.owner, self.lease_s, work)
        if not lease.granted:
            log.info("duplicate message %s ignored (%s)", msg.identity, lease.claim)
            self.observer.admitted(platform, Outcome.DUPLICATE)
            return Reply(Outcome.DUPLICATE)
        if lease.claim == Claim.NEW and not self.store.allow(msg.user_id):
            self.finish(msg.identity)
            self.store.count(str(Outcome.RATE_LIMITED), self.clock())
            self.observer.admitted(platform, Outcome.RATE_LIMITED)
            return Reply(Outcome.RATE_LIMITED, text=messages.SLOW_DOWN)
        self.observer.admitted(platform, Outcome.ANSWERED if lease.claim == Claim.NEW else Outcome.RESUMED)
        return None

    def resume(self, message_id: str, platform: str) -> Lease:
        """Take over a message whose lease ran out (``store.stale_leases``). Granted: answer it (or,
        past ``MAX_ATTEMPTS``, post ``gave_up``) and ``finish`` it; else another worker has it."""
        lease = self.store.lease_message(message_id, self.owner, self.lease_s)
        if lease.granted:
            log.warning("message %s: its worker stopped before replying; answering it here (attempt %d)",
                        message_id, lease.attempts)
            self.observer.admitted(platform, Outcome.RESUMED)
        return lease

    def renew(self, message_id: str) -> bool:
        """Still answering: extend the lease. False when another worker has taken the message over."""
        return self.store.renew_lease(message_id, self.owner, self.lease_s)

    def release(self, message_id: str) -> None:
        """Stopping before the reply is posted: let another worker take the message now."""
        self.store.renew_lease(message_id, self.owner, 0)

    def finish(self, message_id: str) -> None:
        """The reply is posted: no worker will answer this message again."""
        self.store.finish_message(message_id)

    def gave_up(self, platform: str) -> Reply:
        """The reply for a message ``MAX_ATTEMPTS`` workers took without posting one."""
        self.store.count(str(Outcome.GAVE_UP), self.clock())
        self.observer.admitted(platform, Outcome.GAVE_UP)
        return Reply(Outcome.GAVE_UP, text=messages.GAVE_UP)

    def answer(self, msg: Incoming) -> Reply:
        """Answer an admitted message with its thread's history, and remember the turn."""
        now = self.clock()
        t0 = time.perf_counter()
        answer = self.engine.answer(msg.text, self.store.history(msg.key), msg.scope, voice=msg.voice,
                                    platform=msg.key.platform)
        self.observer.answered(msg.key.platform, answer, time.perf_counter() - t0)
        self._remember(msg, answer, now)
        return Reply(Outcome.ANSWERED, text=answer.text, answer=answer, answer_id=msg.identity)

    def busy(self, msg: Incoming) -> Reply:
        """The reply for an admitted message that no worker can take now (counted for the report)."""
        self.store.count(str(Outcome.BUSY), self.clock())
        self.observer.admitted(msg.key.platform, Outcome.BUSY)
        return Reply(Outcome.BUSY, text=messages.BUSY)

    def alias(self, answer_id: str, alias: str) -> bool:
        """Make an answer rateable under a second id too (Teams rates the bot's reply message, not the
        question); False when the answer is unknown or the store is down."""
        rec = self.store.recall_answer(answer_id)
        if rec is None:
            return False
        self.store.remember_answer(alias, rec)
        return True

    def rate(self, answer_id: str, kind: FeedbackKind, user_id: str, comment: str = "") -> Rated:
        """Log a rating of an answer (helpful, not helpful, asked for a human).

        The thumbs are toggles (platform rules, "Feedback"): a user's latest rating of an answer is the
        one that counts, so a changed mind moves the count from the old kind to the new. Asking for a
        person counts once per user and answer. A ``comment`` goes into the feedback log with the rating.
        """
        rec = self.store.recall_answer(answer_id)
        if rec is None:
            unknown = messages.RATING_UNKNOWN if self.store.healthy() else messages.RATING_UNAVAILABLE
            return Rated(False, unknown)
        now = self.clock()
        group = "human" if kind == "human" else "thumbs"
        previous = self.store.swap_marker(f"{group}:{answer_id}:{user_id}", f"{kind}@{now!r}")
        old_kind, _, old_at = (previous or "").partition("@")
        if old_kind == kind and not comment:
            return Rated(False, _REPEATED[kind])
        if old_kind in _THANKS:
            self.store.count(f"feedback_{old_kind}", _float(old_at, now), by=-1)
        self.store.record_feedback(
            FeedbackRecord(kind=kind, question=rec.question, answer=rec.answer, citations=rec.citations,
                           channel=rec.channel, at=now, voter=voter_id(answer_id, user_id), comment=comment)
        )
        self.store.count(f"feedback_{kind}", now)
        self.observer.rated(answer_id.partition(":")[0].partition("-")[0], kind)  # "teams-reply:…" too
        return Rated(True, messages.RATING_CHANGED if old_kind else _THANKS[kind])

    def _remember(self, msg: Incoming, answer: Answer, now: float) -> None:
        self.store.append(msg.key, Turn("user", msg.text), Turn("assistant", answer.text))
        self.store.count(str(answer.reason), now)
        question = answer.question or msg.text.strip()
        cited = tuple(c.doc_id for c in answer.citations)
        record = AnswerRecord(question, answer.text, cited, msg.key.channel, now)
        self.store.remember_answer(msg.identity, record)
        if answer.reason == Reason.NOT_COVERED:
            self.store.record_unanswered(question, msg.key.channel, now)
        elif answer.reason in ANSWERED_REASONS and answer.citations:
            self.store.count(ASKED_PREFIX + answer.citations[0].doc_id, now)


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default
