"""Teams with TEAMS_APP_ID set: Bot Framework authentication is on, and every bad token is a 401 with
nothing sent to the connector. The signing keys are served by a local stand-in for the Bot Framework's
OpenID metadata (SUPPORTBOT_TEAMS_OPENID_METADATA_URL), so a token signed with its key is valid."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bot_connector import message_activity, mint_token, new_rsa_key
from tests.teams.conftest import APP_ID, TeamsBot, launch


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsBot]:
    with launch(Path(tmp_path_factory.mktemp("teams-auth")), auth=True) as bot:
        yield bot


def activity(bot: TeamsBot, conversation: str) -> dict:
    return message_activity("How do I get a refund?", service_url=bot.connector.service_url,
                            conversation_id=conversation)


def test_no_token_a_bogus_one_and_a_foreign_key_are_401_and_nothing_is_sent(secured: TeamsBot) -> None:
    url = secured.connector.service_url
    assert secured.post(activity(secured, "a:no-token")).status == 401
    assert secured.post(activity(secured, "a:bogus"), token="not.a.jwt").status == 401
    foreign = mint_token(secured.connector, app_id=APP_ID, service_url=url, private_key=new_rsa_key())
    assert secured.post(activity(secured, "a:foreign"), token=foreign).status == 401
    expired = mint_token(secured.connector, app_id=APP_ID, service_url=url, expires_in=-600)
    assert secured.post(activity(secured, "a:expired"), token=expired).status == 401
    other_app = mint_token(secured.connector, app_id="99999999-0000-0000-0000-000000000000", service_url=url)
    assert secured.post(activity(secured, "a:other-app"), token=other_app).status == 401
    elsewhere = mint_token(secured.connector, app_id=APP_ID, service_url="https://smba.trafficmanager.net/x/")
    assert secured.post(activity(secured, "a:elsewhere"), token=elsewhere).status == 401
    time.sleep(1.0)
    assert secured.connector.sent == []
    assert secured.alive()["teams_auth"] == "on"


def test_a_token_signed_with_the_published_key_is_accepted(secured: TeamsBot) -> None:
    token = mint_token(secured.connector, app_id=APP_ID, service_url=secured.connector.service_url)
    r = secured.post(activity(secured, "a:valid"), token=token)
    # Accepted and answered. The reply itself needs an outbound token from Azure AD (MSAL), which no
    # test can reach: the server logs that it could not send, and still answers Teams' request.
    assert r.status in (200, 201)
    log = secured.log.read_text()
    assert "could not send a message activity to the Bot Connector" in log  # the answer was made
    assert "login.microsoftonline.com" in log  # and sending it asked Azure AD for the outbound token
    assert secured.connector.of(conversation_id="a:valid") == []
