"""What every Slack listener shares: the process's bot, knowledge base, pool and policy, a small
thread pool for Redis and index reads (never on the event loop), and Web API calls that log, not raise."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.server.leases import Leases
from adapters.server.pool import AnswerPool, OffLoop
from adapters.slack.blocks import SlackMessage
from adapters.slack.convert import SlackPost
from bot.conversation import SupportBot
from bot.policy import Policies
from knowledge.kb import KnowledgeBase

log = logging.getLogger("adapters.slack")

Ack = Callable[..., Awaitable[Any]]
Body = dict[str, Any]
Client = AsyncWebClient
Context = AsyncBoltContext


@dataclass
class SlackDeps:
    """What the Slack listeners share: one bot, one knowledge base, one worker pool per process."""

    bot: SupportBot
    kb: KnowledgeBase
    pool: AnswerPool
    leases: Leases  # this worker's claims on the messages it answers (no question lost)
    policies: Policies = field(default_factory=Policies)
    admins: frozenset[str] = frozenset()
    helpcentre_dir: Path | None = None
    working_signal_after_s: float = 0.5  # answers quicker than this show no "working on it" signal
    on_reload: Callable[[float, bool], None] | None = None  # (seconds, succeeded) of each /kb reload


class Listeners:
    """Base of the listener groups: the shared dependencies and helpers."""

    def __init__(self, deps: SlackDeps, io: OffLoop) -> None:
        self.d = deps
        self.io = io

    async def post_reply(self, client: Client, post: SlackPost, message: SlackMessage) -> Any:
        """The reply to a post: in its thread in channels, where it was in a DM."""
        return await self.call(client.chat_postMessage(channel=post.channel, thread_ts=post.reply_thread,
                                                       **message.payload()), "reply")

    async def call(self, call: Awaitable[Any], what: str) -> Any:
        """A Web API call whose failure is logged, not raised (the listener has nothing else to do)."""
        try:
            return await call
        except SlackApiError as exc:
            log.warning("Slack %s failed: %s", what, exc.response.get("error"))
        except Exception as exc:  # network trouble: logged without the message text
            log.warning("Slack %s failed: %s", what, type(exc).__name__)
        return None



def user_and_channel(body: Body) -> tuple[str, str]:
    """Who clicked, and in which channel, from an interaction payload ("" when absent)."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return (user if isinstance(user, str) else "", channel if isinstance(channel, str) else "")


def thread_of(body: Body) -> str | None:
    """The thread the clicked message is in (its own ts if it starts one)."""
    message = body.get("message") or {}
    ts = message.get("thread_ts") or message.get("ts") or (body.get("container") or {}).get("message_ts")
    return ts if isinstance(ts, str) else None
