"""Provisional claims: a message is held by the worker answering it while its lease is renewed, final
once the reply is posted, and taken over by another worker when the lease runs out first. On Redis and
on the in-process store (same contract), with an injected clock."""

from __future__ import annotations

import time

import pytest

from bot import messages
from bot.conversation import MAX_ATTEMPTS, Incoming, Outcome, Reply, SupportBot
from bot.engine import AnswerEngine
from bot.store import Claim, Lease, ThreadKey
from knowledge.kb import KnowledgeBase
from tests.conftest import Clock, Make, write_articles

LEASE = 30.0


def test_a_lease_is_held_renewed_taken_over_and_finished(make_store: Make, clock: Clock) -> None:
    store = make_store()
    assert store.lease_message("slack:m1", "A", LEASE, "work-1") == Lease(Claim.NEW, 1)
    assert store.lease_message("slack:m1", "B", LEASE, "work-1") == Lease(Claim.HELD, 1)
    assert store.claim_message("slack:m1") is False  # a notice for the same message is not posted
    assert store.stale_leases() == []

    clock.advance(LEASE * 0.9)
    assert store.renew_lease("slack:m1", "A", LEASE) is True  # A is still answering
    assert store.renew_lease("slack:m1", "B", LEASE) is False  # B never held it
    clock.advance(LEASE * 0.5)
    assert store.lease_message("slack:m1", "B", LEASE) == Lease(Claim.HELD, 1)  # renewed: still A's
    assert store.stale_leases() == []

    clock.advance(LEASE * 0.6)  # A stopped renewing (it died): the lease ran out
    assert store.stale_leases() == [("slack:m1", "work-1")]
    assert store.lease_message("slack:m1", "B", LEASE) == Lease(Claim.RESUMED, 2)
    assert store.lease_message("slack:m1", "C", LEASE) == Lease(Claim.HELD, 2)  # one taker only
    assert store.stale_leases() == []
    assert store.renew_lease("slack:m1", "A", LEASE) is False  # A, back from a pause, lost it

    store.finish_message("slack:m1")
    assert store.lease_message("slack:m1", "C", LEASE) == Lease(Claim.DONE, 0)
    clock.advance(LEASE * 10)
    assert store.lease_message("slack:m1", "C", LEASE) == Lease(Claim.DONE, 0)  # final: the dedupe TTL
    assert store.stale_leases() == [] and store.claim_message("slack:m1") is False


def test_stale_leases_lists_only_run_out_leases_with_work_oldest_first(make_store: Make, clock: Clock) -> None:
    store = make_store()
    store.lease_message("teams:b", "A", LEASE, "work-b")
    clock.advance(1)
    store.lease_message("teams:a", "A", LEASE, "work-a")
    store.lease_message("teams:nowork", "A", LEASE)  # nothing to answer it again with: never listed
    store.lease_message("teams:done", "A", LEASE, "work-done")
    store.finish_message("teams:done")
    assert store.renew_lease("teams:a", "A", 0) is True  # given back at shutdown: stale at once
    assert store.stale_leases() == [("teams:a", "work-a")]
    clock.advance(LEASE)
    assert store.stale_leases() == [("teams:a", "work-a"), ("teams:b", "work-b")]  # by lease end
    assert store.stale_leases(limit=1) == [("teams:a", "work-a")]


def test_a_lease_ends_with_the_deduplication_ttl(make_store: Make, clock: Clock) -> None:
    store = make_store(dedupe_ttl_s=1)
    store.lease_message("slack:m", "A", 0.5, "w")
    clock.advance(2)  # nobody took it over for the whole claim: it is forgotten, like any claim
    time.sleep(1.2)  # Redis expires keys on its own clock
    assert store.stale_leases() == []
    assert store.lease_message("slack:m", "B", LEASE, "w") == Lease(Claim.NEW, 1)


@pytest.fixture
def engine(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    kb.reload(write_articles(tmp_path_factory.mktemp("hc")))
    return AnswerEngine(knowledge=kb)


def _msg(n: int, user: str = "U1") -> Incoming:
    return Incoming(ThreadKey("slack", "T1", "C1", f"{n}.0"), f"T1:C1:{n}.0", user,
                    "How do I set up two-factor authentication?")


def test_a_message_whose_worker_died_is_answered_by_another_once(
    engine: AnswerEngine, redis_stores: Make, clock: Clock
) -> None:
    a = SupportBot(engine=engine, store=redis_stores(), clock=clock, owner="A", lease_s=LEASE)
    b = SupportBot(engine=engine, store=redis_stores(), clock=clock, owner="B", lease_s=LEASE)
    msg = _msg(1)
    assert a.admit(msg, "the work") is None  # A admitted it, then died before posting its reply
    assert b.admit(msg, "the work") == Reply(Outcome.DUPLICATE)  # a retry while A's lease lives
    assert b.store.stale_leases() == []
    clock.advance(LEASE + 1)
    assert b.store.stale_leases() == [(msg.identity, "the work")]
    lease = b.resume(msg.identity, "slack")
    assert lease == Lease(Claim.RESUMED, 2)
    assert a.resume(msg.identity, "slack").granted is False  # a second sweeper loses the race
    assert b.admit(msg, "the work") == Reply(Outcome.DUPLICATE)  # and so does a retry
    reply = b.answer(msg)
    b.finish(msg.identity)
    assert reply.answer is not None and reply.answer.citations
    assert b.store.stale_leases() == []
    clock.advance(LEASE * 3)
    assert a.resume(msg.identity, "slack").claim == Claim.DONE

    other = _msg(2)  # this time Slack's retry reaches B after A's lease ran out, before any sweep
    assert a.admit(other, "w") is None
    clock.advance(LEASE + 1)
    assert b.admit(other, "w") is None  # taken over: B answers it
    assert a.renew(other.identity) is False
    assert b.resume(other.identity, "slack").granted is False


def test_a_taken_over_message_takes_no_second_token_and_a_slow_down_is_final(
    engine: AnswerEngine, make_store: Make, clock: Clock
) -> None:
    store = make_store(rate_per_s=0.001, burst=1)
    a = SupportBot(engine=engine, store=store, clock=clock, owner="A", lease_s=LEASE)
    b = SupportBot(engine=engine, store=store, clock=clock, owner="B", lease_s=LEASE)
    first = _msg(1)
    assert a.admit(first, "w1") is None  # the user's only token
    clock.advance(LEASE + 1)
    assert b.resume(first.identity, "slack").claim == Claim.RESUMED  # no token needed to finish it
    second = _msg(2)
    assert b.admit(second, "w2") == Reply(Outcome.RATE_LIMITED, text=messages.SLOW_DOWN)
    clock.advance(LEASE + 1)
    assert store.stale_leases() == [(first.identity, "w1")]  # the slow-down reply was final
    assert a.admit(second, "w2") == Reply(Outcome.DUPLICATE)


def test_past_max_attempts_the_user_gets_an_apology(engine: AnswerEngine, make_store: Make,
                                                    clock: Clock) -> None:
    store = make_store()
    bots = [SupportBot(engine=engine, store=store, clock=clock, owner=f"W{i}", lease_s=LEASE)
            for i in range(MAX_ATTEMPTS + 1)]
    msg = _msg(7)
    assert bots[0].admit(msg, "w") is None
    for i in range(1, MAX_ATTEMPTS + 1):  # each worker that takes it dies too
        clock.advance(LEASE + 1)
        lease = bots[i].resume(msg.identity, "slack")
        assert lease == Lease(Claim.RESUMED, i + 1)
    assert lease.attempts > MAX_ATTEMPTS
    reply = bots[-1].gave_up("slack")
    assert reply == Reply(Outcome.GAVE_UP, text=messages.GAVE_UP)
    bots[-1].finish(msg.identity)
    assert store.counts(0, clock() + 1).get("gave_up") == 1


def test_handle_finishes_the_message(engine: AnswerEngine, make_store: Make, clock: Clock) -> None:
    store = make_store()
    bot = SupportBot(engine=engine, store=store, clock=clock, lease_s=LEASE)
    assert bot.handle(_msg(3)).outcome == Outcome.ANSWERED
    clock.advance(LEASE * 2)
    assert store.stale_leases() == []
    assert bot.handle(_msg(3)) == Reply(Outcome.DUPLICATE)
