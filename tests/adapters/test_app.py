"""The app factory turns settings (read from the environment) into the store and limits the workers use."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.app import build_kb, build_store, index_namespace, store_limits
from adapters.redis_store import RedisStore
from adapters.redis_versions import RedisLock, RedisPointer
from adapters.settings import Settings
from bot.store import InMemoryStore
from tests.conftest import REDIS_URL


def test_conversation_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SUPPORTBOT_HISTORY_TURNS": "6", "SUPPORTBOT_HISTORY_TTL_DAYS": "0.5",
                        "SUPPORTBOT_DEDUPE_TTL_S": "120", "SUPPORTBOT_RATE_PER_MIN": "30",
                        "SUPPORTBOT_RATE_BURST": "3", "SUPPORTBOT_FEEDBACK_TTL_DAYS": "2"}.items():
        monkeypatch.setenv(name, value)
    lim = store_limits(Settings())
    assert (lim.history_turns, lim.history_ttl_s, lim.dedupe_ttl_s) == (6, 43200, 120)
    assert (lim.rate_per_s, lim.burst, lim.feedback_ttl_s) == (0.5, 3, 172800)


def test_the_store_is_redis_only_when_redis_url_is_set(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    local = build_store(Settings())
    assert isinstance(local.store, InMemoryStore) and not local.shared
    assert local.where == "this process only (REDIS_URL unset)"
    shared = build_store(Settings(redis_url=REDIS_URL, redis_prefix=prefix))
    assert isinstance(shared.store, RedisStore) and shared.shared
    assert shared.where == f"Redis {REDIS_URL.removeprefix('redis://')}"
    shared.store.close()


def test_a_pointer_names_its_chroma(tmp_path: Path, embedder, prefix: str) -> None:  # noqa: ANN001
    a = Settings(data_dir=tmp_path / "a", redis_url=REDIS_URL, redis_prefix=prefix)
    b = Settings(data_dir=tmp_path / "b", redis_url=REDIS_URL, redis_prefix=prefix)
    server = Settings(data_dir=tmp_path / "a", chroma_host="chroma.internal", chroma_port=8000, redis_prefix=prefix)
    names = {index_namespace(s, "default") for s in (a, b, server)}
    assert len(names) == 3 and all(n.startswith(prefix + "kb:") and n.endswith(":default:") for n in names)
    kb = build_kb(a, embedder=embedder)
    assert isinstance(kb.pointer, RedisPointer) and isinstance(kb.lock, RedisLock)
    assert kb.pointer.key == index_namespace(a, "default") + "pointer"
    assert "pointer and reload lock in Redis" in kb.status().backend
