"""Pure converters from Slack's events to the core's values (house style, conventions 1).

Which posts are questions at all (platform rules, "Slack": no bots, no edits, deletions or joins),
what the question's text is once Slack's markup is taken out, which thread a reply belongs in, and
the message identity (team + channel + ts) that de-duplicates retries and double deliveries.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from bot.conversation import Incoming
from bot.store import ThreadKey
from knowledge.retrieval import Scope

DM_THREAD = "dm"  # the conversation of a DM's top level (not a thread)

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_GROUP = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


@dataclass(frozen=True)
class SlackPost:
    """A user's message as far as answering it goes."""

    team: str
    channel: str
    channel_type: str  # "channel", "group", "im", "mpim"
    user: str
    ts: str
    thread_ts: str | None  # set when the post is a reply in a thread
    text: str  # raw Slack markup

    @property
    def is_dm(self) -> bool:
        return self.channel_type == "im"

    @property
    def message_id(self) -> str:
        """The post's identity, the same whichever event type delivered it."""
        return f"{self.team}:{self.channel}:{self.ts}"

    @property
    def reply_thread(self) -> str | None:
        """Where the answer goes: channels always in a thread; a DM's top level stays top level."""
        if self.is_dm:
            return self.thread_ts
        return self.thread_ts or self.ts

    @property
    def key(self) -> ThreadKey:
        """The conversation whose history a follow-up is answered with."""
        return ThreadKey("slack", self.team, self.channel, self.reply_thread or DM_THREAD)


def post_from_event(event: dict[str, Any], team_id: str) -> SlackPost | None:
    """The post behind a ``message`` or ``app_mention`` event; None for anything that is not a user's
    new message: bot posts (ours too), edits, deletions, joins and every other subtype."""
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str) and user and channel):
        return None
    text = event.get("text")
    thread_ts = event.get("thread_ts")
    return SlackPost(
        team=str(event.get("team") or team_id),
        channel=channel,
        channel_type=str(event.get("channel_type") or ("im" if channel.startswith("D") else "channel")),
        user=user,
        ts=ts,
        thread_ts=thread_ts if isinstance(thread_ts, str) and thread_ts != ts else None,
        text=text if isinstance(text, str) else "",
    )


def mentions(text: str, user_id: str) -> bool:
    return any(m.group(1) == user_id for m in _MENTION.finditer(text))


def question_text(text: str, bot_user_id: str) -> str:
    """The question as plain text: our mention dropped, other mentions, channels and links as words."""

    def person(m: re.Match[str]) -> str:
        return "" if m.group(1) == bot_user_id else "@" + (m.group(2) or m.group(1))

    text = _MENTION.sub(person, text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _GROUP.sub(lambda m: m.group(1) or "", text)
    text = _SPECIAL.sub("", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return " ".join(html.unescape(text).split())


def to_incoming(post: SlackPost, *, bot_user_id: str, scope: Scope | None, voice: str = "") -> Incoming:
    return Incoming(key=post.key, message_id=post.message_id, user_id=post.user,
                    text=question_text(post.text, bot_user_id), scope=scope, voice=voice)
