"""Clicks on an answer: the 👍 / 👎 feedback buttons (toggles: the latest rating counts), "Ask a
person" (a brief to the channel's escalation target, the asker told), and "Mark resolved" on a brief."""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError

from adapters.slack import strings as s
from adapters.slack.base import Ack, Body, Client, Listeners, log, thread_of, user_and_channel
from adapters.slack.blocks import escalation_message, notice_message, resolved_blocks
from bot.store import AnswerRecord, FeedbackKind
from bot.types import Answer, Citation

_RATINGS: dict[str, FeedbackKind] = {"helpful": "helpful", "not_helpful": "not_helpful"}


class Feedback(Listeners):
    async def on_feedback(self, ack: Ack, body: Body, action: Body, client: Client) -> None:
        await ack()
        kind, _, answer_id = str(action.get("value", "")).partition("|")
        user, channel = user_and_channel(body)
        if kind not in _RATINGS or not answer_id or not user:
            return
        rated = await self.io.run(self.d.bot.rate, answer_id, _RATINGS[kind], user)
        log.info("rating %s of %s by %s: recorded=%s", kind, answer_id, user, rated.recorded)
        if channel:
            await self._tell(client, channel, user, body, rated.text)

    async def on_ask_person(self, ack: Ack, body: Body, action: Body, client: Client) -> None:
        """Post a brief to the channel's escalation target, and tell the asker."""
        await ack()
        answer_id = str(action.get("value", ""))
        user, channel = user_and_channel(body)
        if not answer_id or not user or not channel:
            return
        rated = await self.io.run(self.d.bot.rate, answer_id, "human", user)
        if not rated.recorded:
            await self._tell(client, channel, user, body, rated.text)
            return
        target = self.d.policies.for_channel(channel).escalation
        log.info("escalation requested for %s by %s -> %s", answer_id, user, target or "(none set)")
        if not target:
            await self._tell(client, channel, user, body, s.ESCALATION_LOGGED)
            return
        try:
            await self._escalate(client, answer_id=answer_id, asker=user, channel=channel,
                                 thread=thread_of(body), target=target)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            log.warning("escalation to %s failed: %s", target, error)
            await self._tell(client, channel, user, body, s.ESCALATION_FAILED.format(error=error))

    async def _escalate(self, client: Client, *, answer_id: str, asker: str, channel: str,
                        thread: str | None, target: str) -> None:
        """The brief (question, answer, sources, link to the thread) to a channel or a person; a user
        group is pinged in the asker's thread instead, with the brief."""
        record = await self.io.run(self.d.bot.store.recall_answer, answer_id)
        permalink = ""
        try:
            ts = thread or answer_id.rsplit(":")[-1]
            link = await client.chat_getPermalink(channel=channel, message_ts=ts)
            permalink = str(link.get("permalink") or "")
        except SlackApiError as exc:
            log.info("no permalink for the escalation: %s", exc.response.get("error"))
        answer = await self.io.run(self._answer_of, record) if record is not None else None
        brief = escalation_message(question=record.question if record else "", answer=answer,
                                   permalink=permalink, asker_id=asker, request_id=answer_id)
        if target.startswith("S"):
            ping = notice_message(s.ESCALATED_GROUP.format(group=target), mrkdwn=True)
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=ping.text,
                                          blocks=[*ping.blocks, *brief.blocks])
            return
        await client.chat_postMessage(channel=target, **brief.payload())
        told = (s.ESCALATED_USER.format(user=target) if target[0] in "UW"
                else s.ESCALATED_CHANNEL.format(channel=target))
        await client.chat_postMessage(channel=channel, thread_ts=thread,
                                      **notice_message(told, mrkdwn=True).payload())

    def _answer_of(self, record: AnswerRecord) -> Answer:
        """The rated answer as an ``Answer`` again, its sources looked up in the live index."""
        cites = tuple(Citation(n, a.title, a.url, a.doc_id, "")
                      for n, a in enumerate(self.d.kb.articles_by_id(record.citations), start=1))
        return Answer(text=record.answer, citations=cites, question=record.question)

    async def on_resolved(self, ack: Ack, body: Body, client: Client) -> None:
        await ack()
        user, channel = user_and_channel(body)
        message = body.get("message") or {}
        ts, blocks = message.get("ts"), message.get("blocks")
        if not (user and channel and isinstance(ts, str) and isinstance(blocks, list)):
            return
        self.io.spawn(self.io.run(self.d.bot.store.count, "escalation_resolved", time.time()))
        text = str(message.get("text") or s.RESOLVED)
        await self.call(client.chat_update(channel=channel, ts=ts, text=text,
                                           blocks=resolved_blocks(blocks, user)), "resolved")

    async def _tell(self, client: Client, channel: str, user: str, body: Body, text: str) -> None:
        """A reply only the clicker sees, in the thread of the clicked message."""
        await self.call(client.chat_postEphemeral(channel=channel, user=user, text=text,
                                                  thread_ts=thread_of(body)), "ephemeral reply")
