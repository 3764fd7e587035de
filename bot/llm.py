"""Answer-model backends, chosen by settings: `extractive` (no model), `local`, `openai`.

Optional SDKs are imported lazily, so the default install and the extractive path never load them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel

BACKENDS = ("extractive", "local", "openai")


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot start; the message says what to install or set."""


@dataclass(frozen=True)
class ModelConfig:
    backend: str = "extractive"
    timeout_s: float = 20.0
    max_tokens: int = 300
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "gpt-4o-mini"
    cache_dir: Path = Path(".supportbot/models")


def make_chat_model(config: ModelConfig) -> BaseChatModel | None:
    """The chat model for a backend, or None for the extractive backend."""
    if config.backend == "extractive":
        return None
    if config.backend == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:  # pragma: no cover - a dependency of the default install
            raise BackendUnavailable(
                "the openai backend needs langchain-openai: pip install langchain-openai"
            ) from exc
        if not config.openai_api_key:
            raise BackendUnavailable("the openai backend needs OPENAI_API_KEY (any value for local servers)")
        return ChatOpenAI(
            model=config.openai_model, base_url=config.openai_base_url, api_key=config.openai_api_key,  # type: ignore[arg-type]
            timeout=config.timeout_s, max_retries=0, temperature=0.0, max_completion_tokens=config.max_tokens,
        )
    if config.backend == "local":
        from bot.local_llm import LocalChatModel, LocalModelUnavailable

        try:
            return LocalChatModel(cache_dir=config.cache_dir, max_new_tokens=config.max_tokens,
                                  timeout_s=config.timeout_s)
        except LocalModelUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
    raise BackendUnavailable(
        f"unknown answer backend {config.backend!r}: choose one of {', '.join(BACKENDS)}"
    )
