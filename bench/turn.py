"""What the shared conversation state costs a question: one full turn on Redis (dedupe claim, rate
limit, history read, the index pointer read per query, history append, answer record, counters)
against the bare engine answering the same question from the same index, interleaved in one run."""

from __future__ import annotations

import statistics
import time
import uuid

from adapters.redis_client import RedisGuard, connect
from adapters.redis_store import RedisStore
from adapters.redis_versions import RedisLock, RedisPointer
from bot.conversation import Incoming, Outcome, SupportBot
from bot.engine import AnswerEngine
from bot.store import StoreLimits, ThreadKey
from knowledge.evaluation import percentile
from knowledge.kb import KnowledgeBase


def turn_overhead(kb: KnowledgeBase, questions: list[str], redis_url: str) -> dict[str, object]:
    guard = RedisGuard(connect(redis_url))
    prefix = f"sbbench:{uuid.uuid4().hex}:"
    try:
        pointer = RedisPointer(guard, prefix + "pointer")
        pointer.swap(kb.pointer.read())
        shared = KnowledgeBase(name=kb.name, store=kb.store, embedder=kb.embedder, pointer=pointer,
                               lock=RedisLock(guard, prefix + "lock"))
        shared.live()
        limits = StoreLimits(rate_per_s=1000, burst=100_000)  # measure the calls, not the limit
        bot = SupportBot(engine=AnswerEngine(knowledge=shared), store=RedisStore(guard=guard, limits=limits,
                                                                                   prefix=prefix))
        bare = AnswerEngine(knowledge=kb)
        bare_ms, turn_ms = [], []
        for i, q in enumerate(questions):
            kb.embedder.clear_cache()
            t0 = time.perf_counter()
            bare.answer(q)
            bare_ms.append((time.perf_counter() - t0) * 1000)
            kb.embedder.clear_cache()
            msg = Incoming(ThreadKey("bench", "W", "C", str(i)), f"m{i}", "U1", q)
            t0 = time.perf_counter()
            reply = bot.handle(msg)
            turn_ms.append((time.perf_counter() - t0) * 1000)
            assert reply.outcome == Outcome.ANSWERED
        assert guard.healthy(), "Redis failed during the benchmark"
    finally:
        keys = list(guard.client.scan_iter(match=prefix + "*"))
        if keys:
            guard.client.delete(*keys)
        guard.close()
    diffs = [t - b for t, b in zip(turn_ms, bare_ms, strict=True)]
    return {
        "bare_answer_p50_ms": round(statistics.median(bare_ms), 2),
        "bare_answer_p95_ms": round(percentile(bare_ms, 95), 2),
        "redis_turn_p50_ms": round(statistics.median(turn_ms), 2),
        "redis_turn_p95_ms": round(percentile(turn_ms, 95), 2),
        "added_p50_ms": round(statistics.median(diffs), 2),
        "target": "added p50 <= 5 ms", "pass": statistics.median(diffs) <= 5.0,
    }
