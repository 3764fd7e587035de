"""A worker's side of the leases (adapters/server/leases.py): renewed while an answer runs, final once
it is posted, given back when it fails or the worker stops, and stale ones taken over by the sweeper
for the platforms this worker serves. Real engine and store; the event loop of the test."""

from __future__ import annotations

import asyncio

import pytest

from adapters.server.leases import Leases
from bot.conversation import SupportBot
from bot.engine import AnswerEngine
from bot.store import Claim, InMemoryStore, Lease
from knowledge.kb import KnowledgeBase


@pytest.fixture
def bot(kb_empty: KnowledgeBase) -> SupportBot:
    return SupportBot(engine=AnswerEngine(knowledge=kb_empty), store=InMemoryStore(), owner="me", lease_s=0.3)


def test_holding_renews_while_answering_then_makes_the_claim_final(bot: SupportBot) -> None:
    async def run() -> None:
        leases = Leases(bot, sweep_every_s=60).start({})
        assert bot.store.lease_message("slack:m1", "me", bot.lease_s, "w").granted
        async with leases.holding("slack:m1"):
            await asyncio.sleep(1.0)  # three leases long: only the heartbeat keeps it ours
            assert bot.store.lease_message("slack:m1", "other", 1).claim == Claim.HELD
        assert bot.store.lease_message("slack:m1", "other", 1).claim == Claim.DONE
        await leases.stop()

    asyncio.run(run())


def test_a_failed_answer_or_a_stop_gives_the_lease_back_at_once(bot: SupportBot) -> None:
    async def run() -> None:
        leases = Leases(bot, sweep_every_s=60).start({})
        for m in ("slack:failed", "slack:unfinished"):
            assert bot.store.lease_message(m, "me", 30, f"work-{m}").granted
        with pytest.raises(RuntimeError):
            async with leases.holding("slack:failed"):
                raise RuntimeError("posting failed")
        assert bot.store.stale_leases() == [("slack:failed", "work-slack:failed")]

        entered = asyncio.Event()

        async def answer_forever() -> None:
            async with leases.holding("slack:unfinished"):
                entered.set()
                await asyncio.sleep(3600)

        task = asyncio.ensure_future(answer_forever())
        await entered.wait()
        await leases.stop()  # the grace period is over
        assert ("slack:unfinished", "work-slack:unfinished") in bot.store.stale_leases()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def test_the_sweeper_takes_over_stale_messages_of_the_platforms_it_serves(bot: SupportBot) -> None:
    resumed: list[tuple[str, str, Lease]] = []

    async def resume(message_id: str, work: str, lease: Lease) -> None:
        resumed.append((message_id, work, lease))

    async def run() -> None:
        for m in ("slack:orphan", "teams:orphan"):
            assert bot.store.lease_message(m, "a-worker-that-died", 0.01, f"work-{m}").granted
        await asyncio.sleep(0.05)
        leases = Leases(bot, sweep_every_s=0.1).start({"slack": resume})  # a Slack-only worker
        for _ in range(50):
            if resumed:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # more sweeps: nothing is taken twice
        await leases.stop()
        assert resumed == [("slack:orphan", "work-slack:orphan", Lease(Claim.RESUMED, 2))]
        assert leases.resumed == 1
        assert bot.store.lease_message("slack:orphan", "x", 1).claim == Claim.DONE
        assert bot.store.stale_leases() == [("teams:orphan", "work-teams:orphan")]  # for a Teams worker

    asyncio.run(run())
