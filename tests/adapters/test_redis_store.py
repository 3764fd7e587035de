"""The conversation-state contract, against real Redis and the in-process twin; Redis failing mid-talk.

Shared server: REDIS_URL (default db 15); each test writes under its own key prefix and deletes only
those keys. The outage tests start a private redis-server on a free port.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from adapters.redis_store import RedisStore
from bot.store import AnswerRecord, Claim, FeedbackRecord, InMemoryStore, Lease, StoreLimits, ThreadKey
from bot.types import Turn
from tests.conftest import Clock, Make, free_port, start_redis

KEY = ThreadKey("slack", "T01", "C01", "1700000000.000100")



def turns(n: int, start: int = 0) -> list[Turn]:
    return [Turn("user" if i % 2 == 0 else "assistant", f"turn {i} — é") for i in range(start, start + n)]


# -- the contract, on both implementations ------------------------------------------------------------


def test_history_is_capped_to_the_newest_turns_in_order(make_store: Make) -> None:
    store = make_store(history_turns=20)
    for t in turns(30):
        store.append(KEY, t)
    assert store.history(KEY) == turns(20, start=10)
    store.append(KEY, *turns(3, start=30))  # several turns in one step
    assert store.history(KEY) == turns(20, start=13)


def test_threads_do_not_share_history(make_store: Make) -> None:
    store = make_store()
    a = ThreadKey("slack", "T1", "C:1", "t")
    b = ThreadKey("slack", "T1:C", "1", "t")  # same characters, different parts
    c = ThreadKey("teams", "T1", "C:1", "t")
    store.append(a, Turn("user", "a"))
    assert store.history(a) == [Turn("user", "a")]
    assert store.history(b) == [] and store.history(c) == []


def test_concurrent_appends_to_one_thread_lose_nothing(make_store: Make) -> None:
    store = make_store(history_turns=200)
    barrier = threading.Barrier(50)

    def worker(i: int) -> None:
        barrier.wait()
        store.append(KEY, Turn("user", f"m{i}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(t.text for t in store.history(KEY)) == sorted(f"m{i}" for i in range(50))


def test_a_message_is_claimed_once(make_store: Make) -> None:
    store = make_store()
    assert store.claim_message("T01:C01:1700000000.000100") is True
    assert store.claim_message("T01:C01:1700000000.000100") is False
    assert store.claim_message("T01:C01:1700000000.000200") is True


def test_token_bucket_allows_a_burst_then_refills_at_the_rate(make_store: Make, clock: Clock) -> None:
    store = make_store(rate_per_s=0.5, burst=5)
    assert [store.allow("U1") for _ in range(6)] == [True] * 5 + [False]
    assert store.allow("U2") is True  # buckets are per user
    clock.advance(1)  # half a token
    assert store.allow("U1") is False
    clock.advance(1)  # one token
    assert [store.allow("U1") for _ in range(2)] == [True, False]
    clock.advance(1000)  # refills to the burst, not beyond
    assert [store.allow("U1") for _ in range(6)] == [True] * 5 + [False]


def test_feedback_and_unanswered_round_trip_newest_first(make_store: Make) -> None:
    store = make_store()
    recs = [
        FeedbackRecord(
            "helpful", "How do refunds work?", "Within 30 days [1].", ("billing/refunds",), "C1", 1.5
        ),
        FeedbackRecord("not_helpful", "2FA?", "Go to Security [1][2].", ("security/2fa", "a/b"), "C2", 2.0),
        FeedbackRecord("human", "Ça marche ?", "", (), "C3", 3.25),
    ]
    for rec in recs:
        store.record_feedback(rec)
    assert store.feedback() == recs[::-1]
    assert store.feedback(limit=2) == [recs[2], recs[1]]
    store.record_unanswered("Is there a Linux app?", "C1", 10.0)
    store.record_unanswered("Dark mode?", "C2", 11.0)
    assert store.unanswered() == [("Dark mode?", "C2", 11.0), ("Is there a Linux app?", "C1", 10.0)]
    assert store.unanswered(limit=0) == []
    assert store.healthy() is True


def test_answers_are_kept_for_rating(make_store: Make) -> None:
    store = make_store()
    rec = AnswerRecord("How do refunds work?", "Within 30 days [1].", ("billing/refunds",), "C1", 5.0)
    store.remember_answer("slack:T1:C1:1.0", rec)
    assert store.recall_answer("slack:T1:C1:1.0") == rec
    assert store.recall_answer("slack:T1:C1:2.0") is None


def test_a_vote_is_swapped_atomically_and_expires(make_store: Make, clock: Clock) -> None:
    store = make_store(feedback_ttl_s=100)
    assert store.swap_marker("thumbs:slack:T1:C1:1.0:U1", "helpful@1") is None
    assert store.swap_marker("thumbs:slack:T1:C1:1.0:U1", "not_helpful@2") == "helpful@1"
    assert store.swap_marker("thumbs:slack:T1:C1:1.0:U2", "helpful@3") is None  # per user
    clock.advance(101)
    if isinstance(store, InMemoryStore):  # Redis expires by its own clock: checked by TTL below
        assert store.swap_marker("thumbs:slack:T1:C1:1.0:U1", "helpful@4") is None


def test_a_counter_can_be_taken_back(make_store: Make) -> None:
    store = make_store()
    store.count("feedback_helpful", 5.0)
    store.count("feedback_helpful", 5.0, by=-1)
    store.count("feedback_not_helpful", 5.0)
    assert store.counts(5.0, 5.0) == {"feedback_helpful": 0, "feedback_not_helpful": 1}


def test_daily_counters_add_up_over_the_days_asked(make_store: Make, clock: Clock) -> None:
    store = make_store()
    day = 86400.0
    t0 = 20_000 * day + 3600  # 01:00 UTC
    for at, event in [(t0, "answered"), (t0 + 60, "answered"), (t0 + 120, "not_covered"),
                      (t0 + day, "answered"), (t0 + 3 * day, "rate_limited")]:
        store.count(event, at)
    assert store.counts(t0, t0) == {"answered": 2, "not_covered": 1}
    assert store.counts(t0 - day, t0 + day) == {"answered": 3, "not_covered": 1}
    assert store.counts(t0, t0 + 3 * day) == {"answered": 3, "not_covered": 1, "rate_limited": 1}
    assert store.counts(t0 + 4 * day, t0 + 9 * day) == {}


def test_feedback_kind_is_checked() -> None:
    with pytest.raises(ValueError):
        FeedbackRecord("meh", "q", "a", (), "C1", 0.0)  # type: ignore[arg-type]


def test_in_memory_state_expires_with_the_clock(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.store")
    store = InMemoryStore(clock=clock, limits=StoreLimits(history_ttl_s=100, dedupe_ttl_s=10))
    assert sum("not shared between workers" in r.getMessage() for r in caplog.records) == 1
    store.append(KEY, Turn("user", "hi"))
    assert store.claim_message("m1") is True
    clock.advance(11)
    assert store.claim_message("m1") is True  # the claim expired
    clock.advance(90)
    assert store.history(KEY) == []


# -- Redis specifics ----------------------------------------------------------------------------------


def test_every_key_written_has_a_ttl(
    redis_stores: Callable[..., RedisStore], shared: redis.Redis, prefix: str
) -> None:
    store = redis_stores(history_ttl_s=3600, dedupe_ttl_s=600)
    store.append(KEY, *turns(2))
    store.claim_message("T01:C01:1")
    store.allow("U1")
    store.record_feedback(FeedbackRecord("helpful", "q", "a", ("d1",), "C1", 1.0))
    store.record_unanswered("q", "C1", 1.0)
    store.remember_answer("slack:T01:C01:1", AnswerRecord("q", "a", (), "C1", 1.0))
    store.count("answered", 1.0)
    store.swap_marker("thumbs:slack:T01:C01:1:U1", "helpful@1.0")
    keys = sorted(shared.scan_iter(match=prefix + "*"))
    assert [k[len(prefix) :].split(":")[0] for k in keys] == ["a", "dd", "fb", "h", "m", "rl", "st", "un"]
    ttls = {k: shared.ttl(k) for k in keys}
    assert all(t > 0 for t in ttls.values()), ttls
    assert 0 < ttls[f"{prefix}h:slack:T01:C01:1700000000.000100"] <= 3600
    assert 0 < ttls[f"{prefix}dd:T01:C01:1"] <= 600


def test_dedupe_holds_across_two_workers(redis_stores: Callable[..., RedisStore]) -> None:
    worker_a, worker_b = redis_stores(), redis_stores()
    assert worker_a.claim_message("T01:C01:42.0001") is True
    assert worker_b.claim_message("T01:C01:42.0001") is False
    assert worker_a.claim_message("T01:C01:42.0001") is False


def test_client_is_built_to_fail_fast() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", socket_timeout_s=0.25)
    kwargs = store._r.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.25 and kwargs["socket_connect_timeout"] == 0.25
    assert kwargs["retry"].get_retries() == 0
    store.close()


# -- Redis failing ------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> Any:
    start = time.monotonic()
    result = fn()
    assert time.monotonic() - start < 1.0
    return result


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_stopped_mid_conversation_degrades_then_recovers(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.redis_client")
    port = free_port()
    proc = start_redis(port)
    store = RedisStore(f"redis://127.0.0.1:{port}/0", clock=clock, degrade_log_interval_s=60)
    rec = FeedbackRecord("helpful", "q", "a", (), "C1", 1.0)
    try:
        store.append(KEY, Turn("user", "secret question text"))
        assert store.history(KEY) == [Turn("user", "secret question text")]
        assert store.claim_message("m1") is True
        assert store.healthy() is True

        proc.kill()
        proc.wait()
        for _ in range(3):  # a few messages' worth of calls within one log interval
            assert timed(lambda: store.history(KEY)) == []
            assert timed(lambda: store.append(KEY, Turn("user", "more"))) is None
            assert timed(lambda: store.claim_message("m1")) is True  # answer rather than drop
            assert timed(lambda: store.lease_message("m2", "A", 30, "w")) == Lease(Claim.NEW, 1)
            assert timed(lambda: store.renew_lease("m2", "A", 30)) is True
            assert timed(lambda: store.stale_leases()) == []
            assert timed(lambda: store.allow("U1")) is True
            timed(lambda: store.record_feedback(rec))
            timed(lambda: store.record_unanswered("q", "C1", 1.0))
            assert timed(lambda: store.feedback()) == [] and timed(lambda: store.unanswered()) == []
            clock.advance(5)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "Redis unavailable" in warnings[0].getMessage()
        assert "without history and de-duplication" in warnings[0].getMessage()
        assert store.healthy() is False and store.dropped_records == 6

        clock.advance(60)  # a new interval: one more reminder
        store.history(KEY)
        assert sum(r.levelno == logging.WARNING for r in caplog.records) == 2

        proc = start_redis(port)  # same port, empty (no persistence)
        store.append(KEY, Turn("user", "lost"))  # within a second of the last failure: not even tried
        clock.advance(1.5)  # the back-off is over: the next call tries Redis again
        store.append(KEY, Turn("user", "back"))
        assert store.history(KEY) == [Turn("user", "back")]
        assert store.healthy() is True
        recovered = [r for r in caplog.records if "available again" in r.getMessage()]
        assert len(recovered) == 1 and recovered[0].levelno == logging.INFO
        assert not any("secret question text" in r.getMessage() for r in caplog.records)
    finally:
        store.close()
        proc.kill()
        proc.wait()


def test_a_redis_that_never_answers_costs_one_socket_timeout(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.redis_client")
    with socket.socket() as silent:  # accepts connections (kernel backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0", clock=clock, socket_timeout_s=0.2)
        try:
            assert timed(lambda: store.claim_message("m1")) is True
            start = time.monotonic()
            for _ in range(10):  # one message's calls and more: the back-off skips Redis for a second
                assert store.history(KEY) == [] and store.allow("U1") is True
            assert time.monotonic() - start < 0.1
            assert store.healthy() is False
            assert len(caplog.records) == 1
            clock.advance(1.5)
            assert timed(lambda: store.claim_message("m2")) is True  # tried again: one more timeout
            assert store.guard.degraded_calls == 22
        finally:
            store.close()
