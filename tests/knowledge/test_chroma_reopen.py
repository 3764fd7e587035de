"""When another process writes the embedded index, this process's chromadb client goes stale: every
later read that includes embeddings raises ``InternalError: Error finding id`` until the client is
replaced (reads without embeddings still work). The store reopens its client once and carries on
(knowledge/store.py, ChromaStore)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from chromadb.api import ClientAPI
from chromadb.errors import InternalError

from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase
from knowledge.store import ChromaStore, open_client
from tests.conftest import ARTICLES, write_articles

NEW_ARTICLE = {
    "billing/vouchers.md": """---
title: Redeem a gift voucher
url: https://help.example.test/billing/vouchers
---
Gift vouchers start with the letters QZX and are redeemed under Billing, then Vouchers.
""",
}

WRITER = """
import sys
from pathlib import Path
from knowledge.kb import KnowledgeBase
KnowledgeBase.open(data_dir=Path(sys.argv[1]), name=sys.argv[2]).reload(Path(sys.argv[3]))
"""


def reload_from_another_process(data_dir: Path, name: str, folder: Path) -> None:
    """What `supportbot ingest` on another host, or another tool, does to the directory we serve."""
    subprocess.run([sys.executable, "-c", WRITER, str(data_dir), name, str(folder)], check=True,
                   capture_output=True, timeout=300)


@pytest.fixture
def v2(tmp_path: Path) -> Path:
    return write_articles(tmp_path / "v2", {**ARTICLES, **NEW_ARTICLE})


def test_reader_reopens_its_client_after_another_process_writes(
    tmp_path: Path, embedder: MiniLMEmbedder, helpcentre: Path, v2: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    kb = KnowledgeBase.open(data_dir=data, name="test", embedder=embedder)
    kb.reload(helpcentre)
    # a second reader of the same directory in this process shares chromadb's cached system for it
    other = KnowledgeBase.open(data_dir=data, name="test", embedder=embedder)
    assert kb.search("refund")[0].doc_id == "billing/refunds.md"
    first = other.live()
    assert first is not None and first.version == 1

    reload_from_another_process(data, "test", v2)

    with caplog.at_level(logging.WARNING, logger="knowledge.store"):
        live = kb.live()  # without the reopen: InternalError ("Error finding id") from read_version
    assert live is not None and live.version == 2
    assert "billing/vouchers.md" in live.doc_ids
    assert any("QZX" in text for text in live.texts)
    assert kb.search("gift voucher QZX")[0].doc_id == "billing/vouchers.md"
    assert kb.store.generation == 1
    warnings = [r for r in caplog.records if r.name == "knowledge.store"]
    assert len(warnings) == 1 and "InternalError" in warnings[0].getMessage()
    assert "QZX" not in warnings[0].getMessage()

    # the other reader recovers too, on its own client, and the first is not reopened again
    other_live = other.live()
    assert other_live is not None and "billing/vouchers.md" in other_live.doc_ids
    assert other.store.generation == 1 and kb.store.generation == 1
    assert kb.store.count_visible("test", 2) == live.size


def test_a_second_failure_is_raised(tmp_path: Path, kb: KnowledgeBase, helpcentre: Path, v2: Path) -> None:
    """A reopen that brings back the same stale system (plain `open_client` while another client of the
    directory holds it) fails again: that failure is raised, after exactly one reopen."""
    data = tmp_path / "data"
    kb.reload(helpcentre)
    opened: list[ClientAPI] = []

    def reopen() -> ClientAPI:
        opened.append(open_client(data_dir=data))
        return opened[-1]

    store = ChromaStore(open_client(data_dir=data), reopen=reopen)
    assert len(list(store.read_version("test", 1, with_embeddings=True))) == kb.store.count_visible("test", 1)

    reload_from_another_process(data, "test", v2)

    assert store.count_visible("test", 2) > 0  # reads without embeddings still work: no reopen
    assert store.generation == 0
    with pytest.raises(InternalError, match="Error finding id"):
        list(store.read_version("test", 2, with_embeddings=True))
    assert len(opened) == 1 and store.generation == 1


def test_concurrent_failures_reopen_once(tmp_path: Path, kb: KnowledgeBase, helpcentre: Path, v2: Path) -> None:
    data = tmp_path / "data"
    kb.reload(helpcentre)
    before = kb.store.count_visible("test", 1)

    reload_from_another_process(data, "test", v2)

    threads, start = 8, threading.Barrier(8)
    counts: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        start.wait()
        try:
            chunks = list(kb.store.read_version("test", 2, with_embeddings=True))
            counts.append(len(chunks))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=read) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not errors, errors
    assert len(counts) == threads and len(set(counts)) == 1 and counts[0] > before
    assert kb.store.generation == 1
