"""A local HTTP server that answers like Slack's Web API and records every call, plus requests signed
the way Slack signs them (v0 HMAC-SHA256). Slack itself is out of reach in tests; our real server and
the real slack_sdk client talk to this instead (``SLACK_API_URL``)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.background import BackgroundServer

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0TEST"


@dataclass(frozen=True)
class Call:
    method: str  # "chat.postMessage", or the path for anything else ("/hooks/kb/1")
    params: dict[str, Any]
    at: float  # time.time() when received


@dataclass
class FakeSlack:
    """Answers ``auth.test``, ``chat.*``, ``reactions.*``, ``assistant.threads.*`` and response URLs."""

    calls: list[Call] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)  # method -> Slack error code to answer with
    rate_limit_once: set[str] = field(default_factory=set)  # methods answered 429 once
    port: int = 0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cond: threading.Condition = field(init=False)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # what came back over Socket Mode
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self._cond = threading.Condition(self._lock)

    # -- Socket Mode: apps.connections.open hands out ws://…/link; envelopes go down, acks come up ---------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._loop = asyncio.get_running_loop()
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TEST"}})
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                with self._cond:
                    self.socket_acks.append(json.loads(msg.data))
                    self._cond.notify_all()
        self._sockets.remove(ws)
        return ws

    def connected(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self._sockets and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(self._sockets)

    def push(self, envelope: dict[str, Any]) -> None:
        """Send an envelope down the open Socket Mode connection, as Slack does."""
        assert self._loop is not None and self._sockets, "no Socket Mode connection"
        asyncio.run_coroutine_threadsafe(self._sockets[-1].send_json(envelope), self._loop).result(10)

    def wait_for_ack(self, envelope_id: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ack in self.socket_acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id}: {self.socket_acks}")
                self._cond.wait(left)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    # -- reading what was sent -------------------------------------------------------------------------

    def of(self, method: str, **match: Any) -> list[Call]:
        with self._lock:
            return [c for c in self.calls
                    if c.method == method and all(c.params.get(k) == v for k, v in match.items())]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0, **match: Any) -> list[Call]:
        """The matching calls once there are ``count`` of them; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls
                         if c.method == method and all(c.params.get(k) == v for k, v in match.items())]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"{count} x {method} {match} not seen in {timeout}s; calls: {seen}")
                self._cond.wait(left)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- the server ------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/_calls":  # for a load generator in another process
            with self._lock:
                calls = [{"method": c.method, "at": c.at, "channel": c.params.get("channel"),
                          "thread_ts": c.params.get("thread_ts"), "text": c.params.get("text")}
                         for c in self.calls]
            return web.json_response(calls)
        if request.path == "/link":
            return await self._socket(request)  # type: ignore[return-value]
        raw = await request.read()
        params: dict[str, Any]
        if request.content_type == "application/json":
            params = json.loads(raw or b"{}")
        else:
            params = dict(urllib.parse.parse_qsl(raw.decode()))
        params = {**dict(request.query), **params}  # some methods send their arguments in the query
        for key in ("blocks", "prompts", "attachments"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        path = request.path
        method = path[len("/api/"):] if path.startswith("/api/") else path
        with self._cond:
            if method in self.rate_limit_once:
                self.rate_limit_once.discard(method)
                self.calls.append(Call(method + " (429)", params, time.time()))
                self._cond.notify_all()
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": "1"})
            self.calls.append(Call(method, params, time.time()))
            self._cond.notify_all()
            error = self.fail.get(method)
            ts = f"{int(time.time())}.{next(self._ts):06d}"
        if not path.startswith("/api/"):
            return web.Response(text="ok")
        if error:
            return web.json_response({"ok": False, "error": error})
        body: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            body.update(user_id=BOT_USER, bot_id=BOT_ID, team_id=TEAM, user="supportbot", team="Test",
                        url="https://test.slack.com/")
        elif method in ("chat.postMessage", "chat.update"):
            body.update(channel=params.get("channel"), ts=params.get("ts") or ts,
                        message={"text": params.get("text"), "ts": ts})
        elif method == "chat.getPermalink":
            body.update(permalink=f"https://test.slack.com/archives/{params.get('channel')}/"
                                  f"p{str(params.get('message_ts', '')).replace('.', '')}")
        elif method == "apps.connections.open":
            body.update(url=f"ws://127.0.0.1:{self.port}/link")
        elif method == "chat.postEphemeral":
            body.update(message_ts=ts)
        return web.json_response(body)


class FakeSlackServer:
    """Runs a ``FakeSlack`` on its own event loop in a thread, on a free port."""

    def __init__(self, port: int = 0) -> None:
        self.slack = FakeSlack()
        self._server = BackgroundServer(self.slack.handle, port)

    def start(self) -> FakeSlack:
        self.slack.port = self._server.start()
        return self.slack

    def stop(self) -> None:
        self._server.stop()


# -- signed requests, as Slack sends them -----------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.body)


def post(url: str, body: bytes, *, content_type: str, secret: str | None, timestamp: int | None = None,
         headers: dict[str, str] | None = None) -> Response:
    """POST ``body`` to our server, signed with ``secret`` (None: unsigned)."""
    h = {"Content-Type": content_type, **(headers or {})}
    if secret is not None:
        ts = int(time.time()) if timestamp is None else timestamp
        h["X-Slack-Request-Timestamp"] = str(ts)
        h["X-Slack-Signature"] = sign(secret, body, ts)
    req = urllib.request.Request(url, data=body, headers=h, method="POST")
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Response(resp.status, resp.read(), time.perf_counter() - t0)
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read(), time.perf_counter() - t0)


def event_body(event: dict[str, Any], *, event_id: str, team: str = TEAM) -> bytes:
    return json.dumps({
        "token": "unused", "team_id": team, "api_app_id": "A0TEST", "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
    }).encode()


def form_body(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def action_body(payload: dict[str, Any]) -> bytes:
    return form_body({"payload": json.dumps(payload)})


def main() -> None:
    """Run the stand-in on its own (``python -m tests.fakes.slack_api PORT``) for a load test: it then
    uses a core of its own; ``GET /_calls`` lists what it recorded."""
    import sys

    server = FakeSlackServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    slack = server.start()
    print(f"ready {slack.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
