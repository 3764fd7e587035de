"""The shared index pointer and reload lock on real Redis: workers agree, a dead holder's lock expires,
an outage keeps answers coming from the last version seen, and a reload that cannot coordinate stops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from adapters.redis_client import RedisGuard, connect
from adapters.redis_versions import RedisLock, RedisPointer
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase
from knowledge.reload import ReloadError, ReloadInProgress
from knowledge.versions import FilePointer, PointerState, PointerUnreadable
from tests.conftest import ARTICLES, REDIS_URL, free_port, start_redis, write_articles

needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server missing")


@pytest.fixture
def guards() -> Iterator[Callable[..., RedisGuard]]:
    """One guard per worker, each with its own connection, as separate processes would have."""
    made: list[RedisGuard] = []

    def make(url: str = REDIS_URL) -> RedisGuard:
        guard = RedisGuard(connect(url, timeout_s=0.25))
        made.append(guard)
        return guard

    yield make
    for g in made:
        g.close()


def state(n: int) -> PointerState:
    return PointerState(current=n, previous=n - 1 if n > 1 else None, swapped_at=1.0 * n,
                        reports={str(n): {"added": n}})


# -- the pointer --------------------------------------------------------------------------------------


def test_pointer_is_shared_and_is_configuration_without_a_ttl(
    guards: Callable[..., RedisGuard], shared: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    a = RedisPointer(guards(), prefix + "pointer", mirror=FilePointer(tmp_path / "a.json"))
    b = RedisPointer(guards(), prefix + "pointer")
    assert a.read() == PointerState() and b.read() == PointerState()
    a.swap(state(3))
    assert b.read() == state(3)  # another worker sees the swap on its next read
    assert shared.ttl(prefix + "pointer") == -1  # configuration: never expires
    assert FilePointer(tmp_path / "a.json").read() == state(3)  # the local copy follows


def test_pointer_is_restored_from_the_local_copy_when_redis_lost_it(
    guards: Callable[..., RedisGuard], shared: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    copy = FilePointer(tmp_path / "pointer.json")
    copy.swap(state(7))
    p = RedisPointer(guards(), prefix + "pointer", mirror=copy)
    assert p.read() == state(7)
    assert json.loads(shared.get(prefix + "pointer"))["current"] == 7
    shared.set(prefix + "pointer", json.dumps({"current": 8}))  # Redis wins once it has a pointer
    assert p.read().current == 8


def test_unreadable_pointer_in_redis_says_how_to_recover(
    guards: Callable[..., RedisGuard], shared: redis.Redis, prefix: str
) -> None:
    shared.set(prefix + "pointer", "{oops")
    with pytest.raises(PointerUnreadable, match="delete that key and run `supportbot ingest`"):
        RedisPointer(guards(), prefix + "pointer").read()


@needs_redis_server
def test_pointer_outage_serves_the_last_version_seen_and_refuses_to_swap(
    guards: Callable[..., RedisGuard], tmp_path: Path
) -> None:
    port = free_port()
    proc = start_redis(port)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        seen = RedisPointer(guards(url), "pointer")
        seen.swap(state(2))
        assert seen.read() == state(2)
        proc.kill()
        proc.wait()
        started = time.monotonic()
        assert seen.read() == state(2)  # answers keep coming from the live version
        assert time.monotonic() - started < 1.0
        with pytest.raises(PointerUnreadable, match="has not yet seen which index version is live"):
            RedisPointer(guards(url), "pointer").read()  # a worker started during the outage
        copy = FilePointer(tmp_path / "copy.json")
        copy.swap(state(2))
        assert RedisPointer(guards(url), "pointer", mirror=copy).read() == state(2)  # this host's copy
        with pytest.raises(ReloadError, match="could not switch the live index version"):
            seen.swap(state(3))
        with pytest.raises(ReloadError, match="could not take the reload lock"):
            RedisLock(guards(url), "lock").acquire()
    finally:
        proc.kill()
        proc.wait()


# -- the lock -----------------------------------------------------------------------------------------


def test_lock_is_exclusive_names_its_holder_and_only_the_holder_releases(
    guards: Callable[..., RedisGuard], shared: redis.Redis, prefix: str
) -> None:
    a = RedisLock(guards(), prefix + "lock", ttl_s=30)
    b = RedisLock(guards(), prefix + "lock", ttl_s=30)
    assert a.acquire() is True
    try:
        assert b.acquire() is False
        holder = b.holder()
        assert holder is not None and f"pid {os.getpid()} on " in holder
        assert 0 < shared.pttl(prefix + "lock") <= 30_000  # the lock expires if nobody renews it
        assert a.held() is True and b.held() is False
        b.release()  # not the holder: changes nothing
        assert b.acquire() is False
    finally:
        a.release()
    assert a.held() is False and b.holder() is None
    assert b.acquire() is True
    b.release()


def test_a_live_holder_keeps_its_lock_past_the_ttl(
    guards: Callable[..., RedisGuard], prefix: str
) -> None:
    a = RedisLock(guards(), prefix + "lock", ttl_s=0.6)
    assert a.acquire()
    try:
        time.sleep(1.5)  # 2.5 TTLs: only the heartbeat keeps it
        assert RedisLock(guards(), prefix + "lock", ttl_s=0.6).acquire() is False
        assert a.held() is True
    finally:
        a.release()


_HOLDER = """
import sys, time
from adapters.redis_client import RedisGuard, connect
from adapters.redis_versions import RedisLock
lock = RedisLock(RedisGuard(connect(sys.argv[1])), sys.argv[2], ttl_s=float(sys.argv[3]))
assert lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_of_a_killed_holder_expires(
    guards: Callable[..., RedisGuard], prefix: str
) -> None:
    ttl = 1.5
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, REDIS_URL, prefix + "lock", str(ttl)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        waiting = RedisLock(guards(), prefix + "lock", ttl_s=ttl)
        assert waiting.acquire() is False
        assert f"pid {child.pid} on" in (waiting.holder() or "")
        time.sleep(ttl)  # alive, it renews: still held after a full TTL
        assert waiting.acquire() is False
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed = time.monotonic()
        while not waiting.acquire():
            assert time.monotonic() - killed < ttl + 2, "the dead holder's lock never expired"
            time.sleep(0.05)
        assert time.monotonic() - killed <= ttl + 0.5
        waiting.release()
    finally:
        child.kill()
        child.wait()


# -- knowledge bases coordinated through Redis ----------------------------------------------------------


def shared_kb(
    guard: RedisGuard, prefix: str, data_dir: Path, embedder: MiniLMEmbedder, name: str,
    host: tuple[str, int] | None = None, ttl_s: float = 30,
) -> KnowledgeBase:
    return KnowledgeBase.open(
        data_dir=data_dir, name=name, embedder=embedder,
        chroma_host=host[0] if host else None, chroma_port=host[1] if host else 8000,
        pointer=RedisPointer(guard, prefix + name + ":pointer"),
        lock=RedisLock(guard, prefix + name + ":lock", ttl_s=ttl_s),
    )


def test_two_workers_on_a_chroma_server_serve_a_swap_at_once(
    guards: Callable[..., RedisGuard], prefix: str, tmp_path: Path, embedder: MiniLMEmbedder,
    chroma_server: tuple[str, int],
) -> None:
    name = f"w{uuid.uuid4().hex[:8]}"
    admin = shared_kb(guards(), prefix, tmp_path / "a", embedder, name, chroma_server)
    worker = shared_kb(guards(), prefix, tmp_path / "b", embedder, name, chroma_server)
    assert worker.live() is None
    hc = write_articles(tmp_path / "hc")
    admin.reload(hc)
    assert worker.search("how long do refunds take", k=1)[0].doc_id == "billing/refunds.md"
    assert "30 days" in worker.search("refund annual plan", k=1)[0].answer_text

    (hc / "billing/refunds.md").write_text(
        ARTICLES["billing/refunds.md"].replace("within 30 days", "within 45 days"), encoding="utf-8")
    report = admin.reload(hc)
    assert report.updated == ["billing/refunds.md"]
    assert worker.live() is not None and worker.live().version == report.version  # type: ignore[union-attr]
    assert "45 days" in worker.search("refund annual plan", k=1)[0].answer_text  # no restart

    assert worker.lock.acquire()  # an admin elsewhere is reloading
    try:
        with pytest.raises(ReloadInProgress, match=f"pid {os.getpid()} on"):
            admin.reload(hc)
    finally:
        worker.lock.release()
    assert worker.status().reload_running is None


def test_a_reload_that_loses_its_lock_switches_nothing(
    guards: Callable[..., RedisGuard], shared: redis.Redis, prefix: str, tmp_path: Path,
    embedder: MiniLMEmbedder,
) -> None:
    name = f"w{uuid.uuid4().hex[:8]}"
    kb = shared_kb(guards(), prefix, tmp_path / "d", embedder, name)
    hc = write_articles(tmp_path / "hc")
    first = kb.reload(hc)
    (hc / "billing/new.md").write_text("---\ntitle: New\n---\nA new article about invoices.\n")

    def steal(stage: str, done: int, total: int) -> None:  # the lock expires mid-reload
        shared.delete(prefix + name + ":lock")

    with pytest.raises(ReloadError, match="lost the reload lock"):
        kb.reload(hc, progress=steal)
    assert kb.pointer.read().current == first.version
    assert kb.status().documents == len(ARTICLES)
    again = kb.reload(hc)  # the abandoned work is undone and the next reload goes through
    assert again.added == ["billing/new.md"] and kb.status().documents == len(ARTICLES) + 1


def test_a_swap_is_announced_and_other_workers_load_the_new_version_before_they_are_asked(
    guards: Callable[..., RedisGuard], prefix: str, tmp_path: Path, embedder: MiniLMEmbedder,
    chroma_server: tuple[str, int],
) -> None:
    from adapters.server.watch import IndexWatcher

    name = f"w{uuid.uuid4().hex[:8]}"
    admin = shared_kb(guards(), prefix, tmp_path / "a", embedder, name, chroma_server)
    worker = shared_kb(guards(), prefix, tmp_path / "b", embedder, name, chroma_server)
    hc = write_articles(tmp_path / "hc")
    admin.reload(hc)
    assert isinstance(worker.pointer, RedisPointer)
    watcher = IndexWatcher(worker, url=REDIS_URL, channel=worker.pointer.channel).start()
    try:
        time.sleep(0.5)  # subscribed
        report = admin.reload(hc)  # a new version (nothing changed: still a swap)
        deadline = time.monotonic() + 30
        while watcher.loaded < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.loaded == 1
        # loaded without a question: the worker's cached live version is the new one already
        assert worker._live is not None and worker._live.version == report.version
    finally:
        watcher.stop()
    assert not watcher._thread.is_alive()
