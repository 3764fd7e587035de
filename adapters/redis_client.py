"""One fail-fast Redis connection shared by the store, the index pointer and the reload lock.

redis-py 8.1 defaults to 5 s socket timeouts with retries, too slow for Slack's 3-second budget
(platform rules, "Redis"): the client here uses tight timeouts and no retries. ``RedisGuard`` runs each
call: on failure it returns a degraded result, logs once per interval (never a key or message text),
stops calling Redis for ``retry_after_s`` so a black-holed server costs one timeout per interval rather
than one per call, and recovers by itself on the first call that succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

T = TypeVar("T")
FAILURES = (redis.RedisError, OSError)


class RedisUnavailable(RuntimeError):
    """A call that must not degrade (a pointer swap, taking the reload lock) could not reach Redis."""


def connect(url: str, *, timeout_s: float = 0.25) -> redis.Redis:
    """A client that fails fast: tight timeouts, no retries, no health-check pings. Connects lazily."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),  # fail fast; the next message is the retry
        health_check_interval=0,
        decode_responses=True,
    )


def describe(client: redis.Redis) -> str:
    """host:port/db of a client, for logs and banners (never the password)."""
    kw = client.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix:{kw['path']}/{kw.get('db', 0)}"
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"


class RedisGuard:
    """Runs Redis calls for everything sharing one client: degrade, log, back off, recover."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        degrade_log_interval_s: float = 60.0,
        retry_after_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self._interval = degrade_log_interval_s
        self._retry_after = retry_after_s
        self._clock = clock
        self._state = threading.Lock()
        self._healthy = True
        self._down_since: float | None = None
        self._last_warning: float | None = None
        self._skip_until = float("-inf")
        self.degraded_calls = 0
        self.dropped_records = 0  # feedback / log records lost while Redis was unavailable

    def call(self, op: str, fn: Callable[[], T], fallback: T) -> T:
        """Run one operation; if Redis fails (or failed less than ``retry_after_s`` ago) return
        ``fallback`` instead of raising."""
        now = self._clock()
        with self._state:
            backing_off = 0 <= self._skip_until - now <= self._retry_after
            if backing_off:
                self.degraded_calls += 1
        if backing_off:
            return fallback
        try:
            result = fn()
        except FAILURES as exc:
            self._failed(op, exc)
            return fallback
        self._succeeded()
        return result

    def strict(self, op: str, fn: Callable[[], T]) -> T:
        """Run one operation that must not degrade: raises ``RedisUnavailable``; always tries."""
        try:
            result = fn()
        except FAILURES as exc:
            self._failed(op, exc)
            raise RedisUnavailable(
                f"Redis at {describe(self.client)} is unavailable ({type(exc).__name__}: {exc})"
            ) from exc
        self._succeeded()
        return result

    def drop_record(self) -> None:
        with self._state:
            self.dropped_records += 1

    def healthy(self) -> bool:
        """Whether the last call reached Redis (no probe of its own)."""
        with self._state:
            return self._healthy

    def close(self) -> None:
        self.client.close()

    def _failed(self, op: str, exc: BaseException) -> None:
        now = self._clock()
        with self._state:
            self._healthy = False
            self.degraded_calls += 1
            self._skip_until = now + self._retry_after
            if self._down_since is None:
                self._down_since = now
            due = self._last_warning is None or not (0 <= now - self._last_warning < self._interval)
            if due:
                self._last_warning = now
        if due:
            # The exception text names host:port and the error, never a key or a message.
            log.warning(
                "Redis unavailable (%s in %s: %.200s): answering without history and de-duplication",
                type(exc).__name__,
                op,
                exc,
            )

    def _succeeded(self) -> None:
        with self._state:
            self._healthy = True
            self._skip_until = float("-inf")
            if self._down_since is None:
                return
            down_for = self._clock() - self._down_since
            self._down_since = None
            self._last_warning = None
            dropped, degraded = self.dropped_records, self.degraded_calls
        log.info(
            "Redis available again after %.1f s (%d calls degraded, %d records dropped so far)",
            down_for,
            degraded,
            dropped,
        )
