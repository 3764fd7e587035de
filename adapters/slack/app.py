"""The Slack surface: a slack-bolt ``AsyncApp`` with request verification on (platform rules, "Slack"),
its Web API client, and the listeners: conversations, feedback clicks and `/kb`."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.kb_admin import KbCommand
from adapters.server.pool import OffLoop
from adapters.slack import strings
from adapters.slack.base import Ack, SlackDeps
from adapters.slack.blocks import ASK_PERSON_ACTION, FEEDBACK_ACTION, RESOLVED_ACTION
from adapters.slack.conversations import SUGGEST_ACTION, Conversations
from adapters.slack.feedback import Feedback

__all__ = ["SlackDeps", "SlackSurface", "build_slack_app", "configure_client"]


def configure_client(client: AsyncWebClient, api_url: str,
                     session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client Bolt made: base URL from the settings, 429s retried after Retry-After, and
    one HTTP session whose connections are kept alive (without it every call opens a new connection).
    Bolt's own client is configured, not replaced: Bolt reads SLACK_BOT_TOKEN itself and warns when it
    is given a client as well."""
    client.base_url = api_url if api_url.endswith("/") else api_url + "/"
    client.session = session
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


class SlackSurface:
    """Every listener of the app, and what they hold (threads, background tasks) until shutdown."""

    def __init__(self, deps: SlackDeps) -> None:
        self._io = OffLoop(workers=4, name="slack-io")
        self.conversations = Conversations(deps, self._io)
        self.feedback = Feedback(deps, self._io)
        self.kb_command = KbCommand(kb=deps.kb, admins=deps.admins, helpcentre_dir=deps.helpcentre_dir,
                                    strings=strings, on_reload=deps.on_reload)

    def register(self, app: AsyncApp) -> None:
        c, f = self.conversations, self.feedback
        app.event("app_mention")(c.on_mention)
        app.event("message")(c.on_message)
        app.event("app_home_opened")(c.on_home_opened)
        app.event("assistant_thread_started")(c.on_assistant_thread_started)
        app.event(re.compile(".*"))(self.on_other_event)  # anything else: 200, nothing posted
        app.action(FEEDBACK_ACTION)(f.on_feedback)
        app.action(ASK_PERSON_ACTION)(f.on_ask_person)
        app.action(RESOLVED_ACTION)(f.on_resolved)
        app.action(re.compile(rf"^{SUGGEST_ACTION}(:\d+)?$"))(c.on_suggestion)
        app.action(re.compile(".*"))(self.on_other_action)
        app.command("/kb")(self.on_kb)

    async def on_other_event(self) -> None:
        return None

    async def on_other_action(self, ack: Ack) -> None:
        await ack()

    async def on_kb(self, ack: Ack, command: dict[str, Any], respond: Ack) -> None:
        async def acknowledge(text: str = "") -> Any:
            return await (ack(text=text, response_type="ephemeral") if text else ack())

        async def reply(text: str) -> Any:
            return await respond(text=text, response_type="ephemeral")

        await self.kb_command(str(command.get("text") or ""), str(command.get("user_id") or ""),
                              acknowledge, reply)

    def shutdown(self) -> None:
        self.kb_command.shutdown()
        self._io.shutdown()


def build_slack_app(deps: SlackDeps, *, token: str, signing_secret: str, api_url: str,
                    session: aiohttp.ClientSession | None = None) -> tuple[AsyncApp, SlackSurface]:
    """The Bolt app, acknowledging before its listeners answer, with every listener registered."""
    app = AsyncApp(
        token=token,
        signing_secret=signing_secret,
        request_verification_enabled=True,
        process_before_response=False,  # ack first, answer after
    )
    configure_client(app.client, api_url, session)
    surface = SlackSurface(deps)
    surface.register(app)
    return app, surface
