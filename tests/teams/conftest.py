"""The real `supportbot serve` with Teams switched on, in a subprocess on a free port; a local stand-in
for the Bot Connector (and the Bot Framework's signing keys) that records what the bot sends; a help
centre indexed with the real `supportbot ingest`; real Redis as in the rest of the suite."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_URL, delete_keys, free_port, ingest, serving, write_articles
from tests.fakes.bot_connector import FakeConnector, FakeConnectorServer, message_activity, post_activity
from tests.fakes.slack_api import Response

APP_ID = "11111111-2222-3333-4444-555555555555"
ADMIN = "aad-admin-1"
POLICY = """
default:
  escalation: "19:support@thread.tacv2"
channels:
  "19:billing@thread.tacv2":
    scope: {categories: [billing]}
  "19:voice@thread.tacv2":
    voice: cadence
"""


@dataclass
class TeamsBot:
    url: str
    connector: FakeConnector
    helpcentre: Path
    prefix: str
    log: Path

    def post(self, activity: dict[str, Any] | bytes, token: str | None = None) -> Response:
        return post_activity(self.url + "/api/messages", activity, token=token)

    def ask(self, text: str, *, conversation_id: str = "a:personal-1", **kw: Any) -> dict[str, Any]:
        """A message activity (1:1 unless told otherwise), posted; returns the activity sent."""
        activity = message_activity(text, service_url=self.connector.service_url,
                                    conversation_id=conversation_id, **kw)
        r = self.post(activity)
        assert r.status in (200, 201, 202), (r.status, r.body)
        return activity

    def replies(self, conversation_id: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        """The message activities sent into a conversation (typing indicators left out)."""
        sent = self.connector.wait_for(count, timeout, type="message", conversation_id=conversation_id)
        return [s.activity for s in sent]

    def alive(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as resp:
            return dict(json.loads(resp.read()))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "TEAMS_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def launch(root: Path, *, auth: bool = False, **env_extra: str) -> Iterator[TeamsBot]:
    """`supportbot ingest` then `supportbot serve` with Teams: authentication off for the conversation
    tests (the outbound token comes from Azure AD, which no test can reach), on for the auth tests."""
    helpcentre = write_articles(root / "helpcentre")
    (root / "channels.yml").write_text(POLICY, encoding="utf-8")
    server = FakeConnectorServer()
    connector = server.start()
    prefix = f"sbtest:{uuid.uuid4().hex}:"
    port = free_port()
    teams = ({"TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": "not-a-real-secret",
              "SUPPORTBOT_TEAMS_OPENID_METADATA_URL": connector.metadata_url}
             if auth else {"SUPPORTBOT_TEAMS_DEV_NO_AUTH": "1"})
    env = _env(SUPPORTBOT_DATA_DIR=str(root / "data"), REDIS_URL=REDIS_URL, SUPPORTBOT_REDIS_PREFIX=prefix,
               TEAMS_ADMIN_IDS=ADMIN, SUPPORTBOT_HELPCENTRE_DIR=str(helpcentre),
               SUPPORTBOT_CHANNELS_FILE=str(root / "channels.yml"), SUPPORTBOT_RATE_BURST="30",
               SUPPORTBOT_LOG_FORMAT="json", **teams,
               **env_extra)
    ingest(env, helpcentre)
    log = root / "server.log"
    try:
        with serving(env, port=port, log=log) as url:
            yield TeamsBot(url=url, connector=connector, helpcentre=helpcentre, prefix=prefix, log=log)
    finally:
        server.stop()
        delete_keys(REDIS_URL, prefix)


@pytest.fixture(scope="module")
def teamsbot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsBot]:
    with launch(tmp_path_factory.mktemp("teamsbot")) as bot:
        yield bot
