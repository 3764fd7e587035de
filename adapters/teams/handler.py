"""The Teams surface: 1:1 questions, channel and group-chat mentions, feedback, "Ask a person" and the
admins' reload commands, on plain activity dicts through our port (``adapters/teams/port.py``).

A message gets a typing activity first, then is admitted (de-duplication on the activity id, the
user's rate limit) and answered in the worker pool. An answer ready within ``inline_budget_s`` is sent
in the turn; a slower one (a model backend) is sent proactively, so that Teams' HTTP call returns
promptly (platform rules, "Microsoft Teams": about 15 s). Never silent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.kb_admin import KbCommand
from adapters.server.leases import Leases
from adapters.server.pool import AnswerPool, OffLoop, answer_in_pool
from adapters.teams import convert
from adapters.teams import strings as s
from adapters.teams.port import TeamsTurn, Transport
from bot.conversation import MAX_ATTEMPTS, MAX_QUESTION_CHARS, Incoming, Outcome, Reply, SupportBot
from bot.policy import ChannelPolicy, Policies, Respond
from bot.store import AnswerRecord, Lease

log = logging.getLogger(__name__)

ADMIN_COMMANDS = ("reload", "status", "rollback", "help")
REPLY_ALIAS = "teams-reply:"  # an answer is also rateable under the id of the message that carried it


@dataclass
class TeamsDeps:
    bot: SupportBot
    pool: AnswerPool
    leases: Leases  # this worker's claims on the messages it answers (no question lost)
    kb: Any  # knowledge.kb.KnowledgeBase
    policies: Policies = field(default_factory=Policies)
    admins: frozenset[str] = frozenset()
    helpcentre_dir: Path | None = None
    inline_budget_s: float = 5.0  # answers slower than this are sent proactively
    on_reload: Callable[[float, bool], None] | None = None  # (seconds, succeeded) of each reload


class TeamsHandler:
    """Dispatches one turn by activity type; every reply goes through the port."""

    def __init__(self, deps: TeamsDeps, transport: Transport) -> None:
        self.d = deps
        self.transport = transport
        self.kb_command = KbCommand(kb=deps.kb, admins=deps.admins, helpcentre_dir=deps.helpcentre_dir,
                                    strings=s, on_reload=deps.on_reload)
        self.io = OffLoop(workers=4, name="teams-io")

    async def on_turn(self, turn: TeamsTurn) -> None:
        activity = turn.activity
        kind = activity.get("type")
        try:
            if kind == "invoke":
                await self._on_invoke(turn)
            elif kind == "message":
                await self._on_message(turn)
            elif kind == "conversationUpdate" and convert.is_personal(activity) and _bot_added(activity):
                await self._notice_once(turn, s.WELCOME)  # installed in a 1:1 chat: say what it does
            # messageReaction, installationUpdate, other updates: nothing to say
        except Exception:
            log.exception("Teams turn failed (activity %s)", activity.get("id"))
            if kind == "message":
                await self._send(turn, convert.notice_activity(s.ERROR))

    # -- messages ---------------------------------------------------------------------------------------

    async def _on_message(self, turn: TeamsTurn) -> None:
        activity = turn.activity
        person = convert.parse_ask_person(activity)
        if person is not None:
            await self._ask_person(turn, person)
            return
        personal = convert.is_personal(activity)
        if not personal and not convert.mentions_bot(activity):
            return  # channels deliver only mentions; anything else is not for us
        text = convert.question_text(activity)
        words = text.split()
        if personal and len(words) == 1 and words[0].casefold() in ADMIN_COMMANDS:
            await self._admin(turn, words[0].casefold())
            return
        policy = convert.policy_for(activity, self.d.policies)
        if policy.respond == Respond.OFF:
            await self._notice_once(turn, s.CHANNEL_OFF)
            return
        if not text:
            await self._notice_once(turn, s.HELP)
            return
        if len(text) > MAX_QUESTION_CHARS:
            await self._notice_once(turn, s.TOO_LONG.format(chars=len(text)))
            return
        await self._answer(turn, self._incoming(activity, text, policy))

    def _incoming(self, activity: dict[str, Any], text: str, policy: ChannelPolicy) -> Incoming:
        sender = activity.get("from") or {}
        user = str(sender.get("aadObjectId") or sender.get("id") or "")
        return Incoming(key=convert.thread_key(activity), message_id=convert.message_id(activity),
                        user_id=user, text=text, scope=policy.scope, voice=policy.voice)

    async def _answer(self, turn: TeamsTurn, msg: Incoming) -> None:
        await self._send(turn, convert.typing_activity())
        work = json.dumps({"activity": turn.activity, "reference": turn.reference()}, ensure_ascii=False)
        admitted = await self.io.run(self.d.bot.admit, msg, work)
        if admitted is not None:
            if admitted.outcome != Outcome.DUPLICATE:
                await self._send(turn, convert.notice_activity(admitted.text))
            return
        inline_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        held = self.io.spawn(self._answer_held(turn, msg, inline_done))
        await asyncio.wait({held, inline_done}, return_when=asyncio.FIRST_COMPLETED)
        if held.done():
            held.result()  # its failure, if any, is the turn's

    async def _answer_held(self, turn: TeamsTurn, msg: Incoming, inline_done: asyncio.Future[None]) -> None:
        """Answer under the message's lease: in the turn if the answer is ready within the inline
        budget, else proactively once it is (``inline_done`` lets the turn end)."""
        try:
            async with self.d.leases.holding(msg.identity):
                task = asyncio.ensure_future(
                    answer_in_pool(self.d.pool, self.d.bot, msg, self.io, error_text=s.ERROR))
                done, _ = await asyncio.wait({task}, timeout=self.d.inline_budget_s)
                if done:
                    await self._deliver(turn, task.result())
                    inline_done.set_result(None)
                    return
                inline_done.set_result(None)
                log.info("answer for %s is slow: it will be sent proactively", msg.identity)
                await self._send_later(turn.reference(), await task)
        except Exception as exc:
            if not inline_done.done():
                raise  # the turn reports it
            log.warning("sending the answer for %s failed (%s): another worker will try again",
                        msg.identity, type(exc).__name__)

    async def resume(self, message_id: str, work: str, lease: Lease) -> None:
        """Answer an activity whose worker stopped before replying (``adapters/server/leases.py``)."""
        doc = json.loads(work)
        activity, reference = doc["activity"], doc["reference"]
        if lease.attempts > MAX_ATTEMPTS:
            reply = await self.io.run(self.d.bot.gave_up, "teams")
        else:
            msg = self._incoming(activity, convert.question_text(activity),
                                 convert.policy_for(activity, self.d.policies))
            reply = await answer_in_pool(self.d.pool, self.d.bot, msg, self.io, error_text=s.ERROR)
        await self._send_later(reference, reply)

    async def _send_later(self, reference: dict[str, Any], reply: Reply) -> None:
        """Send a reply proactively; a failure raises, so that the lease goes back for another try."""
        ids = await self.transport.send_proactive(reference, [self._activity_of(reply)])
        await self._remember_reply(reply, ids[0] if ids else "")

    def _activity_of(self, reply: Reply) -> dict[str, Any]:
        if reply.answer is not None:
            return convert.answer_activity(reply.answer, answer_id=reply.answer_id)
        return convert.notice_activity(reply.text)

    async def _deliver(self, turn: TeamsTurn, reply: Reply) -> None:
        sent = await self._send(turn, self._activity_of(reply))
        await self._remember_reply(reply, sent)

    async def _remember_reply(self, reply: Reply, sent_id: str) -> None:
        if reply.answer is not None and reply.answer_id and sent_id:
            await self.io.run(self.d.bot.alias, reply.answer_id, REPLY_ALIAS + sent_id)

    async def _notice_once(self, turn: TeamsTurn, text: str) -> None:
        """A short reply that is not an answer (help, too long, channel off): once per activity."""
        if await self._claim(turn):
            await self._send(turn, convert.notice_activity(text))

    async def _claim(self, turn: TeamsTurn) -> bool:
        """Claim the activity's identity (the same as its question's): False for a redelivery."""
        return await self.io.run(self.d.bot.store.claim_message, f"teams:{convert.message_id(turn.activity)}")

    # -- admin commands (1:1 only) -----------------------------------------------------------------------

    async def _admin(self, turn: TeamsTurn, command: str) -> None:
        if not await self._claim(turn):
            return
        sender = turn.activity.get("from") or {}
        user = str(sender.get("aadObjectId") or "")
        reference = turn.reference()

        async def ack(text: str = "") -> None:
            if text:
                await self._send(turn, convert.notice_activity(text))

        async def respond(text: str) -> None:
            await self.transport.send_proactive(reference, [convert.notice_activity(text)])

        if command == "help":
            await ack(s.HELP + "\n\n" + (s.KB_USAGE if user in self.d.admins else ""))
            return
        await self.kb_command(command, user, ack, respond)

    # -- invokes: native feedback ------------------------------------------------------------------------

    async def _on_invoke(self, turn: TeamsTurn) -> None:
        activity = turn.activity
        feedback = convert.parse_feedback(activity)
        if feedback is None:
            await turn.respond_invoke(200)  # an invoke we do not handle: answered, nothing done
            return
        kind, comment = feedback
        sender = activity.get("from") or {}
        user = str(sender.get("aadObjectId") or sender.get("id") or "")
        reply_to = str(activity.get("replyToId") or "")
        rated = await self.io.run(self.d.bot.rate, REPLY_ALIAS + reply_to, kind, user, comment)  # type: ignore[arg-type]
        log.info("Teams rating %s of reply %s: recorded=%s", kind, reply_to, rated.recorded)
        await turn.respond_invoke(200)

    # -- "Ask a person" ----------------------------------------------------------------------------------

    async def _ask_person(self, turn: TeamsTurn, answer_id: str) -> None:
        activity = turn.activity
        sender = activity.get("from") or {}
        user = str(sender.get("aadObjectId") or sender.get("id") or "")
        rated = await self.io.run(self.d.bot.rate, answer_id, "human", user)
        if not rated.recorded:
            await self._send(turn, convert.notice_activity(rated.text))
            return
        target = convert.policy_for(activity, self.d.policies).escalation
        log.info("escalation requested for %s by %s -> %s", answer_id, user, target or "(none set)")
        if not target:
            await self._send(turn, convert.notice_activity(s.ESCALATION_NONE))
            return
        record: AnswerRecord | None = await self.io.run(self.d.bot.store.recall_answer, answer_id)
        sources = await self.io.run(self._sources, record)
        where = str((activity.get("conversation") or {}).get("name") or thread_name(activity))
        brief = convert.escalation_activity(question=record.question if record else "",
                                            answer_text=record.answer if record else "", sources=sources,
                                            asker_name=str(sender.get("name") or user), where=where)
        reference = {**turn.reference(), "conversation": {"id": target}, "activityId": None}
        try:
            await self.transport.send_proactive(reference, [brief])
        except Exception as exc:
            log.warning("escalation to %s failed: %s", target, type(exc).__name__)
            await self._send(turn, convert.notice_activity(s.ESCALATION_FAILED))
            return
        await self._send(turn, convert.notice_activity(s.ESCALATED))

    def _sources(self, record: AnswerRecord | None) -> list[tuple[str, str]]:
        if record is None:
            return []
        return [(a.title, a.url) for a in self.d.kb.articles_by_id(record.citations)]

    # -- helpers ---------------------------------------------------------------------------------------

    async def _send(self, turn: TeamsTurn, activity: dict[str, Any]) -> str:
        try:
            return await turn.send(activity)
        except Exception as exc:  # the connector unreachable: logged without the message text
            log.warning("could not send a %s activity to the Bot Connector: %s", activity.get("type"),
                        type(exc).__name__)
            return ""

    def shutdown(self) -> None:
        self.kb_command.shutdown()
        self.io.shutdown()


def _bot_added(activity: dict[str, Any]) -> bool:
    bot = (activity.get("recipient") or {}).get("id")
    return any(isinstance(m, dict) and m.get("id") == bot for m in activity.get("membersAdded") or [])


def thread_name(activity: dict[str, Any]) -> str:
    """Where a question was asked, for the brief: the channel or team name, else the conversation id."""
    data = activity.get("channelData") or {}
    channel = (data.get("channel") or {}).get("name")
    team = (data.get("team") or {}).get("name")
    if channel or team:
        return " / ".join(str(x) for x in (team, channel) if x)
    return str((activity.get("conversation") or {}).get("id") or "")
