"""Teams: an activity in to its reply at the Bot Connector, against the bare turn.

The real `supportbot serve` (Teams in development mode, sample help centre, Redis) gets one 1:1
question at a time; the time runs from posting the activity to the reply arriving at a local stand-in
for the Bot Connector (after the typing indicator). The reference, question by question in the same
run: the bare `SupportBot.handle` on Redis in this process, over its own copy of the same index. Each
question is new to both sides, so each pays its own query embedding.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from adapters.redis_store import RedisStore
from bench.servers import wait_http
from bot.conversation import Incoming, SupportBot
from bot.engine import AnswerEngine
from bot.store import StoreLimits, ThreadKey
from knowledge.evaluation import percentile
from knowledge.kb import KnowledgeBase
from tests.conftest import delete_keys, free_port, stop_process
from tests.fakes.bot_connector import FakeConnectorServer, message_activity, post_activity

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "bench" / "data" / "cadence-natural" / "queries.jsonl"
SAMPLE = ROOT / "knowledge" / "sample_helpcentre"


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 1)


def teams_latency(*, redis_url: str, n: int = 150) -> dict[str, Any]:
    questions = [json.loads(line)["text"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()][:n]
    exe = str(Path(sys.executable).parent / "supportbot")
    prefix, local_prefix = f"sbbench:{uuid.uuid4().hex}:", f"sbbench:{uuid.uuid4().hex}:"
    fake = FakeConnectorServer()
    connector = fake.start()
    with tempfile.TemporaryDirectory(prefix="supportbot-teams-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SUPPORTBOT_", "TEAMS_"))}
        env.update(SUPPORTBOT_DATA_DIR=str(root / "served"), REDIS_URL=redis_url,
                   SUPPORTBOT_REDIS_PREFIX=prefix, SUPPORTBOT_TEAMS_DEV_NO_AUTH="1",
                   SUPPORTBOT_RATE_BURST="100000")
        subprocess.run([exe, "ingest", str(SAMPLE), "--json"], env=env, check=True, capture_output=True)
        log = root / "server.log"
        with open(log, "wb") as out:
            server = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      stdout=out, stderr=subprocess.STDOUT)
        kb = KnowledgeBase.open(data_dir=root / "local", name="bench")
        kb.reload(SAMPLE)
        store = RedisStore(redis_url, prefix=local_prefix, limits=StoreLimits(rate_per_s=1000, burst=100_000))
        bot = SupportBot(engine=AnswerEngine(knowledge=kb), store=store)
        bot.engine.answer("warm up")
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", server, log)
            served, bare = [], []
            for i, question in enumerate(questions):
                conversation = f"a:bench-{i}"
                activity = message_activity(question, service_url=connector.service_url,
                                            conversation_id=conversation)
                t0 = time.time()
                post_activity(f"http://127.0.0.1:{port}/api/messages", activity)
                (reply,) = connector.wait_for(1, 30, type="message", conversation_id=conversation)
                served.append(reply.at - t0)
                key = ThreadKey("teams", "bench", conversation, "chat")
                msg = Incoming(key, f"{conversation}|{i}", "u", question)
                t1 = time.perf_counter()
                bot.handle(msg)
                bare.append(time.perf_counter() - t1)
        finally:
            stop_process(server, timeout=30)
            fake.stop()
            store.close()
            delete_keys(redis_url, prefix)
            delete_keys(redis_url, local_prefix)
    added = statistics.median(s - b for s, b in zip(served, bare, strict=True))
    return {
        "questions": len(served),
        "teams_p50_ms": _ms(served, 50), "teams_p95_ms": _ms(served, 95),
        "bare_handle_p50_ms": _ms(bare, 50), "bare_handle_p95_ms": _ms(bare, 95),
        "added_p50_ms": round(added * 1000, 1),
        "target": "added p50 <= 50 ms (HTTP in, typing activity, reply out through botbuilder)",
        "pass": added <= 0.05,
    }


