"""The one place that wires settings into the knowledge base, the answer engine, the conversation
store and the turn handler that every adapter runs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters.redis_client import RedisGuard, connect, describe
from adapters.redis_store import RedisStore
from adapters.redis_versions import RedisLock, RedisPointer
from adapters.settings import Settings
from bot.coverage import CoveragePolicy
from bot.engine import AnswerEngine
from bot.llm import ModelConfig, make_chat_model
from bot.store import DAY_S, ConversationStore, InMemoryStore, StoreLimits
from bot.voice import ProfileVoice, Stylist, VoiceLibrary, VoiceProfile
from bot.voice.lora import AdapterStore
from bot.voice.profile import PROFILES_DIR
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase, pointer_path
from knowledge.versions import FilePointer, pid_alive

log = logging.getLogger(__name__)

SAMPLE_HELPCENTRE = Path(__file__).resolve().parent.parent / "knowledge" / "sample_helpcentre"


def _servers_dir(settings: Settings) -> Path:
    return settings.data_dir / "servers"


@contextmanager
def holding_embedded_index(settings: Settings) -> Iterator[None]:
    """While a `serve` process runs on embedded Chroma, it marks the data directory, so that another
    process does not write to it underneath (Chroma allows one writer per directory: a serving process
    that had read it answered every later question with an error after an outside `ingest`)."""
    if settings.chroma_host:
        yield
        return
    marker = _servers_dir(settings) / f"{socket.gethostname()}-{os.getpid()}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}),
                      encoding="utf-8")
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def embedded_index_server(settings: Settings) -> str | None:
    """"pid N since HH:MM" of a live `serve` process holding this embedded data directory, or None
    (stale marks of dead processes on this host are removed)."""
    if settings.chroma_host or not _servers_dir(settings).is_dir():
        return None
    for marker in sorted(_servers_dir(settings).glob("*.json")):
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            pid, host = int(info["pid"]), str(info["host"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if host == socket.gethostname() and not pid_alive(pid):
            marker.unlink(missing_ok=True)
            continue
        since = time.strftime("%H:%M", time.localtime(float(info.get("since", 0))))
        return f"pid {pid} on {host}, since {since}"
    return None


def build_embedder(settings: Settings) -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=settings.embed_batch_size)


def build_redis(settings: Settings) -> RedisGuard | None:
    """One fail-fast connection for the store, the pointer and the lock; None when REDIS_URL is unset."""
    if not settings.redis_url:
        return None
    return RedisGuard(connect(settings.redis_url, timeout_s=settings.redis_timeout_s))


def index_namespace(settings: Settings, name: str) -> str:
    """Redis key prefix of one knowledge base in one Chroma: a pointer names versions of that store
    only (an embedded Chroma is one directory on one host; a server is its address)."""
    if settings.chroma_host:
        where = f"chroma://{settings.chroma_host}:{settings.chroma_port}"
    else:
        where = f"embedded://{socket.gethostname()}{settings.data_dir.resolve()}"
    return f"{settings.redis_prefix}kb:{hashlib.sha1(where.encode()).hexdigest()[:12]}:{name}:"


def build_kb(
    settings: Settings,
    *,
    name: str | None = None,
    embedder: MiniLMEmbedder | None = None,
    redis: RedisGuard | None = None,
) -> KnowledgeBase:
    """The knowledge base; with Redis, its live-version pointer and reload lock are shared there."""
    name = name or settings.kb
    redis = redis or build_redis(settings)
    pointer = lock = None
    coordination = ""
    if redis is not None:
        ns = index_namespace(settings, name)
        mirror = FilePointer(pointer_path(settings.data_dir, name))
        pointer = RedisPointer(redis, ns + "pointer", mirror=mirror)
        lock = RedisLock(redis, ns + "lock", ttl_s=settings.reload_lock_ttl_s)
        coordination = f"pointer and reload lock in Redis {describe(redis.client)}"
    return KnowledgeBase.open(
        data_dir=settings.data_dir,
        name=name,
        chroma_host=settings.chroma_host,
        chroma_port=settings.chroma_port,
        embedder=embedder or build_embedder(settings),
        max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
        pointer=pointer,
        lock=lock,
        coordination=coordination,
    )


def model_config(settings: Settings) -> ModelConfig:
    return ModelConfig(
        backend=settings.llm, timeout_s=settings.llm_timeout_s, max_tokens=settings.llm_max_tokens,
        openai_base_url=settings.openai_base_url, openai_api_key=settings.openai_api_key,
        openai_model=settings.openai_model, cache_dir=settings.data_dir / "models",
    )


def build_engine(settings: Settings, kb: KnowledgeBase, *, answer_threads: int = 4,
                 voice: str | None = None) -> AnswerEngine:
    """The answer engine for a knowledge base, with the backend the settings choose; one model worker
    per answer thread, so model calls never queue. ``voice`` overrides the default voice profile."""
    config = model_config(settings)
    return AnswerEngine(knowledge=kb, llm=make_chat_model(config), backend=config.backend,
                        timeout_s=config.timeout_s, model_workers=max(1, answer_threads),
                        policy=CoveragePolicy(threshold=settings.abstain_threshold),
                        voice=build_voice(settings, default=voice))


def voice_library(settings: Settings) -> VoiceLibrary:
    return VoiceLibrary(settings.voice_dir or PROFILES_DIR)


def build_voice(settings: Settings, *, default: str | None = None) -> ProfileVoice:
    """The voice profiles (per channel by the policy, else ``default`` or SUPPORTBOT_VOICE), with each
    profile's active LoRA adapter, if one has been activated (`supportbot voice activate`)."""
    return ProfileVoice(voice_library(settings), default=settings.voice if default is None else default,
                        stylists=ActiveAdapters(settings))


def adapter_store(settings: Settings) -> AdapterStore:
    """Trained voice adapters live beside the profiles (SUPPORTBOT_VOICE_DIR) or in the data dir."""
    root = settings.voice_dir / "adapters" if settings.voice_dir else settings.data_dir / "voice" / "adapters"
    return AdapterStore(root)


class ActiveAdapters:
    """Each profile's active voice adapter, loaded on first use and kept; a version activated while
    the server runs is picked up on the next answer. Without the local extras (torch, peft), or if the
    adapter cannot load, answers keep the rules-only voice and one warning says why."""

    def __init__(self, settings: Settings) -> None:
        self.store = adapter_store(settings)
        self.cache_dir = settings.data_dir / "models"
        self._loaded: dict[Path, Stylist | None] = {}
        self._lock = threading.Lock()

    def __call__(self, profile: VoiceProfile) -> Stylist | None:
        active = self.store.active(profile.name)
        if active is None:
            return None
        with self._lock:
            if active.path not in self._loaded:
                self._loaded[active.path] = self._load(active.path)
            return self._loaded[active.path]

    def _load(self, path: Path) -> Stylist | None:
        try:
            from bot.voice.lora import LoraStylist

            return LoraStylist(path, cache_dir=self.cache_dir)
        except Exception as exc:
            log.warning("voice adapter %s cannot be loaded (%s: %s): rules only", path,
                        type(exc).__name__, exc)
            return None


def store_limits(settings: Settings) -> StoreLimits:
    return StoreLimits(
        history_turns=settings.history_turns,
        history_ttl_s=max(1, round(settings.history_ttl_days * DAY_S)),
        dedupe_ttl_s=settings.dedupe_ttl_s,
        rate_per_s=settings.rate_per_min / 60,
        burst=settings.rate_burst,
        feedback_ttl_s=max(1, round(settings.feedback_ttl_days * DAY_S)),
    )


@dataclass(frozen=True)
class StoreChoice:
    store: ConversationStore
    shared: bool  # True: Redis, shared by every worker
    where: str  # for banners: "Redis 127.0.0.1:6379/0" or "this process only (REDIS_URL unset)"


def build_store(settings: Settings, redis: RedisGuard | None = None) -> StoreChoice:
    """Redis when REDIS_URL is set, otherwise the in-process twin (which logs that it is)."""
    redis = redis or build_redis(settings)
    limits = store_limits(settings)
    if redis is None:
        return StoreChoice(InMemoryStore(limits=limits), False, "this process only (REDIS_URL unset)")
    store = RedisStore(guard=redis, limits=limits, prefix=settings.redis_prefix)
    return StoreChoice(store, True, f"Redis {describe(redis.client)}")
