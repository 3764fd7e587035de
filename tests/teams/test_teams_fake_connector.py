"""The Bot Connector stand-in (tests/fakes/bot_connector.py) checked against the Bot Framework SDK itself,
without our server: its recorder sees what botframework-connector's client sends, and the SDK's own token
validation accepts what ``mint_token`` signs once pointed at the stand-in's OpenID metadata, and rejects
bad tokens.

What the SDK (botframework-connector 4.17.1) raises, as observed here:

- a token signed with a key the metadata doesn't publish (same kid): ``jwt.InvalidSignatureError``
- a token expired more than the SDK's 5-minute clock tolerance ago: ``jwt.ExpiredSignatureError``
  (one expired a minute ago still passes)
- a token for another app id: ``PermissionError("Invalid AppId passed on token: …")``
- a token whose ``serviceurl`` differs from the activity's ``serviceUrl``: ``PermissionError("Invalid
  'serviceurl' claim")``
- a token from another issuer: ``PermissionError("Identity missing")``
- a token whose kid the metadata doesn't list: ``IndexError`` (``_OpenIdMetadata._find`` indexes ``[0]``)

The parameterized authentication needs ``to_bot_from_channel_token_issuer``: left None, its issuer list is
``[None]`` and every token, even a good one, is refused with ``PermissionError("Identity missing")``."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticationConfiguration,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    PasswordServiceClientCredentialFactory,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from msrest.authentication import BasicTokenAuthentication

from tests.fakes.bot_connector import (
    FakeConnector,
    FakeConnectorServer,
    feedback_invoke,
    message_activity,
    mint_token,
    new_rsa_key,
    post_activity,
)

APP_ID = "00000000-0000-0000-0000-00000000a99"
CHANNEL_THREAD = "19:abc@thread.tacv2;messageid=1700000000000"


@pytest.fixture
def connector() -> Iterator[FakeConnector]:
    server = FakeConnectorServer()
    yield server.start()
    server.stop()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _auth(connector: FakeConnector, *, issuer: str | None = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
          ) -> BotFrameworkAuthentication:
    return BotFrameworkAuthenticationFactory.create(
        channel_service=None,
        validate_authority=True,
        to_channel_from_bot_login_url=None,
        to_channel_from_bot_oauth_scope=None,
        to_bot_from_channel_token_issuer=issuer,
        oauth_url=None,
        to_bot_from_channel_open_id_metadata_url=connector.metadata_url,
        to_bot_from_emulator_open_id_metadata_url=connector.metadata_url,
        caller_id=None,
        credential_factory=PasswordServiceClientCredentialFactory(APP_ID, "secret"),
        auth_configuration=AuthenticationConfiguration(),
        http_client_factory=None,
        logger=None,
    )


def _authenticate(auth: BotFrameworkAuthentication, activity: dict[str, Any], token: str) -> Any:
    return asyncio.run(auth.authenticate_request(Activity().deserialize(activity), "Bearer " + token))


# -- the recorder ----------------------------------------------------------------------------------------


def test_records_a_post_to_an_encoded_conversation_id_with_the_raw_id(connector: FakeConnector) -> None:
    encoded = urllib.parse.quote(CHANNEL_THREAD, safe="")
    assert "%3A" in encoded and "%40" in encoded and "%3B" in encoded and "%3D" in encoded
    body = {"type": "message", "text": "hello"}

    response = post_activity(f"{connector.service_url}v3/conversations/{encoded}/activities", body, token="tok")

    assert response.status == 200
    (sent,) = connector.wait_for(1, timeout=5)
    assert sent.conversation_id == CHANNEL_THREAD
    assert sent.reply_to is None
    assert sent.activity == body
    assert sent.auth == "Bearer tok"
    assert sent.id and response.json() == {"id": sent.id}

    reply = post_activity(f"{connector.service_url}v3/conversations/{encoded}/activities/1700000000000",
                          {"type": "typing"})
    assert reply.status == 200
    second = connector.wait_for(1, type="typing")[0]
    assert (second.conversation_id, second.reply_to, second.auth) == (CHANNEL_THREAD, "1700000000000", "")
    assert reply.json()["id"] == second.id != sent.id
    assert connector.of(conversation_id=CHANNEL_THREAD) == [sent, second]
    assert connector.of(type="message") == [sent]


def test_anything_else_is_404_and_recorded_nowhere(connector: FakeConnector) -> None:
    base = connector.service_url
    assert post_activity(f"{base}v3/conversations", {"type": "message"}).status == 404
    assert post_activity(f"{base}v3/conversations/a%3A1/members", {"type": "message"}).status == 404
    assert post_activity(f"{base}api/messages", {"type": "message"}).status == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        _get_json(f"{base}v3/conversations/a%3A1/activities")
    assert err.value.code == 404
    err.value.close()
    assert connector.sent == []
    with pytest.raises(AssertionError, match="not seen in 0.2s"):
        connector.wait_for(1, timeout=0.2)


def test_the_sdk_connector_client_lands_in_the_recorder(connector: FakeConnector) -> None:
    async def go() -> tuple[str, str, str]:
        credentials = BasicTokenAuthentication({"access_token": "outbound"})
        async with ConnectorClient(credentials, base_url=connector.service_url) as client:
            conversations = client.conversations
            sent = await conversations.send_to_conversation(CHANNEL_THREAD, Activity(type="message", text="a"))
            reply = await conversations.reply_to_activity(CHANNEL_THREAD, "1700000000000",
                                                          Activity(type="message", text="b"))
            updated = await conversations.update_activity(CHANNEL_THREAD, reply.id,
                                                          Activity(type="message", text="c", id=reply.id))
        return sent.id, reply.id, updated.id

    sent_id, reply_id, updated_id = asyncio.run(go())

    first, second, third = connector.wait_for(3, conversation_id=CHANNEL_THREAD)
    assert (first.reply_to, first.id, first.method, first.activity["text"]) == (None, sent_id, "POST", "a")
    assert (second.reply_to, second.id, second.method) == ("1700000000000", reply_id, "POST")
    assert (third.reply_to, third.method, third.activity["text"]) == (reply_id, "PUT", "c")
    assert updated_id == reply_id
    assert {s.auth for s in connector.sent} == {"Bearer outbound"}
    connector.clear()
    assert connector.of() == []


def test_openid_metadata_and_keys(connector: FakeConnector) -> None:
    assert connector.service_url == f"http://127.0.0.1:{connector.port}/"
    config = _get_json(connector.metadata_url)
    assert config == {
        "issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": f"http://127.0.0.1:{connector.port}/openid/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }
    (key,) = _get_json(config["jwks_uri"])["keys"]
    assert (key["kty"], key["use"], key["kid"], key["endorsements"]) == ("RSA", "sig", connector.kid, ["msteams"])
    assert "=" not in key["n"] + key["e"] and key["e"] == "AQAB"
    public = jwt.PyJWK(key).key
    token = mint_token(connector, app_id=APP_ID, service_url=connector.service_url)
    assert jwt.get_unverified_header(token) == {"kid": connector.kid, "alg": "RS256", "typ": "JWT"}
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=APP_ID)
    assert claims["iss"] == "https://api.botframework.com" and claims["serviceurl"] == connector.service_url
    assert claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == 3660


# -- the SDK's token validation against the stand-in's metadata ------------------------------------------


def test_the_sdk_accepts_a_minted_token(connector: FakeConnector) -> None:
    activity = message_activity("hello", service_url=connector.service_url, conversation_id="a:1")
    token = mint_token(connector, app_id=APP_ID, service_url=connector.service_url)

    result = _authenticate(_auth(connector), activity, token)

    assert result.claims_identity.is_authenticated
    assert result.claims_identity.claims["aud"] == APP_ID
    assert result.claims_identity.claims["serviceurl"] == connector.service_url


BAD_TOKENS = {
    "unknown key, same kid": (lambda c: {"private_key": new_rsa_key()}, jwt.InvalidSignatureError,
                              "Signature verification failed"),
    "expired": (lambda c: {"expires_in": -600}, jwt.ExpiredSignatureError, "Signature has expired"),
    "another app id": (lambda c: {"app_id": "someone-else"}, PermissionError,
                       "Invalid AppId passed on token: someone-else"),
    "another service url": (lambda c: {"service_url": "https://smba.trafficmanager.net/amer/"},
                            PermissionError, "Invalid 'serviceurl' claim"),
    "another issuer": (lambda c: {"issuer": "https://sts.example.test/"}, PermissionError, "Identity missing"),
    "unknown kid": (lambda c: {"kid": "not-published"}, IndexError, "list index out of range"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_the_sdk_rejects_a_bad_token(connector: FakeConnector, case: str) -> None:
    overrides, raised, message = BAD_TOKENS[case]
    activity = message_activity("hello", service_url=connector.service_url, conversation_id="a:1")
    token = mint_token(connector, **{"app_id": APP_ID, "service_url": connector.service_url,
                                     **overrides(connector)})

    with pytest.raises(raised) as err:
        _authenticate(_auth(connector), activity, token)
    assert type(err.value) is raised
    assert str(err.value) == message


def test_a_token_expired_within_the_sdks_clock_tolerance_still_passes(connector: FakeConnector) -> None:
    activity = message_activity("hello", service_url=connector.service_url, conversation_id="a:1")
    token = mint_token(connector, app_id=APP_ID, service_url=connector.service_url, expires_in=-60)
    assert _authenticate(_auth(connector), activity, token).claims_identity.is_authenticated


def test_without_a_channel_token_issuer_the_sdk_refuses_every_token(connector: FakeConnector) -> None:
    activity = message_activity("hello", service_url=connector.service_url, conversation_id="a:1")
    token = mint_token(connector, app_id=APP_ID, service_url=connector.service_url)
    with pytest.raises(PermissionError, match="Identity missing"):
        _authenticate(_auth(connector, issuer=None), activity, token)


def test_a_new_connector_on_a_reused_port_is_not_shadowed_by_the_sdks_metadata_cache() -> None:
    first = FakeConnectorServer()
    a = first.start()
    activity = message_activity("hello", service_url=a.service_url, conversation_id="a:1")
    _authenticate(_auth(a), activity, mint_token(a, app_id=APP_ID, service_url=a.service_url))
    assert a.metadata_url in JwtTokenExtractor.metadataCache
    port = a.port
    first.stop()
    assert a.metadata_url not in JwtTokenExtractor.metadataCache

    second = FakeConnectorServer(port=port)
    b = second.start()
    try:
        assert b.metadata_url == a.metadata_url and b.kid != a.kid
        token = mint_token(b, app_id=APP_ID, service_url=b.service_url)
        assert _authenticate(_auth(b), activity, token).claims_identity.is_authenticated
    finally:
        second.stop()


# -- the activity builders ------------------------------------------------------------------------------


def test_message_activity_deserializes_as_teams_sends_it() -> None:
    raw = message_activity("how do I get a refund?", service_url="https://smba.example/", conversation_id=CHANNEL_THREAD,
                           conversation_type="channel", mention_bot=True, team_id="19:team@thread.tacv2",
                           channel_id="19:abc@thread.tacv2", value={"action": "more"})
    activity = Activity().deserialize(raw)
    assert activity.type == "message" and activity.channel_id == "msteams"
    assert activity.text == "<at>supportbot</at> how do I get a refund?"
    assert activity.from_property.aad_object_id == "aad-user-1" and activity.recipient.id == "28:bot"
    assert activity.conversation.id == CHANNEL_THREAD and activity.conversation.conversation_type == "channel"
    # Teams sends conversation.tenantId; botbuilder-schema maps the key "tenantID" (case-sensitive), so
    # the SDK's conversation.tenant_id stays None and the tenant is read from channelData.tenant.id.
    assert raw["conversation"]["tenantId"] == "tenant-1" and activity.conversation.tenant_id is None
    assert activity.entities[0].type == "mention"
    assert raw["entities"][0]["mentioned"] == {"id": "28:bot", "name": "supportbot"}
    assert raw["channelData"] == {"tenant": {"id": "tenant-1"}, "team": {"id": "19:team@thread.tacv2"},
                                  "channel": {"id": "19:abc@thread.tacv2"}}
    assert activity.value == {"action": "more"} and activity.timestamp is not None
    assert message_activity("x", service_url="s", conversation_id="c")["id"] != raw["id"]
    assert message_activity("x", service_url="s", conversation_id="c", activity_id="42")["id"] == "42"


def test_feedback_invoke_shape() -> None:
    raw = feedback_invoke(reaction="dislike", reply_to_id="1700000000001", service_url="https://smba.example/",
                          conversation_id="a:1", comment="wrong plan")
    activity = Activity().deserialize(raw)
    assert (activity.type, activity.name, activity.reply_to_id) == ("invoke", "message/submitAction", "1700000000001")
    assert activity.value == {"actionName": "feedback",
                              "actionValue": {"reaction": "dislike", "feedback": '{"feedbackText": "wrong plan"}'}}
    bare = feedback_invoke(reaction="like", reply_to_id="1", service_url="s", conversation_id="c")
    assert bare["value"]["actionValue"] == {"reaction": "like", "feedback": ""}
