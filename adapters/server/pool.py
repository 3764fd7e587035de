"""A bounded pool of worker threads for answering, so that the event loop only acknowledges.

Answering is CPU work (embedding, retrieval). Run on the event loop it would hold every other
request's acknowledgement behind it (Slack retries after 3 s). Queued without bound it would answer
minutes late; past ``max_pending`` the caller is told at once (``PoolFull``) and says "busy".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.conversation import Incoming, Outcome, Reply, SupportBot

log = logging.getLogger(__name__)

T = TypeVar("T")

# Answering on the extractive or local backend is CPU work under the GIL: answers/s stays flat from 1 to
# 8 threads (measured), and every extra thread competes with the event loop for the GIL. Under the
# Slack load benchmark on the 2-core machine (bench/slack_load.py, 100 messages/s), 1 answer thread
# gave ack p99 6.6 ms and 2,332 answers in 30 s; 2 threads 19.3 ms and 2,087. A remote model (openai)
# waits on the network instead: there threads overlap.
IO_BOUND_WORKERS = 8


class PoolFull(RuntimeError):
    """Every worker is busy and the queue is full: answer "busy" now rather than late."""


def default_workers(backend: str) -> int:
    """One answer thread for backends that compute here (scale those with processes); several for a
    backend that waits on a remote model."""
    return IO_BOUND_WORKERS if backend == "openai" else 1


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


class OffLoop:
    """Blocking calls that are not answering (Redis, index reads, reloads) in a few threads of their own,
    never on the event loop; and background tasks, kept referenced until they are done."""

    def __init__(self, *, workers: int, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self.tasks: set[asyncio.Future[Any]] = set()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def spawn(self, aw: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(aw)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def answer_in_pool(pool: AnswerPool, bot: SupportBot, msg: Incoming, io: OffLoop, *,
                         error_text: str) -> Reply:
    """An admitted message answered in the pool; "busy" when the pool is full, ``error_text`` when
    answering failed. Never raises: the user always gets a reply."""
    try:
        return await pool.run(bot.answer, msg)
    except PoolFull:
        log.warning("answer pool full (%d waiting): told %s we are busy", pool.pending, msg.identity)
        return await io.run(bot.busy, msg)
    except Exception:
        log.exception("answering %s failed", msg.identity)
        return Reply(Outcome.ANSWERED, text=error_text)
