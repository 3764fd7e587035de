"""The real `supportbot serve` in a subprocess on a free port, a recording stand-in for Slack's Web API,
and a help centre indexed with the real `supportbot ingest`; real Redis as in the rest of the suite."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.redis_store import RedisStore
from tests.conftest import REDIS_URL, delete_keys, free_port, ingest, serving, write_articles
from tests.fakes.slack_api import (
    BOT_USER,
    TEAM,
    FakeSlack,
    FakeSlackServer,
    Response,
    action_body,
    event_body,
    form_body,
    post,
)

SECRET = "test-signing-secret"
RATE_BURST = 30  # questions in a row per user before "slow down": more than any one test user asks
ADMIN = "UADMIN"
POLICY = """
default:
  respond: mentions
  escalation: C0SUPPORT
channels:
  C0BILLING:
    respond: all_questions
    scope: {categories: [billing]}
  C0QUIET:
    respond: "off"
  C0TEAM:
    escalation: S0SUPPORTERS
  C0VOICE:
    voice: cadence
"""


@dataclass
class SlackBot:
    """The running server and what the tests need to talk to it."""

    url: str
    slack: FakeSlack
    helpcentre: Path
    prefix: str
    log: Path
    data_dir: Path
    n: int = 0

    def next_ts(self) -> str:
        self.n += 1
        return f"{int(time.time())}.{self.n:06d}"

    def send_event(self, event: dict[str, Any], *, event_id: str | None = None, secret: str | None = SECRET,
                   timestamp: int | None = None, headers: dict[str, str] | None = None) -> Response:
        body = event_body(event, event_id=event_id or f"Ev{uuid.uuid4().hex[:10]}")
        return post(self.url + "/slack/events", body, content_type="application/json", secret=secret,
                    timestamp=timestamp, headers=headers)

    def mention(self, text: str, *, channel: str = "C0GENERAL", user: str = "U1", ts: str | None = None,
                thread_ts: str | None = None) -> str:
        ts = ts or self.next_ts()
        event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts,
                 "channel": channel, "event_ts": ts, "team": TEAM}
        if thread_ts:
            event["thread_ts"] = thread_ts
        assert self.send_event(event).status == 200
        return ts

    def message(self, text: str, *, channel: str = "C0GENERAL", user: str = "U1", ts: str | None = None,
                thread_ts: str | None = None, channel_type: str = "channel", **extra: Any) -> tuple[str, Response]:
        ts = ts or self.next_ts()
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                 "event_ts": ts, "channel_type": channel_type, "team": TEAM, **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, self.send_event(event)

    def click(self, action: dict[str, Any], *, user: str = "U1", channel: str = "C0GENERAL",
              message: dict[str, Any] | None = None) -> Response:
        payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user},
                   "api_app_id": "A0TEST", "channel": {"id": channel}, "trigger_id": "1.2.3",
                   "response_url": self.slack.response_url("action"), "message": message or {},
                   "container": {"type": "message", "channel_id": channel,
                                 "message_ts": (message or {}).get("ts", "1.0")},
                   "actions": [{"action_ts": str(time.time()), "block_id": "b1", **action}]}
        return post(self.url + "/slack/events", action_body(payload),
                    content_type="application/x-www-form-urlencoded", secret=SECRET)

    def command(self, text: str, *, user: str = ADMIN, hook: str = "kb") -> Response:
        fields = {"token": "unused", "team_id": TEAM, "channel_id": "C0ADMIN", "user_id": user,
                  "command": "/kb", "text": text, "response_url": self.slack.response_url(hook),
                  "trigger_id": "1.2.3", "api_app_id": "A0TEST"}
        return post(self.url + "/slack/events", form_body(fields),
                    content_type="application/x-www-form-urlencoded", secret=SECRET)

    def replies_in(self, channel: str, thread_ts: str | None, count: int = 1,
                   timeout: float = 20) -> list[dict[str, Any]]:
        calls = self.slack.wait_for("chat.postMessage", count, timeout=timeout, channel=channel,
                                    thread_ts=thread_ts)
        return [c.params for c in calls]

    def store(self) -> RedisStore:
        return RedisStore(REDIS_URL, prefix=self.prefix)

    def alive(self) -> bool:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as resp:
            return bool(json.loads(resp.read())["ok"])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def launch(root: Path, *, socket_mode: bool = False) -> Iterator[SlackBot]:
    """Index a small help centre with `supportbot ingest`, then run `supportbot serve` against a fresh
    Web API stand-in; everything is stopped and the Redis keys deleted afterwards."""
    helpcentre = write_articles(root / "helpcentre")
    (root / "channels.yml").write_text(POLICY, encoding="utf-8")
    fake = FakeSlackServer()
    slack = fake.start()
    prefix = f"sbtest:{uuid.uuid4().hex}:"
    port = free_port()
    env = _env(
        SUPPORTBOT_DATA_DIR=str(root / "data"), REDIS_URL=REDIS_URL, SUPPORTBOT_REDIS_PREFIX=prefix,
        SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.api_url,
        SLACK_ADMIN_USERS=f"{ADMIN},UADMIN2", SUPPORTBOT_HELPCENTRE_DIR=str(helpcentre),
        SUPPORTBOT_CHANNELS_FILE=str(root / "channels.yml"), SUPPORTBOT_WORKING_SIGNAL_AFTER_S="0",
        SUPPORTBOT_RATE_BURST=str(RATE_BURST), SUPPORTBOT_LOG_FORMAT="json",
        **({"SLACK_APP_TOKEN": "xapp-test"} if socket_mode else {"SLACK_SIGNING_SECRET": SECRET}),
    )
    ingest(env, helpcentre)
    log = root / "server.log"
    try:
        args = ("--slack-socket-mode",) if socket_mode else ()
        with serving(env, port=port, log=log, args=args) as url:
            yield SlackBot(url=url, slack=slack, helpcentre=helpcentre, prefix=prefix, log=log,
                           data_dir=root / "data")
    finally:
        fake.stop()
        delete_keys(REDIS_URL, prefix)


@pytest.fixture(scope="module")
def slackbot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackBot]:
    with launch(tmp_path_factory.mktemp("slackbot")) as bot:
        yield bot
