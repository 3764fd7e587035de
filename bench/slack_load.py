"""`/slack/events` under steady load: the real `supportbot serve` (sample help centre, Redis), a local
stand-in for Slack's Web API in a process of its own, and a load generator in this one.

N new messages a second from U different users for D seconds, each delivered twice (as `app_mention`
and as `message`, as Slack does for a mention in a channel). Measured: the acknowledgement latency of
every request (target p99 <= 100 ms on the 2-core machine), the time from sending an event to its
`chat.postMessage` arriving at the stand-in (p50 / p95), and how many messages got no reply or more
than one (target: none). Replies are answers, or "busy" when the queue is full: never silence.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.servers import wait_http
from bot import messages
from knowledge.evaluation import percentile
from tests.conftest import delete_keys, free_port, stop_process
from tests.fakes.slack_api import BOT_USER, TEAM, event_body, sign

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"
QUESTIONS = ROOT / "bench" / "data" / "cadence-natural" / "queries.jsonl"
SAMPLE = ROOT / "knowledge" / "sample_helpcentre"
CHANNELS = ("C0LOAD1", "C0LOAD2", "C0LOAD3", "C0LOAD4")




async def _load(url: str, rate: float, duration_s: float, users: int,
                questions: list[str]) -> tuple[list[float], dict[str, tuple[str, float]], int]:
    """Send the messages; returns ack latencies (s), {ts: (channel, sent at)} and failed requests."""
    acks: list[float] = []
    sent: dict[str, tuple[str, float]] = {}
    failed = 0
    total = int(rate * duration_s)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def deliver(body: bytes) -> None:
            nonlocal failed
            ts = int(time.time())
            headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(ts),
                       "X-Slack-Signature": sign(SECRET, body, ts)}
            t0 = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            acks.append(time.perf_counter() - t0)
            failed += not ok

        async def message(i: int) -> None:
            ts = f"{int(time.time())}.{i:06d}"
            channel = CHANNELS[i % len(CHANNELS)]
            text = f"<@{BOT_USER}> {questions[i % len(questions)]}"
            event = {"type": "app_mention", "user": f"U{i % users:05d}", "text": text, "ts": ts,
                     "channel": channel, "event_ts": ts, "team": TEAM}
            sent[ts] = (channel, time.time())
            await asyncio.gather(
                deliver(event_body(event, event_id=f"Ev{i}a")),
                deliver(event_body({**event, "type": "message", "channel_type": "channel"},
                                   event_id=f"Ev{i}m")),
            )

        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(message(i)))
        await asyncio.gather(*tasks)
    return acks, sent, failed


def _replies(recorder: str, sent: dict[str, tuple[str, float]], drain_s: float) -> list[dict[str, Any]]:
    """The stand-in's chat.postMessage calls, once every message has a reply or ``drain_s`` passed."""
    deadline = time.monotonic() + drain_s
    while True:
        calls = json.loads(urllib.request.urlopen(recorder + "/_calls", timeout=30).read())
        posts = [c for c in calls if c["method"] == "chat.postMessage" and c["thread_ts"] in sent]
        if len({c["thread_ts"] for c in posts}) >= len(sent) or time.monotonic() > deadline:
            time.sleep(2)  # a second reply would arrive right behind the first
            calls = json.loads(urllib.request.urlopen(recorder + "/_calls", timeout=30).read())
            return [c for c in calls if c["method"] == "chat.postMessage" and c["thread_ts"] in sent]
        time.sleep(0.5)


def slack_load(*, rate: float = 100, duration_s: float = 30, users: int = 200, redis_url: str,
               env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    questions = [json.loads(line)["text"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    exe = str(Path(sys.executable).parent / "supportbot")
    prefix = f"sbbench:{uuid.uuid4().hex}:"
    with tempfile.TemporaryDirectory(prefix="supportbot-slack-bench-") as tmp:
        root = Path(tmp)
        recorder_port, port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_"))}
        env.update(SUPPORTBOT_DATA_DIR=str(root / "data"), REDIS_URL=redis_url,
                   SUPPORTBOT_REDIS_PREFIX=prefix,
                   SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
                   SLACK_API_URL=f"http://127.0.0.1:{recorder_port}/api/",
                   SUPPORTBOT_RATE_BURST="1000",  # every message goes through the engine, none is slowed down
                   **(env_extra or {}))
        subprocess.run([exe, "ingest", str(SAMPLE), "--json"], env=env, check=True, capture_output=True)
        rec_log, srv_log = root / "recorder.log", root / "server.log"
        with open(rec_log, "wb") as rec_out, open(srv_log, "wb") as srv_out:
            recorder = subprocess.Popen([sys.executable, "-m", "tests.fakes.slack_api", str(recorder_port)],
                                        cwd=ROOT, stdout=rec_out, stderr=subprocess.STDOUT)
            server = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      stdout=srv_out, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{recorder_port}/_calls", recorder, rec_log)
            wait_http(f"http://127.0.0.1:{port}/healthz", server, srv_log)
            t0 = time.perf_counter()
            acks, sent, failed = asyncio.run(_load(f"http://127.0.0.1:{port}/slack/events", rate, duration_s,
                                                   users, questions))
            load_s = time.perf_counter() - t0
            posts = _replies(f"http://127.0.0.1:{recorder_port}", sent, drain_s=120)
        finally:
            for proc in (server, recorder):
                stop_process(proc, timeout=30)
            delete_keys(redis_url, prefix)
    per_message = Counter(c["thread_ts"] for c in posts)
    first = {}
    for c in sorted(posts, key=lambda c: c["at"]):
        first.setdefault(c["thread_ts"], c)
    latency = [first[ts]["at"] - at for ts, (_, at) in sent.items() if ts in first]
    kinds = Counter(_kind(c["text"]) for c in first.values())
    ack_p99 = percentile(acks, 99)
    zero = sum(1 for ts in sent if ts not in per_message)
    twice = sum(1 for n in per_message.values() if n > 1)
    return {
        "messages": len(sent), "requests": len(acks), "users": users, "rate_per_s": rate,
        "sent_in_s": round(load_s, 1), "failed_requests": failed,
        "ack_p50_ms": round(percentile(acks, 50) * 1000, 1), "ack_p99_ms": round(ack_p99 * 1000, 1),
        "reply_p50_ms": round(percentile(latency, 50) * 1000, 1) if latency else None,
        "reply_p95_ms": round(percentile(latency, 95) * 1000, 1) if latency else None,
        "answered": kinds["answer"], "busy": kinds["busy"], "slowed_down": kinds["slow_down"],
        "answered_zero_times": zero, "answered_twice_or_more": twice,
        "target": "ack p99 <= 100 ms; no message answered zero or two times",
        "pass": ack_p99 <= 0.1 and zero == 0 and twice == 0 and failed == 0,
    }


def _kind(text: str | None) -> str:
    if text == messages.BUSY:
        return "busy"
    if text == messages.SLOW_DOWN:
        return "slow_down"
    return "answer"

