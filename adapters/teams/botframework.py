"""botbuilder (Bot Framework SDK for Python) behind our small port: the only module that imports it.

botbuilder-python is archived (successor: the Microsoft 365 Agents SDK). Everything else in
``adapters/teams`` works on plain activity dicts through ``TeamsTurn`` and ``Transport``
(``adapters/teams/port.py``), so a swap rewrites this file alone.

Authentication is never off by accident (platform rules, "Microsoft Teams"): botbuilder disables it
when the app id is empty, so ``BotFrameworkTransport`` refuses an empty app id unless ``no_auth`` is
asked for explicitly. Every failure to authenticate is ``Unauthorized`` (a 401), whatever the SDK or
the JWT library raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, CallerIdConstants, ConversationReference, Entity
from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants

from adapters.teams.port import TeamsTurn, Unauthorized

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Config:
    """The attribute names ``ConfigurationBotFrameworkAuthentication`` reads."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TENANTID: str | None
    APP_TYPE: str
    # Left None, the SDK uses the public cloud's constants. Set one and it takes every one of them as
    # given (None included), so ``_config`` fills in the public cloud's values beside a new metadata URL.
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None = None
    TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: str | None = None
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str | None = None
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str | None = None
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None = None
    OAUTH_URL: str | None = None
    CALLER_ID: str | None = None


def _config(app_id: str, app_password: str, tenant_id: str | None, metadata_url: str | None) -> _Config:
    app_type = "SingleTenant" if tenant_id else "MultiTenant"
    if not metadata_url:
        return _Config(APP_ID=app_id, APP_PASSWORD=app_password, APP_TENANTID=tenant_id, APP_TYPE=app_type)
    c = AuthenticationConstants
    login = (c.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + tenant_id if tenant_id
             else c.TO_CHANNEL_FROM_BOT_LOGIN_URL)
    return _Config(APP_ID=app_id, APP_PASSWORD=app_password, APP_TENANTID=tenant_id, APP_TYPE=app_type,
                   TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=metadata_url,
                   TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=metadata_url, TO_CHANNEL_FROM_BOT_LOGIN_URL=login,
                   TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=c.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
                   TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=c.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER, OAUTH_URL=c.OAUTH_URL,
                   CALLER_ID=CallerIdConstants.public_azure_channel)


class _Entity(Entity):
    """An entity sent as given: botbuilder's ``Entity`` keeps only ``type`` and would drop Teams' AI
    label and citations (``@type``, ``additionalType``, ``citation``) on the way out."""

    _attribute_map = {"type": {"key": "type", "type": "str"},
                      "additional_properties": {"key": "", "type": "{object}"}}


def to_activity(doc: dict[str, Any]) -> Activity:
    """Our activity dict as botbuilder's ``Activity``, every entity field kept."""
    activity = Activity().deserialize(doc)
    if doc.get("entities"):
        activity.entities = [_Entity(type=e.get("type"),
                                     additional_properties={k: v for k, v in e.items() if k != "type"})
                             for e in doc["entities"]]
    return activity


class _Turn(TeamsTurn):
    """One botbuilder ``TurnContext`` seen through our port."""

    def __init__(self, context: TurnContext, body: dict[str, Any]) -> None:
        self._context = context
        self.activity = body

    async def send(self, activity: dict[str, Any]) -> str:
        sent = await self._context.send_activity(to_activity(activity))
        return str(sent.id) if sent is not None and sent.id else ""

    async def respond_invoke(self, status: int = 200, body: Any = None) -> None:
        await self._context.send_activity(
            Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=status, body=body)))

    def reference(self) -> dict[str, Any]:
        ref = TurnContext.get_conversation_reference(self._context.activity)
        return dict(ref.serialize())


class BotFrameworkTransport:
    """Authenticates incoming activities, runs turns and sends proactive messages with botbuilder."""

    def __init__(self, *, app_id: str, app_password: str = "", tenant_id: str | None = None,
                 no_auth: bool = False, openid_metadata_url: str | None = None) -> None:
        if not app_id and not no_auth:
            raise ValueError("an empty Teams app id turns Bot Framework authentication off: set "
                             "TEAMS_APP_ID, or SUPPORTBOT_TEAMS_DEV_NO_AUTH=1 for development only")
        self.app_id = app_id
        self.no_auth = not app_id
        self.auth = ConfigurationBotFrameworkAuthentication(
            _config(app_id, app_password, tenant_id, openid_metadata_url))
        self.adapter = CloudAdapter(self.auth)

    async def authenticate(self, body: dict[str, Any], auth_header: str) -> AuthenticateRequestResult:
        """The request's identity, or ``Unauthorized``: no token, a malformed, expired or wrongly signed
        one, the wrong audience or service URL all end here, never as a 500."""
        try:
            return await self.auth.authenticate_request(Activity().deserialize(body), auth_header)
        except Exception as exc:  # the SDK raises PermissionError, jwt errors, KeyError…: all are a 401
            raise Unauthorized(type(exc).__name__) from exc

    async def run_turn(self, identity: AuthenticateRequestResult, body: dict[str, Any],
                       logic: Callable[[TeamsTurn], Awaitable[None]]) -> tuple[int, Any] | None:
        """Run ``logic`` for an authenticated activity; the invoke response (status, body) if any."""

        async def on_turn(context: TurnContext) -> None:
            await logic(_Turn(context, body))

        result = await self.adapter.process_activity(identity, Activity().deserialize(body), on_turn)
        if isinstance(result, InvokeResponse):
            return int(result.status), result.body
        return None

    async def send_proactive(self, reference: dict[str, Any], activities: list[dict[str, Any]]) -> list[str]:
        """Send into a conversation outside a turn (a slow answer, a reload's diff, an escalation)."""
        ids: list[str] = []

        async def on_turn(context: TurnContext) -> None:
            # replies address the message the reference names (none: a new message in the conversation),
            # not the SDK's made-up continuation activity
            context.activity.id = reference.get("activityId")
            for activity in activities:
                sent = await context.send_activity(to_activity(activity))
                ids.append(str(sent.id) if sent is not None and sent.id else "")

        await self.adapter.continue_conversation(ConversationReference().deserialize(reference), on_turn,
                                                 bot_app_id=self.app_id)
        return ids
