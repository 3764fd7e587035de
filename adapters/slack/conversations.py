"""Questions in, answers out: mentions, DMs, thread follow-ups, a channel's unmentioned questions, and
the DM as an AI-app surface (a welcome with suggested questions, assistant-thread prompts and status).

A post is admitted (de-duplication on team + channel + ts, the user's rate limit) off the event loop,
answered in the bounded worker pool, and replied to in its thread: an answer with its sources and
feedback buttons, or a short reason. Never silent (platform rules, "Slack").
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.server.pool import answer_in_pool
from adapters.slack import strings as s
from adapters.slack.base import Ack, Body, Client, Context, Listeners, log, user_and_channel
from adapters.slack.blocks import SlackMessage, answer_message, notice_message
from adapters.slack.convert import SlackPost, mentions, post_from_event, to_incoming
from adapters.slack.mrkdwn import escape
from bot.conversation import MAX_ATTEMPTS, MAX_QUESTION_CHARS, Incoming, Outcome, Reply
from bot.policy import ChannelPolicy, Respond, looks_like_question
from bot.store import Lease
from bot.suggest import Suggestion, suggested_questions

SUGGEST_ACTION = "sb_suggest"  # a suggested question's button in the welcome message: sb_suggest:N
Stop = Callable[[], Awaitable[None]]


class Conversations(Listeners):
    async def on_mention(self, event: Body, context: Context, client: Client) -> None:
        post = post_from_event(event, context.team_id or "")
        if post is not None:
            await self.consider(post, client, bot_user=context.bot_user_id or "", mentioned=True)

    async def on_message(self, event: Body, context: Context, client: Client) -> None:
        post = post_from_event(event, context.team_id or "")
        if post is not None:
            bot_user = context.bot_user_id or ""
            await self.consider(post, client, bot_user=bot_user, mentioned=mentions(post.text, bot_user))

    async def consider(self, post: SlackPost, client: Client, *, bot_user: str, mentioned: bool) -> None:
        """Answer the post if it is for us: a DM, a mention, a reply in a thread we answered in, or a
        question in a channel whose policy answers all questions."""
        policy = self.d.policies.for_channel(post.channel)
        if post.is_dm:
            await self.answer(post, client, policy, bot_user=bot_user)
        elif policy.respond == Respond.OFF:
            if mentioned:
                await self._notice_once(post, client, s.CHANNEL_OFF, bot_user=bot_user)
        elif mentioned:
            await self.answer(post, client, policy, bot_user=bot_user)
        elif post.thread_ts is not None:
            if await self.io.run(self.d.bot.store.history, post.key):  # a thread we answered in
                await self.answer(post, client, policy, bot_user=bot_user)
        elif policy.respond == Respond.ALL_QUESTIONS and looks_like_question(post.text):
            await self.answer(post, client, policy, bot_user=bot_user)

    async def answer(self, post: SlackPost, client: Client, policy: ChannelPolicy, *, bot_user: str) -> None:
        msg = to_incoming(post, bot_user_id=bot_user, scope=policy.scope, voice=policy.voice)
        if not msg.text:
            await self._notice_once(post, client, await self._help_text(policy), bot_user=bot_user)
            return
        if len(msg.text) > MAX_QUESTION_CHARS:
            await self._notice_once(post, client, s.TOO_LONG.format(chars=len(msg.text)), bot_user=bot_user)
            return
        work = json.dumps({"post": asdict(post), "bot_user": bot_user}, ensure_ascii=False)
        admitted = await self.io.run(self.d.bot.admit, msg, work)
        if admitted is not None:
            if admitted.outcome != Outcome.DUPLICATE:
                await self.post_reply(client, post, notice_message(admitted.text))
            return
        async with self.d.leases.holding(msg.identity):
            await self._answer_and_post(msg, post, client)

    async def resume(self, client: Client, message_id: str, work: str, lease: Lease) -> None:
        """Answer a post whose worker stopped before replying (``adapters/server/leases.py``)."""
        doc = json.loads(work)
        post = SlackPost(**doc["post"])
        if lease.attempts > MAX_ATTEMPTS:
            gave_up = await self.io.run(self.d.bot.gave_up, "slack")
            await self.post_reply(client, post, notice_message(gave_up.text))
            return
        policy = self.d.policies.for_channel(post.channel)
        msg = to_incoming(post, bot_user_id=str(doc.get("bot_user") or ""), scope=policy.scope,
                          voice=policy.voice)
        await self._answer_and_post(msg, post, client)

    async def _answer_and_post(self, msg: Incoming, post: SlackPost, client: Client) -> None:
        reply = await self._answer_with_signal(msg, post, client)
        message: SlackMessage
        if reply.answer is not None:
            message = answer_message(reply.answer, answer_id=reply.answer_id)
        else:
            message = notice_message(reply.text)
        await self.post_reply(client, post, message)

    async def _answer_with_signal(self, msg: Incoming, post: SlackPost, client: Client) -> Reply:
        """Answer in the pool; if it takes a while, show that we are on it (a status in assistant
        threads, else an ``eyes`` reaction, removed once the answer is posted)."""
        answering = answer_in_pool(self.d.pool, self.d.bot, msg, self.io, error_text=s.ERROR)
        task = asyncio.ensure_future(answering)
        stop: Stop | None = None
        done, _ = await asyncio.wait({task}, timeout=self.d.working_signal_after_s)
        if not done:
            stop = await self._start_signal(post, client)
        reply = await task
        if stop is not None:
            self.io.spawn(stop())
        return reply

    async def _start_signal(self, post: SlackPost, client: Client) -> Stop | None:
        if post.is_dm and post.thread_ts:
            try:
                await client.assistant_threads_setStatus(channel_id=post.channel, thread_ts=post.thread_ts,
                                                         status=s.WORKING_STATUS)
                return None  # posting the reply clears the status
            except SlackApiError as exc:
                log.debug("setStatus failed (%s); using a reaction", exc.response.get("error"))
        if await self.call(client.reactions_add(channel=post.channel, timestamp=post.ts, name="eyes"),
                           "working reaction") is None:
            return None

        async def stop() -> None:
            await self.call(client.reactions_remove(channel=post.channel, timestamp=post.ts, name="eyes"),
                            "working reaction removal")

        return stop

    async def _notice_once(self, post: SlackPost, client: Client, text: str, *, bot_user: str) -> None:
        """A short reply that is not an answer (help, too long, channel off): once per post."""
        msg = to_incoming(post, bot_user_id=bot_user, scope=None)
        if await self.io.run(self.d.bot.store.claim_message, msg.identity):
            await self.post_reply(client, post, notice_message(text))

    async def _help_text(self, policy: ChannelPolicy) -> str:
        examples = await self.suggestions(policy)
        return "\n".join([s.HELP, *(f"• {x.message}" for x in examples)])

    async def suggestions(self, policy: ChannelPolicy) -> list[Suggestion]:
        """Up to four questions to try: the most asked-about articles, else the help centre's own."""
        def pick() -> list[Suggestion]:
            return suggested_questions(self.d.bot.store, self.d.kb.articles(policy.scope), now=time.time())

        try:
            return await self.io.run(pick)
        except Exception:
            log.exception("could not pick suggested questions")
            return []

    # -- the DM as an AI-app surface ---------------------------------------------------------------------

    async def on_home_opened(self, event: Body, context: Context, client: Client) -> None:
        """The app's DM opened in the Messages tab: welcome a user once, with suggested questions."""
        channel, user = event.get("channel"), event.get("user")
        if event.get("tab") != "messages" or not isinstance(channel, str) or not isinstance(user, str):
            return
        first = await self.io.run(self.d.bot.store.swap_marker, f"welcome:{context.team_id}:{user}", "1")
        if first is not None:
            return
        message = welcome_message(await self.suggestions(self.d.policies.for_channel(channel)))
        await self.call(client.chat_postMessage(channel=channel, **message.payload()), "welcome")

    async def on_assistant_thread_started(self, event: Body, client: Client) -> None:
        thread = event.get("assistant_thread") or {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not (isinstance(channel, str) and isinstance(thread_ts, str)):
            return
        suggestions = await self.suggestions(self.d.policies.for_channel(channel))
        prompts = [{"title": x.title, "message": x.message} for x in suggestions]
        if prompts:
            await self.call(client.assistant_threads_setSuggestedPrompts(
                channel_id=channel, thread_ts=thread_ts, prompts=prompts, title=s.TRY_ONE), "prompts")

    async def on_suggestion(
        self, ack: Ack, body: Body, action: Body, context: Context, client: Client
    ) -> None:
        """A suggested question clicked in the welcome message: asked as if typed in the DM."""
        await ack()
        user, channel = user_and_channel(body)
        question = str(action.get("value", ""))[:MAX_QUESTION_CHARS]
        if not (user and channel and question):
            return
        asked = notice_message(s.YOU_ASKED.format(question=escape(question)), mrkdwn=True)
        posted = await self.call(client.chat_postMessage(channel=channel, **asked.payload()), "suggestion")
        ts = str(posted.get("ts")) if posted is not None else str(body.get("action_ts") or time.time())
        post = SlackPost(team=context.team_id or "", channel=channel, channel_type="im", user=user, ts=ts,
                         thread_ts=None, text=question)
        policy = self.d.policies.for_channel(channel)
        await self.answer(post, client, policy, bot_user=context.bot_user_id or "")


def welcome_message(suggestions: list[Suggestion]) -> SlackMessage:
    """The first message in a user's DM with the app: what it does, and questions to try."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": s.WELCOME}}]
    if suggestions:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": s.TRY_ONE}]})
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": f"{SUGGEST_ACTION}:{i}", "value": x.message[:2000],
             "text": {"type": "plain_text", "text": x.title[:75]}} for i, x in enumerate(suggestions)]})
    return SlackMessage(text=s.WELCOME, blocks=tuple(blocks))
