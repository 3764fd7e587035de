"""Shared fixtures: the real embedding model (loaded once), small help centres, real Chroma and Redis
servers (REDIS_URL, default db 15 of a local Redis; each test writes under its own key prefix and
deletes only those keys; outage tests start a private redis-server on a free port)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapters.redis_store import RedisStore
from bot.store import ConversationStore, InMemoryStore, StoreLimits
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

ARTICLES = {
    "billing/refunds.md": """---
title: Request a refund
url: https://help.example.test/billing/refunds
tags: [billing, refunds]
audience: everyone
updated: 2026-05-01
---
Annual plans can be refunded in full within 30 days of the charge.

## How to ask for a refund
Open Settings, then Billing, then Invoices, and choose Request refund next to the invoice.

## Monthly plans
Monthly plans are not refunded; cancel before the renewal date instead.
""",
    "security/two-factor.md": """---
title: Turn on two-factor authentication
url: https://help.example.test/security/two-factor
tags: [security, 2fa]
audience: everyone
updated: 2026-04-02
---
Two-factor authentication protects your account with a one-time code from an authenticator app.

## Set it up
Go to Profile, then Security, and scan the QR code with Google Authenticator or 1Password.
""",
    "mobile/offline.md": """---
title: Use the mobile app offline
url: https://help.example.test/mobile/offline
tags: [mobile]
audience: everyone
updated: 2026-03-03
---
The iOS and Android apps keep your last 14 days of schedules available without a connection.
Changes you make offline sync automatically when the phone reconnects.
""",
    "troubleshooting/error-e4011.md": """---
title: Sync error E-4011
url: https://help.example.test/troubleshooting/error-e4011
tags: [troubleshooting, calendar]
audience: admins
updated: 2026-02-04
---
Error E-4011 means the calendar connection token expired. Reconnect the calendar under
Integrations to fix it.
""",
}


def write_articles(root: Path, articles: dict[str, str] | None = None) -> Path:
    for rel, text in (articles or ARTICLES).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    emb = MiniLMEmbedder(batch_size=32)
    emb.encode(["warm up"])
    return emb


@pytest.fixture
def helpcentre(tmp_path: Path) -> Path:
    return write_articles(tmp_path / "helpcentre")


@pytest.fixture
def kb(tmp_path: Path, embedder: MiniLMEmbedder) -> KnowledgeBase:
    return KnowledgeBase.open(data_dir=tmp_path / "data", name="test", embedder=embedder)


SUPPORTBOT = str(Path(sys.executable).parent / "supportbot")  # the real console script


def ingest(env: dict[str, str], folder: Path) -> None:
    """Index ``folder`` with the real `supportbot ingest`, under ``env``'s settings."""
    subprocess.run([SUPPORTBOT, "ingest", str(folder), "--json"], env=env, check=True, capture_output=True,
                   timeout=300)


@contextlib.contextmanager
def serving(env: dict[str, str], *, port: int, log: Path, args: tuple[str, ...] = ()) -> Iterator[str]:
    """The real `supportbot serve` on 127.0.0.1:``port``, once ``/healthz`` answers; yields its URL and
    stops it afterwards. Its output goes to ``log``, shown if it fails to start."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen([SUPPORTBOT, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                                env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"supportbot serve did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)
    # SIGTERM is a clean stop: answers in flight are finished, then exit 0
    assert proc.returncode == 0, f"serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Ask a server process to stop (SIGTERM), then kill it if it has not within ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def delete_keys(url: str, prefix: str) -> None:
    """Delete every Redis key under ``prefix`` (a test's or a benchmark's own)."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on a free port."""
    chroma = shutil.which("chroma", path=os.path.dirname(sys.executable)) or shutil.which("chroma")
    if chroma is None:
        pytest.fail("the `chroma` CLI (from the chromadb package) is not installed")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield "127.0.0.1", port
    stop_process(proc, timeout=10)
    log.close()


@pytest.fixture
def kb_empty(tmp_path: Path, embedder: MiniLMEmbedder) -> KnowledgeBase:
    return KnowledgeBase.open(data_dir=tmp_path / "empty-data", name="empty", embedder=embedder)


class Clock:
    """An injected clock that moves only when told to."""

    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shared() -> Iterator[redis.Redis]:
    """The shared test Redis. Absent, the run fails: `make test` starts one (scripts/ensure-redis)."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis at {REDIS_URL} ({exc}): run `make test`, or start redis-server / set REDIS_URL")
    yield client
    client.close()


@pytest.fixture
def prefix(shared: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    p = f"sbtest:{uuid.uuid4().hex}:"
    yield p
    keys = list(shared.scan_iter(match=p + "*"))
    if keys:
        shared.delete(*keys)


Make = Callable[..., ConversationStore]


@pytest.fixture
def redis_stores(prefix: str, clock: Clock) -> Iterator[Callable[..., RedisStore]]:
    made: list[RedisStore] = []

    def make(**kw: Any) -> RedisStore:
        store = RedisStore(REDIS_URL, prefix=prefix, clock=clock, limits=StoreLimits(**kw))
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=["redis", "memory"])
def make_store(request: pytest.FixtureRequest, clock: Clock) -> Make:
    if request.param == "redis":
        return request.getfixturevalue("redis_stores")  # type: ignore[no-any-return]
    return lambda **kw: InMemoryStore(clock=clock, limits=StoreLimits(**kw))



def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A private, empty redis-server on ``port`` (no persistence), answering PING before it returns."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)
        finally:
            probe.close()
    return proc
