"""A local stand-in for Microsoft's Bot Connector (the ``serviceUrl`` Teams hands the bot) and for the
Bot Framework's OpenID metadata, plus tokens signed the way the Bot Framework signs them and activities
shaped the way Teams sends them. Teams itself is out of reach in tests; our real server and the real
botframework-connector client talk to this instead.

One server answers both parts:

- ``POST /v3/conversations/{id}/activities`` (send), ``POST …/activities/{activityId}`` (reply) and
  ``PUT …/activities/{activityId}`` (update): recorded as ``Sent``, answered ``{"id": …}``;
- ``GET /openid/.well-known/openidconfiguration`` and ``GET /openid/keys``: the metadata and the JWKS
  with the public half of an RSA key made for this connector, which ``mint_token`` signs with.

The SDK (``JwtTokenExtractor``) caches OpenID metadata and keys per metadata URL in a class-level dict for
a day; the URL holds the port, and a port can come round again, so the server drops its URL from that
cache when it starts and when it stops (in this process only; a server under test in a subprocess has a
cache of its own, which lives as long as that process)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.background import BackgroundServer
from tests.fakes.slack_api import Response

ISSUER = "https://api.botframework.com"
OPENID_PATH = "/openid/.well-known/openidconfiguration"
KEYS_PATH = "/openid/keys"

# -- ids: unique in this process, numeric like Teams' message ids (milliseconds since the epoch) -------

_id_lock = threading.Lock()
_last_id = 0


def new_id() -> str:
    """A fresh activity id: the current time in milliseconds, bumped so no two are alike."""
    global _last_id
    with _id_lock:
        _last_id = max(_last_id + 1, int(time.time() * 1000))
        return str(_last_id)


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA private key (for a token signed with a key the metadata doesn't publish)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Sent:
    conversation_id: str  # the raw id, decoded from the path ("19:abc@thread.tacv2;messageid=1")
    reply_to: str | None  # the {activityId} path segment; None for POST /v3/conversations/{id}/activities
    activity: dict[str, Any]  # the JSON body
    auth: str  # the Authorization header ("" if none)
    at: float  # time.time() on receipt
    id: str  # the id we answered with
    method: str = "POST"  # "PUT" for an update


@dataclass
class FakeConnector:
    """Records what the bot sends to the Bot Connector; publishes the OpenID metadata and signing key."""

    sent: list[Sent] = field(default_factory=list)
    port: int = 0
    kid: str = field(default_factory=lambda: f"fake-{uuid.uuid4().hex[:16]}")
    private_key: rsa.RSAPrivateKey = field(default_factory=new_rsa_key, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cond: threading.Condition = field(init=False, repr=False)
    _requests: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def __post_init__(self) -> None:
        self._cond = threading.Condition(self._lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/"  # with the trailing slash, as Teams sends serviceUrl

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}{OPENID_PATH}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.base_url}{KEYS_PATH}"

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": _b64url_uint(numbers.n),
                          "e": _b64url_uint(numbers.e), "endorsements": ["msteams"]}]}

    def openid_configuration(self) -> dict[str, Any]:
        return {"issuer": ISSUER, "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self.jwks_uri, "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"]}

    # -- reading what was sent -------------------------------------------------------------------------

    @staticmethod
    def _match(s: Sent, type: str | None, conversation_id: str | None) -> bool:
        return ((type is None or s.activity.get("type") == type)
                and (conversation_id is None or s.conversation_id == conversation_id))

    def of(self, *, type: str | None = None, conversation_id: str | None = None) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if self._match(s, type, conversation_id)]

    def wait_for(self, count: int = 1, timeout: float = 15.0, *, type: str | None = None,
                 conversation_id: str | None = None) -> list[Sent]:
        """The matching activities once there are ``count`` of them; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [s for s in self.sent if self._match(s, type, conversation_id)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(s.method, s.conversation_id, s.reply_to, s.activity.get("type"),
                             str(s.activity.get("text") or "")[:60]) for s in self.sent]
                    raise AssertionError(
                        f"{count} x activity (type={type!r}, conversation_id={conversation_id!r}) "
                        f"not seen in {timeout}s; {len(found)} matched; sent: {seen}")
                self._cond.wait(left)

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()

    # -- the server ------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # The raw path, split before decoding, so that an encoded '/' in an id can't shift the segments.
        raw_path = request.raw_path.split("?", 1)[0]
        parts = [urllib.parse.unquote(p) for p in raw_path.split("/") if p]
        if request.method == "GET" and raw_path == OPENID_PATH:
            return web.json_response(self.openid_configuration())
        if request.method == "GET" and raw_path == KEYS_PATH:
            return web.json_response(self.jwks())
        if len(parts) in (4, 5) and parts[:2] == ["v3", "conversations"] and parts[3] == "activities":
            reply_to = parts[4] if len(parts) == 5 else None
            if request.method == "POST" or (request.method == "PUT" and reply_to is not None):
                return await self._record(request, parts[2], reply_to)
        return web.json_response({"error": {"code": "NotFound", "message": f"no route {raw_path}"}},
                                 status=404)

    async def _record(self, request: web.Request, conversation_id: str, reply_to: str | None) -> web.Response:
        raw = await request.read()
        try:
            activity = json.loads(raw or b"{}")
        except ValueError:
            return web.json_response({"error": {"code": "BadArgument", "message": "body is not JSON"}},
                                     status=400)
        if not isinstance(activity, dict):
            return web.json_response({"error": {"code": "BadArgument", "message": "body is not an object"}},
                                     status=400)
        answer = reply_to if request.method == "PUT" else new_id()
        with self._cond:
            self.sent.append(Sent(conversation_id, reply_to, activity, request.headers.get("Authorization", ""),
                                  time.time(), answer, request.method))
            self._cond.notify_all()
        return web.json_response({"id": answer})


def _forget_metadata(url: str) -> None:
    """Drop ``url`` from botframework-connector's class-level OpenID metadata cache, if it is loaded."""
    try:
        from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
    except ImportError:  # pragma: no cover - the SDK is a dependency of the Teams adapter
        return
    JwtTokenExtractor.metadataCache.pop(url, None)


class FakeConnectorServer:
    """Runs a ``FakeConnector`` on its own event loop in a thread, on a free port."""

    def __init__(self, port: int = 0) -> None:
        self.connector = FakeConnector()
        self._server = BackgroundServer(self.connector.handle, port)

    def start(self) -> FakeConnector:
        self.connector.port = self._server.start()
        _forget_metadata(self.connector.metadata_url)
        return self.connector

    def stop(self) -> None:
        self._server.stop()
        _forget_metadata(self.connector.metadata_url)

    def __enter__(self) -> FakeConnector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- tokens, as the Bot Framework signs them ------------------------------------------------------------


def mint_token(connector: FakeConnector | None, *, app_id: str, service_url: str, expires_in: float = 3600,
               issuer: str = ISSUER, private_key: Any = None, kid: str | None = None) -> str:
    """An RS256 JWT as the Bot Framework sends to a bot: signed with the connector's key (or
    ``private_key``), ``kid`` the connector's (or ``kid``), for audience ``app_id`` and ``service_url``.
    ``expires_in`` may be negative (mind the SDK's 5-minute clock tolerance)."""
    key = private_key if private_key is not None else (connector.private_key if connector else None)
    key_id = kid if kid is not None else (connector.kid if connector else None)
    if key is None or key_id is None:
        raise ValueError("mint_token needs a connector, or both private_key and kid")
    now = time.time()
    claims = {"iss": issuer, "aud": app_id, "serviceurl": service_url, "nbf": int(now - 60),
              "iat": int(now - 60), "exp": int(now + expires_in)}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id, "typ": "JWT"})


# -- activities, as Teams sends them ---------------------------------------------------------------------


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _conversation(conversation_id: str, conversation_type: str, tenant_id: str) -> dict[str, Any]:
    conversation: dict[str, Any] = {"id": conversation_id, "conversationType": conversation_type,
                                    "tenantId": tenant_id}
    if conversation_type != "personal":
        conversation["isGroup"] = True
    return conversation


def message_activity(text: str, *, service_url: str, conversation_id: str, conversation_type: str = "personal",
                     user_id: str = "29:user-1", aad_object_id: str = "aad-user-1", user_name: str = "Avery",
                     activity_id: str | None = None, bot_id: str = "28:bot", bot_name: str = "supportbot",
                     mention_bot: bool = False, tenant_id: str = "tenant-1", team_id: str | None = None,
                     channel_id: str | None = None, value: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``message`` activity from a user (``value``: an Adaptive Card submit)."""
    channel_data: dict[str, Any] = {"tenant": {"id": tenant_id}}
    if team_id is not None:
        channel_data["team"] = {"id": team_id}
    if channel_id is not None:
        channel_data["channel"] = {"id": channel_id}
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or new_id(),
        "timestamp": _timestamp(),
        "localTimestamp": _timestamp(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user_id, "name": user_name, "aadObjectId": aad_object_id},
        "recipient": {"id": bot_id, "name": bot_name},
        "conversation": _conversation(conversation_id, conversation_type, tenant_id),
        "text": text,
        "textFormat": "plain",
        "locale": "en-US",
        "entities": [],
        "channelData": channel_data,
    }
    if mention_bot:
        mention = f"<at>{bot_name}</at>"
        activity["text"] = f"{mention} {text}"
        activity["entities"].append({"type": "mention", "text": mention,
                                     "mentioned": {"id": bot_id, "name": bot_name}})
    if value is not None:
        activity["value"] = value
    return activity


def feedback_invoke(*, reaction: str, reply_to_id: str, service_url: str, conversation_id: str,
                    comment: str | None = None, user_id: str = "29:user-1", aad_object_id: str = "aad-user-1",
                    bot_id: str = "28:bot", conversation_type: str = "personal",
                    tenant_id: str = "tenant-1") -> dict[str, Any]:
    """The ``message/submitAction`` invoke Teams sends for a thumbs up/down (``reaction``: like|dislike)."""
    return {
        "type": "invoke",
        "name": "message/submitAction",
        "id": new_id(),
        "timestamp": _timestamp(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user_id, "aadObjectId": aad_object_id},
        "recipient": {"id": bot_id},
        "conversation": _conversation(conversation_id, conversation_type, tenant_id),
        "replyToId": reply_to_id,
        "locale": "en-US",
        "channelData": {"tenant": {"id": tenant_id}},
        "value": {"actionName": "feedback",
                  "actionValue": {"reaction": reaction,
                                  "feedback": json.dumps({"feedbackText": comment}) if comment else ""}},
    }


def post_activity(url: str, activity: dict[str, Any] | bytes, *, token: str | None = None,
                  timeout: float = 30) -> Response:
    """POST an activity (a dict as JSON, bytes as they are) to our server; never raises on 4xx/5xx."""
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, resp.read(), time.perf_counter() - t0)
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, exc.read(), time.perf_counter() - t0)
