"""One message to one reply through the conversation store: history per thread, one answer per message
across workers, a friendly slow-down, ratings and the unanswered log feeding the report, and an answer
that still arrives when Redis stops mid-conversation. Real engine, real index, real Redis."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pytest
import redis

from adapters.redis_client import RedisGuard, connect
from adapters.redis_store import RedisStore
from adapters.redis_versions import RedisLock, RedisPointer
from bot import messages
from bot.conversation import Incoming, Outcome, Rated, Reply, SupportBot
from bot.engine import AnswerEngine
from bot.report import build_report
from bot.store import ThreadKey
from bot.types import Reason
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase
from knowledge.versions import FilePointer
from tests.conftest import Clock, Make, free_port, start_redis, write_articles

THREAD = ThreadKey("slack", "T01", "C01", "1700000000.000100")


@pytest.fixture
def engine(kb: KnowledgeBase, helpcentre: Path) -> AnswerEngine:
    kb.reload(helpcentre)
    return AnswerEngine(knowledge=kb)


class Chat:
    """Messages in one thread, each with a fresh identity, as a platform delivers them."""

    def __init__(self, bot: SupportBot, key: ThreadKey = THREAD, user: str = "U1") -> None:
        self.bot, self.key, self.user, self.n = bot, key, user, 0

    def say(self, text: str, *, message_id: str | None = None, user: str | None = None) -> Incoming:
        self.n += 1
        mid = message_id or f"{self.key.channel}:{self.key.thread}:{self.n}"
        return Incoming(self.key, mid, user or self.user, text)


def test_a_follow_up_is_answered_from_the_threads_history(engine: AnswerEngine, make_store: Make) -> None:
    bot = SupportBot(engine=engine, store=make_store())
    chat = Chat(bot)
    first = bot.handle(chat.say("How do I set up two-factor authentication?"))
    assert first.outcome == Outcome.ANSWERED and first.answer is not None
    follow = bot.handle(chat.say("which ones are supported?"))
    assert follow.answer is not None and follow.answer.reason == Reason.ANSWERED
    assert follow.answer.citations[0].doc_id == "security/two-factor.md"
    history = bot.store.history(THREAD)
    assert [t.role for t in history] == ["user", "assistant", "user", "assistant"]
    assert history[2].text == "which ones are supported?" and history[3].text == follow.text

    other = Chat(bot, ThreadKey("slack", "T01", "C01", "1700000099.000100"))
    fresh = bot.handle(other.say("which ones are supported?"))  # another thread: no context
    assert fresh.answer is not None and fresh.answer.reason == Reason.NOT_COVERED


def test_a_message_delivered_twice_is_answered_once(engine: AnswerEngine, make_store: Make) -> None:
    bot = SupportBot(engine=engine, store=make_store())
    msg = Chat(bot).say("How do I get a refund?", message_id="C01:1700000000.000200")
    assert bot.handle(msg).outcome == Outcome.ANSWERED
    retry = bot.handle(msg)  # Slack's retry, or the same post as app_mention and message
    assert retry.outcome == Outcome.DUPLICATE and retry.text == "" and retry.answer is None
    assert len(bot.store.history(THREAD)) == 2


def test_two_workers_racing_on_one_message_answer_it_once(
    engine: AnswerEngine, redis_stores: Make
) -> None:
    workers = [SupportBot(engine=engine, store=redis_stores()) for _ in range(4)]
    msg = Chat(workers[0]).say("How do I get a refund?", message_id="C01:1700000000.000300")
    barrier = threading.Barrier(len(workers))
    outcomes: list[Outcome] = []

    def deliver(bot: SupportBot) -> None:
        barrier.wait()
        outcomes.append(bot.handle(msg).outcome)

    threads = [threading.Thread(target=deliver, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted([Outcome.ANSWERED] + [Outcome.DUPLICATE] * 3)


def test_a_user_asking_too_fast_is_asked_to_slow_down(
    engine: AnswerEngine, make_store: Make, clock: Clock
) -> None:
    bot = SupportBot(engine=engine, store=make_store(rate_per_s=0.1, burst=2), clock=clock)
    chat = Chat(bot)
    outcomes = [bot.handle(chat.say("How do I get a refund?")).outcome for _ in range(3)]
    assert outcomes == [Outcome.ANSWERED, Outcome.ANSWERED, Outcome.RATE_LIMITED]
    slowed = bot.handle(chat.say("How do I get a refund?"))
    assert slowed.text == messages.SLOW_DOWN and slowed.answer is None
    assert bot.handle(chat.say("How do I get a refund?", user="U2")).outcome == Outcome.ANSWERED
    clock.advance(10)  # one token back
    assert bot.handle(chat.say("How do I get a refund?")).outcome == Outcome.ANSWERED
    assert bot.store.counts(clock(), clock())["rate_limited"] == 2


def test_ratings_and_unanswered_questions_feed_the_report(
    engine: AnswerEngine, make_store: Make, clock: Clock
) -> None:
    bot = SupportBot(engine=engine, store=make_store(), clock=clock)
    chat = Chat(bot)
    answered = bot.handle(chat.say("How do I turn on two-factor authentication?"))
    assert bot.rate(answered.answer_id, "helpful", "U1").recorded
    assert bot.rate(answered.answer_id, "helpful", "U1").text == messages.RATING_REPEATED
    assert bot.rate(answered.answer_id, "not_helpful", "U2").recorded
    assert bot.rate(answered.answer_id, "human", "U1").recorded  # asking for a person is separate
    assert bot.rate(answered.answer_id, "human", "U1") == Rated(False, messages.HUMAN_ALREADY_REQUESTED)
    assert not bot.rate("slack:nope", "helpful", "U1").recorded

    for n, text in enumerate(["Is there a Linux desktop app?", "linux desktop app", "Can I pay in bitcoin?"]):
        other = Chat(bot, ThreadKey("slack", "T01", f"C{n}", "1.0"))
        reply = bot.handle(other.say(text))
        assert reply.answer is not None and reply.answer.reason == Reason.NOT_COVERED

    fb = bot.store.feedback()
    assert [f.kind for f in fb] == ["human", "not_helpful", "helpful"]
    assert fb[0].question == "How do I turn on two-factor authentication?"
    assert fb[0].answer == answered.text and fb[0].citations[0] == "security/two-factor.md"
    assert fb[0].channel == "C01"

    r = build_report(bot.store, since=clock(), until=clock())
    assert (r.questions, r.answered, r.not_covered) == (4, 1, 3)
    assert (r.helpful, r.not_helpful, r.human, r.helpful_rate) == (1, 1, 1, 0.5)
    top = r.top_unanswered[0]
    assert (top.count, top.channels, top.question) == (2, 2, "linux desktop app")
    assert [g.question for g in r.top_not_helpful] == ["How do I turn on two-factor authentication?"]


def test_a_changed_mind_replaces_the_earlier_rating(
    engine: AnswerEngine, make_store: Make, clock: Clock
) -> None:
    # Slack's feedback buttons toggle and never send a "deselect": the latest click is the rating.
    bot = SupportBot(engine=engine, store=make_store(), clock=clock)
    a = bot.handle(Chat(bot).say("How do I turn on two-factor authentication?"))
    b = bot.handle(Chat(bot, ThreadKey("slack", "T01", "C02", "2.0")).say("How do I get a refund?"))
    assert bot.rate(a.answer_id, "not_helpful", "U1") == Rated(True, messages.THANKS_NOT_HELPFUL)
    assert bot.rate(b.answer_id, "not_helpful", "U1").recorded
    clock.advance(86400)  # the change comes the next day: the old rating is taken back from its own day
    assert bot.rate(a.answer_id, "helpful", "U1") == Rated(True, messages.RATING_CHANGED)
    assert bot.rate(a.answer_id, "not_helpful", "U2").recorded  # another user's rating stays apart

    day1, day2 = clock() - 86400, clock()
    assert bot.store.counts(day1, day1).get("feedback_not_helpful") == 1  # b's only
    r = build_report(bot.store, since=day1, until=day2)
    assert (r.helpful, r.not_helpful) == (1, 2)
    # U1's not-helpful on the 2FA answer is gone from the list; U2's remains, and b's
    assert sorted(g.question for g in r.top_not_helpful) == [
        "How do I get a refund?", "How do I turn on two-factor authentication?"]
    assert sum(g.count for g in r.top_not_helpful) == 2


def test_admit_then_answer_is_handle_and_busy_is_counted(
    engine: AnswerEngine, make_store: Make, clock: Clock
) -> None:
    bot = SupportBot(engine=engine, store=make_store(), clock=clock)
    msg = Chat(bot).say("How do I get a refund?")
    assert bot.admit(msg) is None
    assert bot.admit(msg) == Reply(Outcome.DUPLICATE)  # claimed by the first admit
    assert bot.answer(msg).answer is not None
    assert bot.busy(msg) == Reply(Outcome.BUSY, text=messages.BUSY)
    counts = bot.store.counts(clock(), clock())
    assert counts["busy"] == 1 and counts["asked:billing/refunds.md"] == 1
    assert build_report(bot.store, since=clock(), until=clock()).busy == 1


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_stopped_mid_conversation_the_answer_still_arrives_then_state_recovers(
    tmp_path: Path, embedder: MiniLMEmbedder, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker whose store, index pointer and lock all live on one Redis, which dies and comes back
    empty (no persistence): answers keep coming, then history, dedupe and the pointer come back."""
    caplog.set_level(logging.INFO, logger="adapters")
    port = free_port()
    proc = start_redis(port)
    guard = RedisGuard(connect(f"redis://127.0.0.1:{port}/0"), clock=clock)
    kb = KnowledgeBase.open(
        data_dir=tmp_path / "data", name="live", embedder=embedder,
        pointer=RedisPointer(guard, "sb:pointer", mirror=FilePointer(tmp_path / "pointer-copy.json")),
        lock=RedisLock(guard, "sb:lock"),
    )
    bot = SupportBot(engine=AnswerEngine(knowledge=kb), store=RedisStore(guard=guard, clock=clock), clock=clock)
    chat = Chat(bot)
    try:
        kb.reload(write_articles(tmp_path / "hc"))
        assert bot.handle(chat.say("How do I set up two-factor authentication?")).outcome == Outcome.ANSWERED

        proc.kill()
        proc.wait()
        down = bot.handle(chat.say("How do I get a refund for my annual plan?"))
        assert down.outcome == Outcome.ANSWERED and down.answer is not None
        assert down.answer.reason == Reason.ANSWERED  # from the last version seen
        assert down.answer.citations[0].doc_id == "billing/refunds.md"
        assert bot.rate(down.answer_id, "helpful", "U1") == Rated(False, messages.RATING_UNAVAILABLE)
        again = bot.handle(chat.say("How do I get a refund?", message_id="same"))
        assert bot.handle(chat.say("How do I get a refund?", message_id="same")).outcome == Outcome.ANSWERED
        assert again.outcome == Outcome.ANSWERED  # no de-duplication while down: answer twice, not never
        assert guard.healthy() is False
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()

        proc = start_redis(port)  # back, and empty
        clock.advance(2)
        follow = bot.handle(chat.say("How do I set up two-factor authentication?"))
        assert follow.outcome == Outcome.ANSWERED and guard.healthy() is True
        assert kb.pointer.read().current == 1  # restored from the local copy
        assert bot.handle(chat.say("which apps can scan the code?")).answer.citations[0].doc_id == (  # type: ignore[union-attr]
            "security/two-factor.md")  # history works again
        assert len(bot.store.history(THREAD)) == 4
        assert any("available again" in r.getMessage() for r in caplog.records)
        assert any("Restored the index pointer" in r.getMessage() for r in caplog.records)
    finally:
        guard.close()
        proc.kill()
        proc.wait()


def test_every_key_a_turn_writes_expires(
    engine: AnswerEngine, redis_stores: Make, shared: redis.Redis, prefix: str
) -> None:
    bot = SupportBot(engine=engine, store=redis_stores())
    chat = Chat(bot)
    answered = bot.handle(chat.say("How do I set up two-factor authentication?"))
    other = Chat(bot, ThreadKey("slack", "T01", "C02", "1.0"))
    assert bot.handle(other.say("Can I pay in bitcoin?")).answer.reason == Reason.NOT_COVERED  # type: ignore[union-attr]
    bot.rate(answered.answer_id, "helpful", "U1")
    bot.rate(answered.answer_id, "human", "U1")
    keys = list(shared.scan_iter(match=prefix + "*"))
    kinds = {k[len(prefix):].split(":")[0] for k in keys}
    assert kinds == {"a", "dd", "fb", "h", "rl", "st", "m", "un"}
    assert all(shared.ttl(k) > 0 for k in keys), {k: shared.ttl(k) for k in keys}
