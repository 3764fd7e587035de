"""Two `supportbot serve` workers behind one Redis and one Chroma server (`chroma run`), as a
deployment runs them: a reload through one is served by the other, one Slack event delivered to both
gets one answer, and a worker killed with SIGKILL mid-answer loses no message.

Worker A answers with the openai backend against a local chat-completions stand-in, so the test can
hold A inside an answer (the stand-in stops replying) and kill it there; worker B is extractive. Each
worker has its own data directory: nothing is shared but Redis and the Chroma server.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import (
    REDIS_URL,
    SUPPORTBOT,
    delete_keys,
    free_port,
    ingest,
    serving,
    stop_process,
    write_articles,
)
from tests.fakes.openai_server import FakeOpenAI, fake_openai
from tests.fakes.slack_api import (
    BOT_USER,
    TEAM,
    FakeSlack,
    FakeSlackServer,
    Response,
    event_body,
    form_body,
    post,
)
from tests.slack.conftest import ADMIN, SECRET, _env
from tests.slack.test_slack_events import blocks_text

LEASE_S = 2.0


@dataclass
class Worker:
    url: str
    proc: subprocess.Popen[bytes] | None = None  # A's process, so that the test can kill it

    def send(self, event: dict[str, object], *, event_id: str, retry: int = 0) -> Response:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return post(self.url + "/slack/events", event_body(event, event_id=event_id),
                    content_type="application/json", secret=SECRET, headers=headers)


@dataclass
class Cluster:
    a: Worker
    b: Worker
    slack: FakeSlack
    model: FakeOpenAI
    helpcentre: Path
    prefix: str
    n: int = 0

    def mention(self, text: str, channel: str) -> tuple[dict[str, object], str]:
        self.n += 1
        ts = f"{int(time.time())}.{self.n:06d}"
        event = {"type": "app_mention", "user": f"U{self.n}", "text": f"<@{BOT_USER}> {text}", "ts": ts,
                 "channel": channel, "event_ts": ts, "team": TEAM}
        return event, ts

    def replies(self, channel: str, ts: str) -> list[dict[str, object]]:
        return [c.params for c in self.slack.of("chat.postMessage", channel=channel, thread_ts=ts)]


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        proc = subprocess.Popen([SUPPORTBOT, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, chroma_server: tuple[str, int]) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("scale-out")
    helpcentre = write_articles(root / "helpcentre")
    fake = FakeSlackServer()
    slack = fake.start()
    prefix = f"sbtest:{uuid.uuid4().hex}:"
    host, port = chroma_server
    common = dict(
        CHROMA_HOST=host, CHROMA_PORT=str(port), SUPPORTBOT_KB=f"scale{uuid.uuid4().hex[:8]}",
        REDIS_URL=REDIS_URL, SUPPORTBOT_REDIS_PREFIX=prefix, SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=slack.api_url, SLACK_SIGNING_SECRET=SECRET, SLACK_ADMIN_USERS=ADMIN,
        SUPPORTBOT_HELPCENTRE_DIR=str(helpcentre), SUPPORTBOT_RATE_BURST="30",
        SUPPORTBOT_ANSWER_LEASE_S=str(LEASE_S), SUPPORTBOT_WORKING_SIGNAL_AFTER_S="30",
        SUPPORTBOT_SHUTDOWN_GRACE_S="2",
    )
    ingest(_env(SUPPORTBOT_DATA_DIR=str(root / "admin"), **common), helpcentre)
    a_proc = None
    try:
        with fake_openai() as model:
            model.reply = lambda body: "OK"  # ungrounded: A falls back to its extractive answer
            a_env = _env(SUPPORTBOT_DATA_DIR=str(root / "a"), SUPPORTBOT_LLM="openai",
                         OPENAI_BASE_URL=model.base_url, OPENAI_API_KEY="test-key",
                         SUPPORTBOT_LLM_TIMEOUT_S="120", **common)
            a_port = free_port()
            a_proc = _start(a_env, a_port, root / "a.log")
            with serving(_env(SUPPORTBOT_DATA_DIR=str(root / "b"), **common), port=free_port(),
                         log=root / "b.log") as b_url:
                yield Cluster(a=Worker(f"http://127.0.0.1:{a_port}", a_proc), b=Worker(b_url), slack=slack,
                              model=model, helpcentre=helpcentre, prefix=prefix)
    finally:
        if a_proc is not None and a_proc.poll() is None:
            stop_process(a_proc)
        fake.stop()
        delete_keys(REDIS_URL, prefix)


def test_a_reload_through_one_worker_is_served_by_the_other(cluster: Cluster) -> None:
    (cluster.helpcentre / "billing" / "vat.md").write_text(
        "---\ntitle: Add a VAT number\nurl: https://help.example.test/billing/vat\n---\n"
        "Add your VAT number under Settings, then Billing, then Tax details. Invoices show it from then on.\n",
        encoding="utf-8")
    fields = {"token": "unused", "team_id": TEAM, "channel_id": "C0ADMIN", "user_id": ADMIN, "command": "/kb",
              "text": "reload", "response_url": cluster.slack.response_url("reload"), "trigger_id": "1.2.3",
              "api_app_id": "A0TEST"}
    ack = post(cluster.a.url + "/slack/events", form_body(fields),
               content_type="application/x-www-form-urlencoded", secret=SECRET)
    assert ack.status == 200
    (done,) = cluster.slack.wait_for("/hooks/reload", timeout=120)
    assert "1 added" in done.params["text"]

    event, ts = cluster.mention("Where do I add my VAT number?", "C0SCALEVAT")
    assert cluster.b.send(event, event_id="EvVAT").status == 200  # B never saw the reload
    cluster.slack.wait_for("chat.postMessage", 1, timeout=30, channel="C0SCALEVAT", thread_ts=ts)
    (reply,) = cluster.replies("C0SCALEVAT", ts)
    assert "billing/vat" in blocks_text(reply)


def test_the_same_event_delivered_to_both_workers_gets_one_answer(cluster: Cluster) -> None:
    for i in range(5):
        channel = f"C0SCALEDUP{i}"
        event, ts = cluster.mention("How do I get a refund?", channel)
        # Slack's first delivery to one worker, its retry (as after a slow ack) to the other, at once
        first, second = cluster.a, cluster.b
        if i % 2:
            first, second = second, first
        assert first.send(event, event_id=f"EvDUP{i}").status == 200
        assert second.send(event, event_id=f"EvDUP{i}", retry=1).status == 200
        cluster.slack.wait_for("chat.postMessage", 1, timeout=30, channel=channel, thread_ts=ts)
    time.sleep(LEASE_S * 2)  # long enough for a second answer or a takeover to show up
    for i in range(5):
        channel = f"C0SCALEDUP{i}"
        posted = cluster.slack.of("chat.postMessage", channel=channel)
        assert len(posted) == 1, posted
        assert "refund" in blocks_text(posted[0].params).lower()


def test_a_worker_killed_mid_answer_loses_no_message(cluster: Cluster) -> None:
    assert cluster.a.proc is not None
    calls_before = len(cluster.model.requests)
    cluster.model.delay_s = 600  # A's next model call never returns: A is inside an answer
    event, ts = cluster.mention("How do I set up two-factor authentication?", "C0SCALEKILL")
    t0 = time.monotonic()
    assert cluster.a.send(event, event_id="EvKILL").status == 200
    deadline = time.monotonic() + 30
    while len(cluster.model.requests) == calls_before:
        assert time.monotonic() < deadline, "A never called its model"
        time.sleep(0.05)
    cluster.a.proc.kill()  # SIGKILL: no shutdown, no lease given back
    cluster.a.proc.wait()
    assert cluster.replies("C0SCALEKILL", ts) == []

    # Slack's retry reaches B: dropped while A's lease lives, answered once if it has run out
    assert cluster.b.send(event, event_id="EvKILL", retry=1).status == 200
    cluster.slack.wait_for("chat.postMessage", 1, timeout=LEASE_S * 10, channel="C0SCALEKILL", thread_ts=ts)
    answered_after = time.monotonic() - t0
    time.sleep(LEASE_S * 2)
    assert cluster.b.send(event, event_id="EvKILL", retry=2).status == 200  # a late retry: no second answer
    time.sleep(1)
    (reply,) = cluster.replies("C0SCALEKILL", ts)
    assert "two-factor" in blocks_text(reply).lower()
    assert answered_after < LEASE_S * 6

    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    identity = f"slack:{TEAM}:C0SCALEKILL:{ts}"
    assert r.get(f"{cluster.prefix}dd:{identity}") == "1"  # final
    assert r.zscore(f"{cluster.prefix}lz", identity) is None and not r.exists(f"{cluster.prefix}lw:{identity}")
    r.close()
