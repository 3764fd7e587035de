"""The live index-version pointer and the reload lock on Redis, shared by every worker.

Workers read the pointer on every query (one GET), so a swap made by any process is served on the next
question, without a restart. The pointer is configuration, so it has no TTL; a copy is kept in a local
file (``mirror``) and restores the key if Redis lost it (a restart without persistence). The lock
expires ``ttl_s`` after its holder stops renewing it, so a killed reload never blocks the next one
(platform rules, "Redis" and "Chroma").
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from adapters.redis_client import RedisGuard, RedisUnavailable, describe
from knowledge.reload import ReloadError
from knowledge.versions import PointerState, PointerUnreadable, VersionPointer

log = logging.getLogger(__name__)

_MISSING = object()

# KEYS[1] lock; ARGV[1] our token. Delete / extend only if we still hold it.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return 0"
)


def _state_from(raw: dict[str, Any]) -> PointerState:
    return PointerState(
        current=raw.get("current"),
        previous=raw.get("previous"),
        swapped_at=raw.get("swapped_at"),
        reports=raw.get("reports", {}),
    )


class RedisPointer:
    """``VersionPointer`` on one Redis key (SET is atomic: readers see old or new, never neither).

    If Redis is unavailable, ``read`` serves the last state it saw (answers keep coming from the live
    version), else the local copy's; with neither it raises ``PointerUnreadable``. ``swap`` never
    degrades: it raises ``ReloadError``, and the reload that called it leaves the live version as it was.
    """

    def __init__(self, guard: RedisGuard, key: str, *, mirror: VersionPointer | None = None) -> None:
        self.guard = guard
        self.key = key
        self.mirror = mirror
        self._last: PointerState | None = None

    def read(self) -> PointerState:
        raw = self.guard.call("pointer", lambda: self.guard.client.get(self.key), _MISSING)
        if raw is _MISSING:
            if self._last is not None:
                return self._last
            copy = self.mirror.read() if self.mirror is not None else PointerState()
            if copy.current is not None:  # started during an outage: the last version this host set
                self._last = copy
                return copy
            raise PointerUnreadable(
                f"Redis at {describe(self.guard.client)} is unavailable and this worker has not yet seen "
                "which index version is live; check REDIS_URL and that Redis is running"
            )
        if raw is None:
            state = self._restore()
        else:
            try:
                state = _state_from(json.loads(str(raw)))
            except (ValueError, AttributeError) as exc:
                raise PointerUnreadable(
                    f"the index version pointer in Redis ({self.key}) is unreadable ({exc}); delete that "
                    "key and run `supportbot ingest` to rebuild the index"
                ) from exc
        self._last = state
        return state

    @property
    def channel(self) -> str:
        """Where a swap is announced, so every worker can load the new version before it is asked."""
        return self.key + ":swapped"

    def swap(self, state: PointerState) -> None:
        value = json.dumps(asdict(state))
        try:
            self.guard.strict("pointer swap", lambda: self.guard.client.set(self.key, value))
        except RedisUnavailable as exc:
            raise ReloadError(f"could not switch the live index version: {exc}") from exc
        # best effort: a worker that misses it still sees the new version at its next pointer read
        announce = str(state.current)
        self.guard.call("swap announcement", lambda: self.guard.client.publish(self.channel, announce), 0)
        self._last = state
        if self.mirror is not None:
            try:
                self.mirror.swap(state)
            except OSError as exc:  # the copy is a convenience; Redis holds the truth
                log.warning("Could not update the local copy of the index pointer: %s", exc)

    def _restore(self) -> PointerState:
        """Redis has no pointer: take the local copy's, if any (SET NX, so the first worker decides)."""
        if self.mirror is None:
            return PointerState()
        copy = self.mirror.read()  # unreadable: PointerUnreadable says how to recover
        if copy.current is None:
            return PointerState()
        value = json.dumps(asdict(copy))
        if self.guard.call("pointer restore", lambda: self.guard.client.set(self.key, value, nx=True), None):
            log.info("Restored the index pointer in Redis from the local copy (version %s)", copy.current)
            return copy
        raw = self.guard.call("pointer", lambda: self.guard.client.get(self.key), None)
        return _state_from(json.loads(str(raw))) if raw else copy


class RedisLock:
    """``ReloadLock`` on one Redis key: SET NX with a TTL, renewed by a heartbeat while held.

    The value names the holder (pid, host, since) and carries a random token, so only the holder can
    renew or release it (compare-and-delete in Lua). A holder that dies stops renewing and the lock
    expires ``ttl_s`` later. If Redis is unavailable, ``acquire`` raises ``ReloadError`` (a reload
    without the lock could race another one).
    """

    def __init__(
        self, guard: RedisGuard, key: str, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        if ttl_s < 0.5:
            raise ValueError("the reload lock's TTL must be at least 0.5 s")
        self.guard = guard
        self.key = key
        self.ttl_s = ttl_s
        self.clock = clock
        self._release = guard.client.register_script(_RELEASE)
        self._renew = guard.client.register_script(_RENEW)
        self._token: str | None = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> bool:
        token = json.dumps({"id": uuid.uuid4().hex, "pid": os.getpid(), "host": socket.gethostname(),
                            "since": self.clock()})
        ttl_ms = int(self.ttl_s * 1000)
        try:
            ok = self.guard.strict("lock", lambda: self.guard.client.set(self.key, token, nx=True, px=ttl_ms))
        except RedisUnavailable as exc:
            raise ReloadError(f"could not take the reload lock: {exc}; nothing was changed") from exc
        if not ok:
            return False
        self._token = token
        self._lost.clear()
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="reload-lock-heartbeat", daemon=True)
        self._heartbeat.start()
        return True

    def release(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=self.ttl_s)
            self._heartbeat = None
        try:
            self.guard.strict("unlock", lambda: self._release(keys=[self.key], args=[token]))
        except RedisUnavailable:
            log.warning("Could not release the reload lock; it expires by itself in %.0f s", self.ttl_s)

    def held(self) -> bool:
        """Whether we still hold the lock (a heartbeat that found it gone, or Redis saying so, is no)."""
        token = self._token
        if token is None or self._lost.is_set():
            return False
        try:
            return bool(self.guard.strict("lock check", lambda: self.guard.client.get(self.key) == token))
        except RedisUnavailable:
            return False

    def holder(self) -> str | None:
        raw = self.guard.call("lock holder", lambda: self.guard.client.get(self.key), None)
        if not raw:
            return None
        try:
            info = json.loads(str(raw))
            since = time.strftime("%H:%M:%S", time.localtime(float(info["since"])))
            return f"pid {info['pid']} on {info['host']}, since {since}"
        except (ValueError, KeyError, TypeError):
            return "unknown holder"

    def _beat(self) -> None:
        """Extend the TTL every third of it; stop when released, or when the lock turns out to be gone."""
        token, ttl_ms = self._token or "", int(self.ttl_s * 1000)

        def renew() -> object:
            return self._renew(keys=[self.key], args=[token, ttl_ms])

        while not self._stop.wait(self.ttl_s / 3):
            renewed = self.guard.call("lock renew", renew, None)
            if renewed == 0:  # None: Redis unreachable this time; the TTL may still cover us
                log.warning("The reload lock expired while held (Redis unreachable for over %.0f s?)",
                            self.ttl_s)
                self._lost.set()
                return
