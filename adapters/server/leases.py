"""No question lost when a worker dies: this process's leases on the messages it is answering, kept
alive until each reply is posted, and the takeover of messages whose worker stopped first.

A message is admitted with a lease (``SupportBot.admit``) and the work to answer it again (the
platform's event, serialised by the adapter). While it is answered here, ``holding`` keeps it in the
set that a heartbeat renews every third of the lease; once the reply is posted the claim becomes
final. If this process dies, nobody renews: the lease runs out, and the sweeper of any worker
(``Leases.start``) finds it among ``stale_leases``, takes it over (``SupportBot.resume``, atomic, so
one worker wins) and hands the work to the platform's resumer, which answers and posts as usual. Slack
does not redeliver an event it has had acknowledged, so without this a worker killed after the
acknowledgement would lose the question; a Slack retry that arrives meanwhile (its first delivery was
not acknowledged) takes the same path: duplicate while the lease is live, taken over once it is not.
A graceful stop gives back the leases of answers it could not finish (``stop``), so another worker
takes them at once instead of after the lease.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from adapters.server.pool import OffLoop
from bot.conversation import SupportBot
from bot.store import Lease

log = logging.getLogger(__name__)

# (message id, work, lease) -> answer it and post the reply (or the apology past MAX_ATTEMPTS)
Resumer = Callable[[str, str, Lease], Awaitable[None]]
SWEEP_BATCH = 20


class Leases:
    def __init__(self, bot: SupportBot, *, sweep_every_s: float | None = None) -> None:
        self.bot = bot
        self.held: set[str] = set()
        self.resumed = 0  # messages this worker took over from another
        self.sweep_every_s = sweep_every_s if sweep_every_s is not None else bot.lease_s / 2
        self._io = OffLoop(workers=2, name="leases")
        self._resumers: dict[str, Resumer] = {}
        self._tasks: list[asyncio.Task[None]] = []  # answers taken over, until posted
        self.daemons: set[asyncio.Task[None]] = set()  # the heartbeat and the sweeper: never done

    def start(self, resumers: dict[str, Resumer]) -> Leases:
        """Renew what is held, and take over stale messages of these platforms ("slack", "teams")."""
        self._resumers = dict(resumers)
        self.daemons = {asyncio.ensure_future(self._heartbeat()), asyncio.ensure_future(self._sweeper())}
        return self

    @asynccontextmanager
    async def holding(self, message_id: str) -> AsyncIterator[None]:
        """Keep the lease alive while the body answers and posts; final when it returns. If it raises
        (or is cancelled at shutdown), the lease is given back for another worker to take."""
        self.held.add(message_id)
        try:
            yield
        except BaseException:
            self.held.discard(message_id)
            self.bot.release(message_id)  # direct: at shutdown the thread pools may be gone
            raise
        self.held.discard(message_id)
        await self._io.run(self.bot.finish, message_id)

    async def sweep(self) -> int:
        """Take over the stale messages this worker can answer; how many it took."""
        stale = await self._io.run(self.bot.store.stale_leases, SWEEP_BATCH)
        taken = 0
        for message_id, work in stale:
            platform = message_id.partition(":")[0]
            resumer = self._resumers.get(platform)
            if resumer is None:
                continue  # a platform this worker does not serve
            lease = await self._io.run(self.bot.resume, message_id, platform)
            if not lease.granted:
                continue  # another worker took it first
            taken += 1
            self.resumed += 1
            task = asyncio.ensure_future(self._resume(resumer, message_id, work, lease))
            self._tasks.append(task)
            task.add_done_callback(self._forget)
        return taken

    async def _resume(self, resumer: Resumer, message_id: str, work: str, lease: Lease) -> None:
        try:
            async with self.holding(message_id):
                await resumer(message_id, work, lease)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("answering %s again failed; its lease is given back", message_id)

    def _forget(self, task: asyncio.Task[None]) -> None:
        with suppress(ValueError):
            self._tasks.remove(task)

    async def _heartbeat(self) -> None:
        every = self.bot.lease_s / 3
        while True:
            await asyncio.sleep(every)
            for message_id in list(self.held):
                try:
                    if not await self._io.run(self.bot.renew, message_id):
                        log.warning("lost the lease on %s: another worker took it over", message_id)
                except Exception:
                    log.exception("renewing the lease on %s failed", message_id)

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every_s * random.uniform(0.8, 1.2))  # workers out of step
            try:
                await self.sweep()
            except Exception:
                log.exception("looking for stale messages failed")

    async def stop(self) -> None:
        """Stop renewing and sweeping; give back the leases of answers still running."""
        tasks = [*self.daemons, *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for message_id in list(self.held):
            self.bot.release(message_id)
            log.info("gave back the lease on %s: another worker will answer it", message_id)
        self.held.clear()
        self._io.shutdown()
