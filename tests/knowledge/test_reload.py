"""Reloads: incremental, atomic, reversible, one at a time; embedded and server Chroma."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase
from knowledge.reload import ReloadError, ReloadInProgress
from knowledge.store import OPEN
from knowledge.versions import FileLock
from tests.conftest import ARTICLES, write_articles

ROOT = Path(__file__).resolve().parents[2]


def versions_marked(kb: KnowledgeBase) -> set[int]:
    """Every version number the stored records mention (where they start or were retired)."""
    return {v for _, m in kb.store.all_metadata(kb.name) for v in (m["v_from"], m["v_to"]) if v < OPEN}


def only_live_and_previous_kept(kb: KnowledgeBase) -> bool:
    st = kb.status()
    keep = {v for v in (st.current, st.previous) if v is not None}
    return all(any(m["v_from"] <= v < m["v_to"] for v in keep) for _, m in kb.store.all_metadata(kb.name))


def top_doc(kb: KnowledgeBase, query: str) -> str:
    hits = kb.search(query, k=1)
    assert hits, f"no hit for {query!r}"
    return hits[0].doc_id


def test_first_ingest_indexes_every_article(kb: KnowledgeBase, helpcentre: Path) -> None:
    report = kb.reload(helpcentre)
    assert sorted(report.added) == sorted(ARTICLES)
    assert report.updated == report.removed == report.unchanged == []
    assert report.chunks == report.chunks_embedded > len(ARTICLES)  # headings split articles
    status = kb.status()
    assert (status.current, status.previous, status.documents) == (1, None, len(ARTICLES))
    assert top_doc(kb, "how do I get my money back for an annual plan") == "billing/refunds.md"


def test_incremental_reload_reembeds_only_changes(kb: KnowledgeBase, helpcentre: Path) -> None:
    kb.reload(helpcentre)
    v1 = kb.live()
    assert v1 is not None
    before = {m["doc_id"]: v1.vectors[i] for i, m in enumerate(v1.metadatas) if m["chunk_index"] == 0}
    records_before = dict(kb.store.all_metadata("test"))

    refunds = helpcentre / "billing/refunds.md"
    refunds.write_text(refunds.read_text().replace("30 days", "45 days"), encoding="utf-8")
    (helpcentre / "mobile/offline.md").unlink()
    (helpcentre / "account").mkdir()
    (helpcentre / "account/rename.md").write_text(
        "---\ntitle: Rename your workspace\n---\nOpen Settings and type a new workspace name.\n"
    )
    report = kb.reload(helpcentre)

    assert report.added == ["account/rename.md"]
    assert report.updated == ["billing/refunds.md"]
    assert report.removed == ["mobile/offline.md"]
    assert sorted(report.unchanged) == ["security/two-factor.md", "troubleshooting/error-e4011.md"]
    new_chunks = sum(1 for m in kb.live().metadatas if m["doc_id"] in {"account/rename.md", "billing/refunds.md"})
    assert report.chunks_embedded == new_chunks
    v2 = kb.live()
    assert v2 is not None and v2.version == 2
    for i, m in enumerate(v2.metadatas):
        if m["chunk_index"] == 0 and m["doc_id"] in report.unchanged:
            assert np.allclose(v2.vectors[i], before[m["doc_id"]])
    # unchanged chunks are the very same records, written once; replaced ones are kept for rollback
    records_after = dict(kb.store.all_metadata("test"))
    for rid, m in records_before.items():
        if m["doc_id"] in report.unchanged:
            assert records_after[rid]["v_from"] == 1 and records_after[rid]["v_to"] == OPEN
        else:
            assert records_after[rid]["v_to"] == 2
    assert "45 days" in " ".join(h.text for h in kb.search("refund annual plan", k=3))
    assert all(h.doc_id != "mobile/offline.md" for h in kb.search("offline phone app", k=5))


def test_unchanged_reload_embeds_nothing(kb: KnowledgeBase, helpcentre: Path) -> None:
    kb.reload(helpcentre)
    report = kb.reload(helpcentre)
    assert report.chunks_embedded == 0 and len(report.unchanged) == len(ARTICLES)
    assert report.version == 2


def test_failed_reload_keeps_previous_version_serving(kb: KnowledgeBase, helpcentre: Path) -> None:
    kb.reload(helpcentre)
    (helpcentre / "billing/refunds.md").write_text("---\ntitle: Refunds\n---\nNo refunds at all.\n")

    def explode(stage: str, done: int, total: int) -> None:
        if stage == "write":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        kb.reload(helpcentre, progress=explode)
    assert kb.status().current == 1
    assert "30 days" in " ".join(h.text for h in kb.search("refund annual plan", k=3))
    assert versions_marked(kb) == {1}  # the half-built version was undone
    assert all(m["v_to"] == OPEN for _, m in kb.store.all_metadata("test"))
    assert kb.lock.holder() is None  # and the lock released


def test_readers_see_old_version_until_the_swap(tmp_path: Path, kb: KnowledgeBase, helpcentre: Path,
                                                embedder: MiniLMEmbedder) -> None:
    kb.reload(helpcentre)
    other_worker = KnowledgeBase.open(data_dir=tmp_path / "data", name="test", embedder=embedder)
    assert other_worker.live().version == 1
    (helpcentre / "billing/refunds.md").write_text(
        "---\ntitle: Request a refund\n---\nAnnual plans are refunded within 60 days.\n"
    )
    seen_during: list[int] = []

    def peek(stage: str, done: int, total: int) -> None:
        if stage == "write":
            seen_during.append(other_worker.live().version)

    kb.reload(helpcentre, progress=peek)
    assert seen_during and set(seen_during) == {1}
    assert other_worker.live().version == 2  # the swap is seen at once, no restart
    assert "60 days" in other_worker.search("refund", k=1)[0].text


def test_second_reload_while_one_runs_is_refused(kb: KnowledgeBase, helpcentre: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        kb.lock.path.parent.mkdir(parents=True, exist_ok=True)
        kb.lock.path.write_text(
            f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}", "since": {__import__("time").time()}}}'
        )
        with pytest.raises(ReloadInProgress, match="already running"):
            kb.reload(helpcentre)
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and the next reload takes it over
    assert kb.reload(helpcentre).version == 1


def test_killed_reload_leaves_previous_version_and_no_stuck_lock(tmp_path: Path, kb: KnowledgeBase,
                                                                  helpcentre: Path) -> None:
    kb.reload(helpcentre)
    (helpcentre / "billing/refunds.md").write_text("---\ntitle: Refunds\n---\nNo refunds.\n")
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from knowledge.kb import KnowledgeBase
        kb = KnowledgeBase.open(data_dir=Path({str(tmp_path / 'data')!r}), name="test")
        def die(stage, done, total):
            if stage == "write" and done > 0 and done == total:  # all written; pointer not moved yet
                os.kill(os.getpid(), signal.SIGKILL)
        kb.reload(Path({str(helpcentre)!r}), progress=die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert kb.status().current == 1
    assert kb.lock.holder() is not None  # the dead process's lock file is still there...
    assert any(m["v_from"] == 2 for _, m in kb.store.all_metadata("test"))  # ...and its half-built chunks
    assert "30 days" in " ".join(h.text for h in kb.search("refund annual plan", k=3))

    report = kb.reload(helpcentre)  # ...but the next reload takes over and cleans up
    assert report.version == 3 and report.updated == ["billing/refunds.md"]
    assert versions_marked(kb) == {1, 3}
    assert only_live_and_previous_kept(kb)


def test_stale_lock_by_age(tmp_path: Path) -> None:
    now = [1000.0]
    lock = FileLock(tmp_path / "l.lock", ttl_s=60, clock=lambda: now[0])
    assert lock.acquire()
    other = FileLock(tmp_path / "l.lock", ttl_s=60, clock=lambda: now[0])
    assert not other.acquire()
    now[0] += 61
    assert other.acquire()


def test_rollback_switches_back_and_forth(kb: KnowledgeBase, helpcentre: Path) -> None:
    with pytest.raises(ReloadError, match="no previous version"):
        kb.rollback()
    kb.reload(helpcentre)
    (helpcentre / "billing/refunds.md").write_text(
        "---\ntitle: Request a refund\n---\nRefunds take 90 days now.\n"
    )
    kb.reload(helpcentre)
    assert "90 days" in kb.search("refund", k=1)[0].text
    state = kb.rollback()
    assert (state.current, state.previous) == (1, 2)
    assert "30 days" in " ".join(h.text for h in kb.search("refund annual plan", k=3))
    kb.rollback()
    assert kb.status().current == 2


def test_refuses_to_replace_with_empty(kb: KnowledgeBase, helpcentre: Path, tmp_path: Path) -> None:
    kb.reload(helpcentre)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReloadError, match="empty"):
        kb.reload(empty)
    assert kb.status().documents == len(ARTICLES)
    assert kb.reload(empty, allow_empty=True).documents == 0


def test_old_versions_are_garbage_collected(kb: KnowledgeBase, helpcentre: Path) -> None:
    refunds = helpcentre / "billing/refunds.md"
    original = refunds.read_text()
    for n in range(4):
        refunds.write_text(original + f"\nEdit number {n}.\n", encoding="utf-8")
        assert kb.reload(helpcentre).chunks_embedded > 0
    assert kb.status().current == 4
    assert only_live_and_previous_kept(kb)
    refund_records = [m for _, m in kb.store.all_metadata("test") if m["doc_id"] == "billing/refunds.md"]
    assert {m["v_from"] for m in refund_records} == {3, 4}


def test_rollback_then_reload_builds_on_the_rolled_back_version(kb: KnowledgeBase, helpcentre: Path) -> None:
    kb.reload(helpcentre)
    (helpcentre / "mobile/offline.md").unlink()
    kb.reload(helpcentre)  # v2 removed the offline article
    kb.rollback()  # back to v1: the offline article serves again
    assert "mobile/offline.md" in {h.doc_id for h in kb.search("offline phone app", k=3)}
    write_articles(helpcentre, {"mobile/offline.md": "---\ntitle: Offline\n---\nOffline works for 7 days.\n"})
    report = kb.reload(helpcentre)
    assert report.version == 3 and report.previous == 1  # numbers are never reused
    assert report.updated == ["mobile/offline.md"] and len(report.unchanged) == 3
    assert "7 days" in kb.search("offline phone app", k=1)[0].text
    assert versions_marked(kb) == {1, 3} and only_live_and_previous_kept(kb)


def test_chroma_server_mode(tmp_path: Path, chroma_server: tuple[str, int], embedder: MiniLMEmbedder) -> None:
    host, port = chroma_server
    helpcentre = write_articles(tmp_path / "hc")
    worker_a = KnowledgeBase.open(data_dir=tmp_path / "a", name="srv", chroma_host=host,
                                  chroma_port=port, embedder=embedder)
    report = worker_a.reload(helpcentre)
    assert report.documents == len(ARTICLES)
    assert worker_a.backend.startswith("chroma server")
    assert worker_a.search("error E-4011 calendar", k=1)[0].doc_id == "troubleshooting/error-e4011.md"
    (helpcentre / "mobile/offline.md").unlink()
    report = worker_a.reload(helpcentre)
    assert report.removed == ["mobile/offline.md"] and report.chunks_embedded == 0
    assert versions_marked(worker_a) == {1, 2} and only_live_and_previous_kept(worker_a)
    worker_b = KnowledgeBase.open(data_dir=tmp_path / "a", name="srv", chroma_host=host,
                                  chroma_port=port, embedder=embedder)
    assert worker_b.live().version == 2 and worker_b.status().documents == len(ARTICLES) - 1
