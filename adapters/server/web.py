"""The one aiohttp application: Slack at ``POST /slack/events`` (events, interactivity and slash
commands), Teams at ``POST /api/messages`` (``adapters/teams/route.py``), ``GET /healthz`` and
``GET /metrics`` (Prometheus).

The Slack route refuses a request whose signature or timestamp is wrong with 401 before reading it
(platform rules, "Slack"), a body it cannot parse with 400, and hands the rest to Bolt, which
verifies the signature again (its middleware stays on) and acknowledges before the answer is made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.server.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; larger bodies get 413
MAX_CLOCK_SKEW_S = 5 * 60


@dataclass
class SlackRoute:
    app: AsyncApp
    signing_secret: str
    clock: Callable[[], float] = time.time

    async def __call__(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not valid_signature(self.signing_secret, raw, request.headers, now=self.clock()):
            log.info("refused a Slack request with a bad signature or timestamp")
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            body = raw.decode("utf-8")
            _check_parses(body, request.content_type)
        except (UnicodeDecodeError, ValueError) as exc:
            log.info("refused a malformed Slack request: %s", type(exc).__name__)
            return web.json_response({"error": "malformed body"}, status=400)
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string,
                                        headers=dict(request.headers))  # type: ignore[arg-type]
        bolt_response = await self.app.async_dispatch(bolt_request)
        if bolt_response.status >= 500:  # a listener failed before acknowledging: Slack will retry
            log.warning("Bolt answered %d", bolt_response.status)
        return await to_aiohttp_response(bolt_response)


def valid_signature(secret: str, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
    """Slack's v0 scheme over the raw bytes: HMAC-SHA256 of ``v0:{timestamp}:{body}``, and a timestamp
    within 5 minutes (platform rules, "Slack"). Bytes, so that a body that is not UTF-8 is refused
    cleanly (slack_sdk's verifier decodes it first and raises)."""
    timestamp, signature = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    if not timestamp.isdigit() or not signature or abs(now - int(timestamp)) > MAX_CLOCK_SKEW_S:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v0=" + digest, signature)


def _check_parses(body: str, content_type: str) -> None:
    """Raise ValueError unless the body is the JSON or form (with a JSON ``payload``) Slack sends."""
    if content_type == "application/json" or body.startswith("{"):
        doc: Any = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        return
    form = dict(parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body)))
    if "payload" in form and not isinstance(json.loads(form["payload"]), dict):
        raise ValueError("payload is not a JSON object")
    if not form:
        raise ValueError("empty body")


Health = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
HEALTH: web.AppKey[Health] = web.AppKey("health", Callable)  # type: ignore[arg-type]
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


async def healthz(request: web.Request) -> web.Response:
    """200 and the parts' states while everything required is up; 503 otherwise (readiness probes)."""
    health = request.app.get(HEALTH)
    if health is None:
        return web.json_response({"ok": True})
    status, doc = await health()
    return web.json_response(doc, status=status)


async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": content_type})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_web_app(*, slack: SlackRoute | None, teams: Handler | None = None, health: Health | None = None,
                  metrics_: Metrics | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    if health is not None:
        app[HEALTH] = health
    app.router.add_get("/healthz", healthz)
    if metrics_ is not None:
        app[METRICS] = metrics_
        app.router.add_get("/metrics", metrics)
    if slack is not None:
        app.router.add_post("/slack/events", slack)
    if teams is not None:
        app.router.add_post("/api/messages", teams)
    return app
