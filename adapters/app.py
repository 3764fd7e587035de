"""The one place that wires settings into the knowledge base and (later) the bot and its adapters."""

from __future__ import annotations

from pathlib import Path

from adapters.settings import Settings
from bot.coverage import CoveragePolicy
from bot.engine import AnswerEngine
from bot.llm import ModelConfig, make_chat_model
from knowledge.embeddings import MiniLMEmbedder
from knowledge.kb import KnowledgeBase

SAMPLE_HELPCENTRE = Path(__file__).resolve().parent.parent / "knowledge" / "sample_helpcentre"


def build_embedder(settings: Settings) -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=settings.embed_batch_size)


def build_kb(
    settings: Settings, *, name: str | None = None, embedder: MiniLMEmbedder | None = None
) -> KnowledgeBase:
    return KnowledgeBase.open(
        data_dir=settings.data_dir,
        name=name or settings.kb,
        chroma_host=settings.chroma_host,
        chroma_port=settings.chroma_port,
        embedder=embedder or build_embedder(settings),
        max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
    )


def model_config(settings: Settings) -> ModelConfig:
    return ModelConfig(
        backend=settings.llm, timeout_s=settings.llm_timeout_s, max_tokens=settings.llm_max_tokens,
        openai_base_url=settings.openai_base_url, openai_api_key=settings.openai_api_key,
        openai_model=settings.openai_model, cache_dir=settings.data_dir / "models",
    )


def build_engine(settings: Settings, kb: KnowledgeBase) -> AnswerEngine:
    """The answer engine for a knowledge base, with the backend the settings choose."""
    config = model_config(settings)
    return AnswerEngine(knowledge=kb, llm=make_chat_model(config), backend=config.backend,
                        timeout_s=config.timeout_s,
                        policy=CoveragePolicy(threshold=settings.abstain_threshold))
