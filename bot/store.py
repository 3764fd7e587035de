"""Conversation state: the port the core talks to, and its in-process twin (house style, conventions 2).

One port covers what the bot keeps between messages: per-thread history, de-duplication of incoming
messages, a per-user rate limit, the answers people may rate, the feedback / unanswered logs and daily
counters for ``supportbot report``. ``adapters.redis_store.RedisStore``
is the real implementation (platform rules, "Redis"); ``InMemoryStore`` is used only when REDIS_URL is
unset (one process, tests, the console).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from bot.types import Turn

log = logging.getLogger(__name__)

FeedbackKind = Literal["helpful", "not_helpful", "human"]
FEEDBACK_KINDS: tuple[str, ...] = ("helpful", "not_helpful", "human")


class Claim(StrEnum):
    """What a worker's claim on a message came to (``ConversationStore.lease_message``)."""

    NEW = "new"  # the first delivery: answer it
    RESUMED = "resumed"  # its worker's lease ran out before the reply was posted: answer it here
    HELD = "held"  # another worker holds a live lease: it is answering now
    DONE = "done"  # its reply (an answer or a short reason) has been posted


@dataclass(frozen=True)
class Lease:
    claim: Claim
    attempts: int = 1  # how many workers have taken this message, this one included

    @property
    def granted(self) -> bool:
        return self.claim in (Claim.NEW, Claim.RESUMED)


@dataclass(frozen=True)
class ThreadKey:
    """Where a conversation lives: platform + workspace/tenant + channel/conversation + thread."""

    platform: str  # "slack" | "teams" | "console"
    workspace: str  # Slack team id / Teams tenant id
    channel: str  # Slack channel id / Teams conversation id
    thread: str  # Slack thread_ts (or the message ts for a new thread) / Teams reply-to id

    def parts(self) -> tuple[str, str, str, str]:
        """The identifying parts, outermost first; each store encodes them its own way."""
        return (self.platform, self.workspace, self.channel, self.thread)


@dataclass(frozen=True)
class FeedbackRecord:
    """One reaction to an answer: helpful, not helpful, or asked for a human."""

    kind: FeedbackKind
    question: str
    answer: str
    citations: tuple[str, ...]  # doc ids cited by the answer
    channel: str
    at: float  # epoch seconds
    voter: str = ""  # who rated which answer, hashed: a changed mind replaces the earlier rating
    comment: str = ""  # what the user wrote with the rating (Teams' feedback form), if anything

    def __post_init__(self) -> None:
        if self.kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback kind {self.kind!r}; expected one of {FEEDBACK_KINDS}")


@dataclass(frozen=True)
class AnswerRecord:
    """An answer as it was given, kept (with the feedback TTL) so a later rating can name it."""

    question: str
    answer: str
    citations: tuple[str, ...]  # doc ids cited by the answer
    channel: str
    at: float  # epoch seconds


DAY_S = 86400


def day_of(at: float) -> int:
    """The UTC day number that daily counters file an event under."""
    return int(at // DAY_S)


@dataclass(frozen=True)
class StoreLimits:
    """How much conversation state any store keeps, and for how long (TTLs in seconds)."""

    history_turns: int = 20
    history_ttl_s: int = 7 * 86400
    dedupe_ttl_s: int = 3600
    rate_per_s: float = 10 / 60  # ten questions a minute, after a burst
    burst: int = 5
    feedback_ttl_s: int = 90 * 86400
    log_cap: int = 10_000

    def __post_init__(self) -> None:
        if self.history_turns < 1 or self.rate_per_s <= 0 or self.burst < 1 or self.log_cap < 1:
            raise ValueError("history_turns, burst and log_cap must be >= 1 and rate_per_s > 0")
        if min(self.history_ttl_s, self.dedupe_ttl_s, self.feedback_ttl_s) < 1:
            raise ValueError("TTLs must be at least 1 second")


@runtime_checkable
class ConversationStore(Protocol):
    """State shared by every worker of the bot.

    Error behaviour, for every method: an implementation never raises because its backend is down or
    slow. It degrades instead (no history, no de-duplication, no rate limiting, records dropped), logs
    the degradation (at most once per interval, never the message text) and recovers by itself when
    the backend returns. Answering without memory beats not answering inside Slack's 3-second budget.
    Every key written expires (history, dedupe, buckets, logs); nothing is kept forever.
    """

    def history(self, key: ThreadKey) -> list[Turn]:
        """The thread's turns, oldest first (at most the configured cap); [] if none or degraded."""
        ...

    def append(self, key: ThreadKey, *turns: Turn) -> None:
        """Add turns to the thread, keep only the newest N and renew its TTL, as one atomic step.

        Concurrent appends to one thread lose nothing (up to the cap). Degraded: a no-op.
        """
        ...

    def claim_message(self, message_id: str) -> bool:
        """True the first time any worker claims this message identity, False for a duplicate.

        Atomic across workers (set-if-absent with a TTL). Degraded: True, answering twice rather than
        dropping a message.
        """
        ...

    def lease_message(self, message_id: str, owner: str, lease_s: float, work: str = "") -> Lease:
        """A provisional claim: ``owner`` answers the message while its lease (``lease_s``) lasts.

        NEW the first time; HELD while another owner's lease is live; DONE once ``finish_message``
        ran (or ``claim_message`` claimed it); RESUMED when the lease ran out before that (its worker
        died or was stopped), handing the message to this owner with ``attempts`` one higher. ``work``
        (opaque to the store: what a worker needs to answer it again) is kept with the lease and listed
        by ``stale_leases`` once it runs out. One atomic step across workers. Degraded: NEW.
        """
        ...

    def renew_lease(self, message_id: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease to ``lease_s`` from now (the answer is still being worked on);
        ``lease_s`` <= 0 gives it up at once. False when ``owner`` no longer holds it. Degraded: True."""
        ...

    def finish_message(self, message_id: str) -> None:
        """The reply is posted: the claim becomes final (the de-duplication TTL) and the lease's work
        is dropped. Degraded: a no-op."""
        ...

    def stale_leases(self, limit: int = 20) -> list[tuple[str, str]]:
        """(message id, work) of leases that ran out before their reply was posted, oldest first:
        messages to answer again (``lease_message`` decides which worker does). [] if degraded."""
        ...

    def allow(self, user_id: str) -> bool:
        """Take one token from the user's bucket (rate per second, burst); False when it is empty.

        Read-refill-take is one atomic step. Degraded: True (no rate limiting).
        """
        ...

    def record_feedback(self, rec: FeedbackRecord) -> None:
        """Append to the feedback log (capped, expiring). Degraded: dropped and counted."""
        ...

    def record_unanswered(self, question: str, channel: str, at: float) -> None:
        """Append to the unanswered-question log (capped, expiring). Degraded: dropped and counted."""
        ...

    def feedback(self, limit: int = 100) -> list[FeedbackRecord]:
        """The newest feedback records, newest first; [] if degraded."""
        ...

    def remember_answer(self, answer_id: str, rec: AnswerRecord) -> None:
        """Keep an answer (feedback TTL) so a rating can refer to it by id. Degraded: dropped."""
        ...

    def recall_answer(self, answer_id: str) -> AnswerRecord | None:
        """The answer kept under this id; None if unknown, expired or degraded."""
        ...

    def swap_marker(self, marker: str, value: str) -> str | None:
        """Keep ``value`` under ``marker`` (feedback TTL) and return the value it replaces, or None.

        For facts that must outlive de-duplication: a user's latest rating of an answer, whether a
        user has been welcomed. One atomic step (set-and-get), so two clicks racing on two workers see
        each other. Degraded: None, and nothing kept.
        """
        ...

    def count(self, event: str, at: float, by: int = 1) -> None:
        """Add ``by`` to the counter for ``event`` on the UTC day of ``at`` (a changed rating takes one
        back from the day it was given); expires with the feedback TTL."""
        ...

    def counts(self, since: float, until: float) -> dict[str, int]:
        """Each event's total over the UTC days from ``since`` to ``until``; {} if degraded."""
        ...

    def unanswered(self, limit: int = 100) -> list[tuple[str, str, float]]:
        """The newest unanswered questions as (question, channel, at), newest first; [] if degraded."""
        ...

    def healthy(self) -> bool:
        """Whether the last call to the backend succeeded (no probe of its own)."""
        ...


class _MemoryLease(NamedTuple):
    owner: str
    expires: float  # the lease
    attempts: int
    work: str
    until: float  # the claim itself (the de-duplication TTL)


class InMemoryStore:
    """The in-process twin of ``ConversationStore``: same contract, one process only.

    Thread-safe (one lock); TTLs follow the injected clock. Not shared between workers, so with more
    than one worker de-duplication and rate limits are per worker: use Redis there.
    """

    def __init__(self, *, limits: StoreLimits | None = None, clock: Callable[[], float] = time.time) -> None:
        self._limits = lim = limits or StoreLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._threads: dict[ThreadKey, tuple[deque[Turn], float]] = {}
        self._claims: dict[str, float] = {}
        self._leases: dict[str, _MemoryLease] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, ts)
        self._feedback: deque[FeedbackRecord] = deque(maxlen=lim.log_cap)
        self._unanswered: deque[tuple[str, str, float]] = deque(maxlen=lim.log_cap)
        self._answers: dict[str, tuple[AnswerRecord, float]] = {}
        self._markers: dict[str, tuple[str, float]] = {}
        self._days: dict[int, tuple[dict[str, int], float]] = {}  # day -> (counters, expires)
        self._feedback_expires = 0.0
        self._unanswered_expires = 0.0
        self._next_sweep = 0.0
        log.info(
            "Conversation state is in-process (REDIS_URL unset): not shared between workers, lost on "
            "restart; de-duplication and rate limits are per process"
        )

    def history(self, key: ThreadKey) -> list[Turn]:
        with self._lock:
            entry = self._threads.get(key)
            if entry is None or entry[1] <= self._clock():
                return []
            return list(entry[0])

    def append(self, key: ThreadKey, *turns: Turn) -> None:
        if not turns:
            return
        with self._lock:
            now = self._clock()
            self._sweep(now)
            entry = self._threads.get(key)
            if entry is not None and entry[1] > now:
                kept = entry[0]
            else:
                kept = deque(maxlen=self._limits.history_turns)
            kept.extend(turns)
            self._threads[key] = (kept, now + self._limits.history_ttl_s)

    def claim_message(self, message_id: str) -> bool:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            expires = self._claims.get(message_id)
            if (expires is not None and expires > now) or self._live_lease(message_id, now) is not None:
                return False
            self._claims[message_id] = now + self._limits.dedupe_ttl_s
            return True

    def lease_message(self, message_id: str, owner: str, lease_s: float, work: str = "") -> Lease:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            expires = self._claims.get(message_id)
            if expires is not None and expires > now:
                return Lease(Claim.DONE, 0)
            held = self._live_lease(message_id, now)
            if held is None:
                self._leases[message_id] = _MemoryLease(owner, now + lease_s, 1, work,
                                                        now + self._limits.dedupe_ttl_s)
                return Lease(Claim.NEW, 1)
            if held.expires > now:
                return Lease(Claim.HELD, held.attempts)
            attempts = held.attempts + 1
            self._leases[message_id] = _MemoryLease(owner, now + lease_s, attempts, held.work, held.until)
            return Lease(Claim.RESUMED, attempts)

    def renew_lease(self, message_id: str, owner: str, lease_s: float) -> bool:
        with self._lock:
            now = self._clock()
            held = self._live_lease(message_id, now)
            if held is None or held.owner != owner:
                return False
            self._leases[message_id] = held._replace(expires=now + lease_s if lease_s > 0 else 0.0)
            return True

    def finish_message(self, message_id: str) -> None:
        with self._lock:
            self._leases.pop(message_id, None)
            self._claims[message_id] = self._clock() + self._limits.dedupe_ttl_s

    def stale_leases(self, limit: int = 20) -> list[tuple[str, str]]:
        with self._lock:
            now = self._clock()
            stale = sorted((lease.expires, k, lease.work) for k, lease in self._leases.items()
                           if lease.expires <= now < lease.until and lease.work)
            return [(k, work) for _, k, work in stale[: max(limit, 0)]]

    def _live_lease(self, message_id: str, now: float) -> _MemoryLease | None:
        """The message's lease, run out or not, while its claim lasts (the de-duplication TTL)."""
        held = self._leases.get(message_id)
        return held if held is not None and held.until > now else None

    def allow(self, user_id: str) -> bool:
        with self._lock:
            now = self._clock()
            tokens, ts = self._buckets.get(user_id, (float(self._limits.burst), now))
            if now > ts:  # a clock that went back refills nothing
                tokens = min(float(self._limits.burst), tokens + (now - ts) * self._limits.rate_per_s)
                ts = now
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[user_id] = (tokens, ts)
            return allowed

    def record_feedback(self, rec: FeedbackRecord) -> None:
        with self._lock:
            now = self._clock()
            if self._feedback_expires <= now:
                self._feedback.clear()
            self._feedback.appendleft(rec)
            self._feedback_expires = now + self._limits.feedback_ttl_s

    def record_unanswered(self, question: str, channel: str, at: float) -> None:
        with self._lock:
            now = self._clock()
            if self._unanswered_expires <= now:
                self._unanswered.clear()
            self._unanswered.appendleft((question, channel, at))
            self._unanswered_expires = now + self._limits.feedback_ttl_s

    def feedback(self, limit: int = 100) -> list[FeedbackRecord]:
        with self._lock:
            if self._feedback_expires <= self._clock():
                return []
            return list(self._feedback)[: max(limit, 0)]

    def unanswered(self, limit: int = 100) -> list[tuple[str, str, float]]:
        with self._lock:
            if self._unanswered_expires <= self._clock():
                return []
            return list(self._unanswered)[: max(limit, 0)]

    def remember_answer(self, answer_id: str, rec: AnswerRecord) -> None:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            self._answers[answer_id] = (rec, now + self._limits.feedback_ttl_s)
            while len(self._answers) > self._limits.log_cap:  # bounded like the logs: oldest go first
                del self._answers[next(iter(self._answers))]

    def recall_answer(self, answer_id: str) -> AnswerRecord | None:
        with self._lock:
            entry = self._answers.get(answer_id)
            return entry[0] if entry is not None and entry[1] > self._clock() else None

    def swap_marker(self, marker: str, value: str) -> str | None:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            old = self._markers.get(marker)
            self._markers[marker] = (value, now + self._limits.feedback_ttl_s)
            return old[0] if old is not None and old[1] > now else None

    def count(self, event: str, at: float, by: int = 1) -> None:
        with self._lock:
            now = self._clock()
            day = day_of(at)
            counters, expires = self._days.get(day, ({}, 0.0))
            if expires <= now:
                counters = {}
            counters[event] = counters.get(event, 0) + by
            self._days[day] = (counters, now + self._limits.feedback_ttl_s)

    def counts(self, since: float, until: float) -> dict[str, int]:
        total: dict[str, int] = {}
        with self._lock:
            now = self._clock()
            for day, (counters, expires) in self._days.items():
                if day_of(since) <= day <= day_of(until) and expires > now:
                    for event, n in counters.items():
                        total[event] = total.get(event, 0) + n
        return total

    def healthy(self) -> bool:
        return True

    def _sweep(self, now: float) -> None:
        """Drop expired threads, claims and full buckets now and then, so memory stays bounded."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60
        self._threads = {k: v for k, v in self._threads.items() if v[1] > now}
        self._claims = {k: v for k, v in self._claims.items() if v > now}
        self._leases = {k: v for k, v in self._leases.items() if v.until > now}
        self._answers = {k: v for k, v in self._answers.items() if v[1] > now}
        self._markers = {k: v for k, v in self._markers.items() if v[1] > now}
        self._days = {k: v for k, v in self._days.items() if v[1] > now}
        full_after = self._limits.burst / self._limits.rate_per_s
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
