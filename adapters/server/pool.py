"""A bounded pool of worker threads for answering, so that the event loop only acknowledges.

Answering is CPU work (embedding, retrieval). Run on the event loop it would hold every other
request's acknowledgement behind it (Slack retries after 3 s). Queued without bound it would answer
minutes late; past ``max_pending`` the caller is told at once (``PoolFull``) and says "busy".
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

MAX_DEFAULT_WORKERS = 4  # measured: answers/s stays flat from 1 to 8 threads; more only adds latency


class PoolFull(RuntimeError):
    """Every worker is busy and the queue is full: answer "busy" now rather than late."""


def default_workers() -> int:
    """One worker per CPU core this process may use, at most ``MAX_DEFAULT_WORKERS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


class AnswerPool:
    """``await pool.run(fn, *args)`` runs ``fn`` in a worker thread, or raises ``PoolFull``.

    ``pending`` (running + queued) is only touched on the event loop's thread, so it needs no lock.
    """

    def __init__(self, *, workers: int, max_pending: int, name: str = "answer") -> None:
        if workers < 1 or max_pending < 1:
            raise ValueError("workers and max_pending must be at least 1")
        self.workers = workers
        self.max_pending = max_pending
        self.pending = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self.pending >= self.max_pending:
            raise PoolFull(f"{self.pending} questions already waiting")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self.pending -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
