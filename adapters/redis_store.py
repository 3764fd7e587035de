"""``ConversationStore`` on Redis, shared by every bot worker (platform rules, "Redis").

Every key written carries a TTL; append + trim + expire run as one MULTI/EXEC transaction. Calls go
through ``RedisGuard`` (tight timeouts, no retries): when Redis fails each call degrades (see
``bot.store.ConversationStore``), one warning is logged per interval, and the store recovers by itself.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from adapters.redis_client import RedisGuard, connect
from bot.store import (
    FEEDBACK_KINDS,
    AnswerRecord,
    Claim,
    FeedbackRecord,
    Lease,
    StoreLimits,
    ThreadKey,
    day_of,
)
from bot.types import Turn

log = logging.getLogger(__name__)

T = TypeVar("T")

# KEYS[1] bucket; ARGV: rate per second, burst, now (from the caller's clock), ttl seconds.
# A missing bucket is full; a clock that went back refills nothing. Returns 1 if a token was taken.
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return allowed
"""

# Leases (provisional claims). ``dd:{id}`` holds "1" once the reply is posted, or "L|owner|expires|attempts"
# while a worker answers; ``lw:{id}`` the work to answer it again; the ``lz`` sorted set each leased
# message by lease expiry, for ``stale_leases``. Times come from the caller's clock.
# KEYS: dd, lz, lw. ARGV: owner, expires, now, claim ttl, work, message id.
_LEASE = """
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 2) ~= 'L|' then return {'done', 0} end
  local expires, n = string.match(v, '^L|.*|([^|]+)|([^|]+)$')
  if tonumber(expires) > tonumber(ARGV[3]) then return {'held', tonumber(n)} end
  local attempts = tonumber(n) + 1
  redis.call('SET', KEYS[1], 'L|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. attempts, 'KEEPTTL')
  redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[6])
  return {'resumed', attempts}
end
redis.call('SET', KEYS[1], 'L|' .. ARGV[1] .. '|' .. ARGV[2] .. '|1', 'EX', ARGV[4])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[6])
end
return {'new', 1}
"""

# KEYS: dd, lz. ARGV: owner, new expiry, message id. 1 if the owner still held the lease.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local owner, n = string.match(v, '^L|(.*)|[^|]+|([^|]+)$')
if owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'L|' .. owner .. '|' .. ARGV[2] .. '|' .. n, 'KEEPTTL')
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
return 1
"""

_FEEDBACK_FIELDS = ("kind", "question", "answer", "citations", "channel", "at")
_ANSWER_FIELDS = ("question", "answer", "citations", "channel", "at")
_MAX_REPORT_DAYS = 400


def _answer_fields(d: dict[str, Any]) -> dict[str, Any]:
    """The fields an ``AnswerRecord`` and a ``FeedbackRecord`` share, from their stored JSON."""
    return {"question": d["question"], "answer": d["answer"], "citations": tuple(d["citations"]),
            "channel": d["channel"], "at": float(d["at"])}


def _esc(part: str) -> str:
    """Keep ':' as the only separator inside a key."""
    return part.replace("%", "%25").replace(":", "%3A")


def _decode(raw: list[Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """JSON entries that carry ``fields``; a malformed entry is skipped and counted, never raised."""
    out: list[dict[str, Any]] = []
    for value in raw:
        try:
            doc = json.loads(value)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and all(f in doc for f in fields):
            out.append(doc)
    if len(out) < len(raw):
        log.warning("Skipped %d malformed entries read from Redis", len(raw) - len(out))
    return out


class RedisStore:
    """The Redis implementation of ``bot.store.ConversationStore``.

    Keys (under ``prefix``): ``h:{platform}:{workspace}:{channel}:{thread}`` history list,
    ``dd:{message id}`` de-duplication claims and leases (``lw:`` their work, ``lz`` by expiry),
    ``rl:{user}`` token buckets, ``fb`` / ``un`` logs,
    ``a:{answer id}`` answers kept for rating, ``m:{marker}`` markers (each user's latest rating of
    an answer),
    ``st:{UTC day}`` daily counters.
    Pass ``guard`` to share one connection (and one health state) with the index pointer and lock.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        guard: RedisGuard | None = None,
        limits: StoreLimits | None = None,
        socket_timeout_s: float = 0.25,
        degrade_log_interval_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        prefix: str = "sb:",
    ) -> None:
        if guard is None:
            if url is None:
                raise ValueError("RedisStore needs a Redis URL or a RedisGuard")
            guard = RedisGuard(connect(url, timeout_s=socket_timeout_s),
                               degrade_log_interval_s=degrade_log_interval_s, clock=clock)
        self.guard = guard
        self._r = guard.client
        self._limits = lim = limits or StoreLimits()
        # a bucket this old is full again: let it expire
        self._bucket_ttl = math.ceil(lim.burst / lim.rate_per_s) + 1
        self._clock = clock
        self._prefix = prefix
        self._bucket = self._r.register_script(_TOKEN_BUCKET)
        self._lease = self._r.register_script(_LEASE)
        self._renew = self._r.register_script(_RENEW)

    @property
    def dropped_records(self) -> int:
        """Feedback / log records lost while Redis was unavailable."""
        return self.guard.dropped_records

    # -- the port -------------------------------------------------------------------------------------

    def history(self, key: ThreadKey) -> list[Turn]:
        def run() -> list[Turn]:
            docs = _decode(self._r.lrange(self._history_key(key), 0, -1), ("role", "text"))
            return [Turn(role=d["role"], text=d["text"]) for d in docs]

        return self._call("history", run, [])

    def append(self, key: ThreadKey, *turns: Turn) -> None:
        if not turns:
            return
        k = self._history_key(key)
        values = [json.dumps({"role": t.role, "text": t.text}, ensure_ascii=False) for t in turns]

        def run() -> None:
            with self._r.pipeline(transaction=True) as p:  # MULTI/EXEC: append, trim, expire together
                p.rpush(k, *values)
                p.ltrim(k, -self._limits.history_turns, -1)
                p.expire(k, self._limits.history_ttl_s)
                p.execute()

        self._call("append", run, None)

    def claim_message(self, message_id: str) -> bool:
        def run() -> bool:
            key = self._prefix + "dd:" + message_id
            return bool(self._r.set(key, 1, nx=True, ex=self._limits.dedupe_ttl_s))

        return self._call("claim_message", run, True)

    def lease_message(self, message_id: str, owner: str, lease_s: float, work: str = "") -> Lease:
        if "|" in owner:
            raise ValueError("a lease owner may not contain '|'")
        now = float(self._clock())

        def run() -> Lease:
            claim, attempts = self._lease(
                keys=self._lease_keys(message_id),
                args=[owner, repr(now + lease_s), repr(now), self._limits.dedupe_ttl_s, work, message_id])
            return Lease(Claim(claim), int(attempts))

        return self._call("lease_message", run, Lease(Claim.NEW, 1))

    def renew_lease(self, message_id: str, owner: str, lease_s: float) -> bool:
        expires = float(self._clock()) + lease_s if lease_s > 0 else 0.0

        def run() -> bool:
            dd, lz, _ = self._lease_keys(message_id)
            return bool(self._renew(keys=[dd, lz], args=[owner, repr(expires), message_id]))

        return self._call("renew_lease", run, True)

    def finish_message(self, message_id: str) -> None:
        dd, lz, lw = self._lease_keys(message_id)

        def run() -> None:
            with self._r.pipeline(transaction=True) as p:
                p.set(dd, 1, ex=self._limits.dedupe_ttl_s)
                p.zrem(lz, message_id)
                p.delete(lw)
                p.execute()

        self._call("finish_message", run, None)

    def stale_leases(self, limit: int = 20) -> list[tuple[str, str]]:
        lz = self._prefix + "lz"
        now = float(self._clock())

        def run() -> list[tuple[str, str]]:
            if limit <= 0:
                return []
            ids = [str(i) for i in self._r.zrangebyscore(lz, "-inf", repr(now), start=0, num=limit)]
            if not ids:
                return []
            works = self._r.mget([self._lease_keys(i)[2] for i in ids])
            gone = [i for i, w in zip(ids, works, strict=True) if w is None]
            if gone:  # the claim expired with its work (the de-duplication TTL): nothing left to do
                self._r.zrem(lz, *gone)
            return [(i, str(w)) for i, w in zip(ids, works, strict=True) if w is not None]

        return self._call("stale_leases", run, [])

    def allow(self, user_id: str) -> bool:
        def run() -> bool:
            now = repr(float(self._clock()))
            lim = self._limits
            args: list[str | int] = [repr(float(lim.rate_per_s)), lim.burst, now, self._bucket_ttl]
            return bool(self._bucket(keys=[self._prefix + "rl:" + user_id], args=args))

        return self._call("allow", run, True)

    def record_feedback(self, rec: FeedbackRecord) -> None:
        self._push("record_feedback", "fb", asdict(rec))

    def record_unanswered(self, question: str, channel: str, at: float) -> None:
        self._push("record_unanswered", "un", {"question": question, "channel": channel, "at": at})

    def feedback(self, limit: int = 100) -> list[FeedbackRecord]:
        def run() -> list[FeedbackRecord]:
            return [
                FeedbackRecord(kind=d["kind"], voter=str(d.get("voter", "")),
                               comment=str(d.get("comment", "")),
                               **_answer_fields(d))
                for d in self._newest("fb", limit, _FEEDBACK_FIELDS)
                if d["kind"] in FEEDBACK_KINDS
            ]

        return self._call("feedback", run, [])

    def unanswered(self, limit: int = 100) -> list[tuple[str, str, float]]:
        def run() -> list[tuple[str, str, float]]:
            docs = self._newest("un", limit, ("question", "channel", "at"))
            return [(d["question"], d["channel"], float(d["at"])) for d in docs]

        return self._call("unanswered", run, [])

    def remember_answer(self, answer_id: str, rec: AnswerRecord) -> None:
        value = json.dumps(asdict(rec), ensure_ascii=False)
        key = self._prefix + "a:" + answer_id

        def run() -> bool:
            return bool(self._r.set(key, value, ex=self._limits.feedback_ttl_s))

        if not self._call("remember_answer", run, False):
            self.guard.drop_record()

    def recall_answer(self, answer_id: str) -> AnswerRecord | None:
        def run() -> AnswerRecord | None:
            raw = self._r.get(self._prefix + "a:" + answer_id)
            docs = _decode([raw], _ANSWER_FIELDS) if raw is not None else []
            if not docs:
                return None
            return AnswerRecord(**_answer_fields(docs[0]))

        return self._call("recall_answer", run, None)

    def swap_marker(self, marker: str, value: str) -> str | None:
        key = self._prefix + "m:" + marker

        def run() -> str | None:
            old = self._r.set(key, value, ex=self._limits.feedback_ttl_s, get=True)
            return old if isinstance(old, str) else None

        return self._call("swap_marker", run, None)

    def count(self, event: str, at: float, by: int = 1) -> None:
        key = f"{self._prefix}st:{day_of(at)}"

        def run() -> None:
            with self._r.pipeline(transaction=True) as p:
                p.hincrby(key, event, by)
                p.expire(key, self._limits.feedback_ttl_s)
                p.execute()

        self._call("count", run, None)

    def counts(self, since: float, until: float) -> dict[str, int]:
        first = max(day_of(since), day_of(until) - _MAX_REPORT_DAYS)
        days = range(first, day_of(until) + 1)

        def run() -> dict[str, int]:
            with self._r.pipeline(transaction=False) as p:
                for day in days:
                    p.hgetall(f"{self._prefix}st:{day}")
                per_day: list[dict[str, str]] = p.execute()
            total: dict[str, int] = {}
            for counters in per_day:
                for event, n in counters.items():
                    if n.lstrip("-").isdigit():
                        total[event] = total.get(event, 0) + int(n)
            return total

        return self._call("counts", run, {})

    def healthy(self) -> bool:
        return self.guard.healthy()

    def close(self) -> None:
        """Release the connection pool."""
        self.guard.close()

    # -- helpers --------------------------------------------------------------------------------------

    def _lease_keys(self, message_id: str) -> list[str]:
        return [self._prefix + "dd:" + message_id, self._prefix + "lz", self._prefix + "lw:" + message_id]

    def _history_key(self, key: ThreadKey) -> str:
        return self._prefix + "h:" + ":".join(_esc(p) for p in key.parts())

    def _push(self, op: str, name: str, doc: dict[str, Any]) -> None:
        k = self._prefix + name
        value = json.dumps(doc, ensure_ascii=False)

        def run() -> bool:
            with self._r.pipeline(transaction=True) as p:  # push, cap, expire together
                p.lpush(k, value)
                p.ltrim(k, 0, self._limits.log_cap - 1)
                p.expire(k, self._limits.feedback_ttl_s)
                p.execute()
            return True

        if not self._call(op, run, False):
            self.guard.drop_record()

    def _newest(self, name: str, limit: int, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        return _decode(self._r.lrange(self._prefix + name, 0, limit - 1), fields)

    def _call(self, op: str, fn: Callable[[], T], fallback: T) -> T:
        return self.guard.call(op, fn, fallback)
