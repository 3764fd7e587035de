"""`supportbot serve --slack-socket-mode`: no public URL; events arrive over a WebSocket that
`apps.connections.open` hands out, are acknowledged by envelope id, and answered as over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import BOT_USER, TEAM
from tests.slack.conftest import SlackBot, launch


@pytest.fixture(scope="module")
def socket_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackBot]:
    with launch(Path(tmp_path_factory.mktemp("socketbot")), socket_mode=True) as bot:
        yield bot


def test_an_event_over_socket_mode_is_acknowledged_then_answered_in_its_thread(socket_bot: SlackBot) -> None:
    slack = socket_bot.slack
    assert slack.connected(), "serve never opened the Socket Mode connection"
    assert slack.of("apps.connections.open")
    ts = "1700000123.000100"
    event = {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER}> how do I get a refund?", "ts": ts,
             "channel": "C0SOCKET", "event_ts": ts}
    slack.push({"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                "retry_attempt": 0, "retry_reason": "",
                "payload": {"type": "event_callback", "team_id": TEAM, "api_app_id": "A0TEST",
                            "event_id": "EvSOCK1", "event_time": 1700000123, "event": event,
                            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}})
    assert slack.wait_for_ack("env-1")["envelope_id"] == "env-1"
    (reply,) = socket_bot.replies_in("C0SOCKET", ts)
    assert "billing/refunds" in json.dumps(reply["blocks"])
    # the HTTP route is not served in Socket Mode: only health
    assert socket_bot.alive()
