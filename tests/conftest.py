"""Shared fixtures: the real embedding model (loaded once), small help centres, real Chroma servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase

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
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def kb_empty(tmp_path: Path, embedder: MiniLMEmbedder) -> KnowledgeBase:
    return KnowledgeBase.open(data_dir=tmp_path / "empty-data", name="empty", embedder=embedder)
