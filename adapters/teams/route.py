"""``POST /api/messages``: a Teams activity in, authenticated before anything else is done with it,
one turn run; 400 for a body that is not an activity, 401 for any token problem (platform rules,
"Microsoft Teams"), never a 500 for bad input."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.teams.botframework import BotFrameworkTransport
from adapters.teams.handler import TeamsHandler
from adapters.teams.port import Unauthorized

log = logging.getLogger(__name__)


def activity_problem(body: Any) -> str | None:
    """Why a parsed body is not an activity we can answer, or None."""
    if not isinstance(body, dict):
        return "not a JSON object"
    if not isinstance(body.get("type"), str) or not body["type"]:
        return "no activity type"
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
        return "no conversation id"
    if not isinstance(body.get("serviceUrl"), str) or not body["serviceUrl"].startswith(("https://", "http://")):
        return "no serviceUrl"
    if body["type"] in ("message", "invoke") and not isinstance(body.get("from"), dict):
        return "no sender"
    return None


@dataclass
class TeamsRoute:
    transport: BotFrameworkTransport
    handler: TeamsHandler

    async def __call__(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            return web.json_response({"error": "malformed JSON"}, status=400)
        problem = activity_problem(body)
        if problem:
            log.info("refused a Teams request: %s", problem)
            return web.json_response({"error": problem}, status=400)
        try:
            identity = await self.transport.authenticate(body, request.headers.get("Authorization", ""))
        except Unauthorized as exc:
            log.info("refused a Teams request with a bad token (%s)", exc)
            return web.json_response({"error": "unauthorized"}, status=401)
        result = await self.transport.run_turn(identity, body, self.handler.on_turn)
        if result is None:
            return web.Response(status=200)
        status, payload = result
        if payload is None:
            return web.Response(status=status)
        return web.json_response(payload, status=status)
