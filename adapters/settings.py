"""The one place that reads the environment (and `.env`); everything else takes keyword arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """supportbot's settings. Each field reads the environment variable named in its alias."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        Path(".supportbot"),
        validation_alias=AliasChoices("SUPPORTBOT_DATA_DIR", "data_dir"),
        description="Where the index (embedded Chroma), its version pointer, lock and caches live.",
    )
    kb: str = Field(
        "default",
        validation_alias=AliasChoices("SUPPORTBOT_KB", "kb"),
        description="Name of the knowledge base used when a command names none.",
    )
    chroma_host: str | None = Field(
        None,
        validation_alias=AliasChoices("CHROMA_HOST", "chroma_host"),
        description="Chroma server host; unset means embedded Chroma under the data dir.",
    )
    chroma_port: int = Field(8000, validation_alias=AliasChoices("CHROMA_PORT", "chroma_port"))
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "redis_url"),
        description="Redis for conversation state, the index pointer and the reload lock, shared by every "
        "worker. Unset: state stays in the process (demo, one-off CLI use).",
    )
    redis_timeout_s: float = Field(
        0.25, validation_alias=AliasChoices("SUPPORTBOT_REDIS_TIMEOUT_S", "redis_timeout_s"), gt=0, le=5,
        description="Socket and connect timeout of every Redis call (no retries): a slow Redis must not "
        "eat Slack's 3-second budget.",
    )
    redis_prefix: str = Field(
        "sb:", validation_alias=AliasChoices("SUPPORTBOT_REDIS_PREFIX", "redis_prefix"),
        description="Prefix of every key the bot writes (several deployments can share one Redis).",
    )
    history_turns: int = Field(
        20, validation_alias=AliasChoices("SUPPORTBOT_HISTORY_TURNS", "history_turns"), ge=1, le=1000,
        description="Turns of conversation kept per thread (a question and its answer are two).",
    )
    history_ttl_days: float = Field(
        7.0, validation_alias=AliasChoices("SUPPORTBOT_HISTORY_TTL_DAYS", "history_ttl_days"), gt=0,
        description="A thread's history expires this long after its last message.",
    )
    dedupe_ttl_s: int = Field(
        3600, validation_alias=AliasChoices("SUPPORTBOT_DEDUPE_TTL_S", "dedupe_ttl_s"), ge=60,
        description="How long a message's identity is remembered: retries and redeliveries get one answer.",
    )
    rate_per_min: float = Field(
        10.0, validation_alias=AliasChoices("SUPPORTBOT_RATE_PER_MIN", "rate_per_min"), gt=0,
        description="Questions per minute each user may ask once the burst is spent.",
    )
    rate_burst: int = Field(
        5, validation_alias=AliasChoices("SUPPORTBOT_RATE_BURST", "rate_burst"), ge=1,
        description="Questions a user may ask in quick succession before the rate applies.",
    )
    feedback_ttl_days: float = Field(
        90.0, validation_alias=AliasChoices("SUPPORTBOT_FEEDBACK_TTL_DAYS", "feedback_ttl_days"), gt=0,
        description="How long ratings, unanswered questions and daily counters are kept for reports.",
    )
    reload_lock_ttl_s: float = Field(
        30.0, validation_alias=AliasChoices("SUPPORTBOT_RELOAD_LOCK_TTL_S", "reload_lock_ttl_s"), ge=1,
        description="The shared reload lock expires this long after its holder stops renewing it (dies).",
    )
    embed_batch_size: int = Field(
        64, validation_alias=AliasChoices("SUPPORTBOT_EMBED_BATCH", "embed_batch_size"), ge=1
    )
    max_file_mb: float = Field(
        10.0, validation_alias=AliasChoices("SUPPORTBOT_MAX_FILE_MB", "max_file_mb"), gt=0
    )

    llm: str = Field(
        "extractive",
        validation_alias=AliasChoices("SUPPORTBOT_LLM", "llm"),
        description="Answer backend: extractive (no model, default), local (SmolLM2), openai.",
    )
    llm_timeout_s: float = Field(
        20.0, validation_alias=AliasChoices("SUPPORTBOT_LLM_TIMEOUT_S", "llm_timeout_s"), gt=0
    )
    llm_max_tokens: int = Field(
        300, validation_alias=AliasChoices("SUPPORTBOT_LLM_MAX_TOKENS", "llm_max_tokens"), ge=16
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="Any OpenAI-compatible endpoint: OpenAI, Azure, vLLM, Ollama, llama.cpp server.",
    )
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_model: str = Field(
        "gpt-4o-mini", validation_alias=AliasChoices("SUPPORTBOT_OPENAI_MODEL", "openai_model")
    )

    abstain_threshold: float = Field(
        0.55, validation_alias=AliasChoices("SUPPORTBOT_ABSTAIN_THRESHOLD", "abstain_threshold"),
        description="Coverage score below which the bot says the help centre doesn't cover a question "
        "(0.55 answers nearly every covered question; 0.75 strict: declines more, answers less).",
    )

    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=AliasChoices("SUPPORTBOT_LOG_FORMAT", "log_format"),
        description="text for people, json for a log pipeline (one object a line). Message text, tokens "
        "and secrets are never logged.",
    )

    # --- the server (supportbot serve) ----------------------------------------------------------
    workers: int = Field(
        0, validation_alias=AliasChoices("SUPPORTBOT_WORKERS", "workers"), ge=0, le=64,
        description="Threads that answer questions; 0 = 1 for the extractive and local backends (CPU "
        "work under the GIL: more threads add latency, not throughput; run more processes instead) and "
        "8 for openai (waits on the network).",
    )
    max_pending: int = Field(
        200, validation_alias=AliasChoices("SUPPORTBOT_MAX_PENDING", "max_pending"), ge=1,
        description="Questions waiting for a worker, at most; beyond that users are told the bot is busy "
        "and to ask again in a minute (about 3 s of waiting at 60 answers/s).",
    )
    working_signal_after_s: float = Field(
        0.5, validation_alias=AliasChoices("SUPPORTBOT_WORKING_SIGNAL_AFTER_S", "working_signal_after_s"),
        ge=0, description="Show a working signal (a status or an eyes reaction) on questions that take "
        "longer than this to answer; 0 = always.",
    )
    shutdown_grace_s: float = Field(
        10.0, validation_alias=AliasChoices("SUPPORTBOT_SHUTDOWN_GRACE_S", "shutdown_grace_s"), ge=0,
        description="On SIGTERM, how long answers in flight get to be posted before the process exits.",
    )
    voice: str = Field(
        "", validation_alias=AliasChoices("SUPPORTBOT_VOICE", "voice"),
        description="The voice profile for channels whose policy names none (e.g. 'cadence', the sample "
        "product's); unset = answers as the help centre words them.",
    )
    voice_dir: Path | None = Field(
        None, validation_alias=AliasChoices("SUPPORTBOT_VOICE_DIR", "voice_dir"),
        description="The folder of voice profiles (NAME.yml) and trained voice adapters; unset = the "
        "profiles that ship with supportbot.",
    )
    answer_lease_s: float = Field(
        30.0, validation_alias=AliasChoices("SUPPORTBOT_ANSWER_LEASE_S", "answer_lease_s"), gt=0,
        description="A worker's hold on a message it is answering, renewed every third of it until the "
        "reply is posted; if the worker dies, another takes the message over within about 1.5 times "
        "this. Shorter recovers sooner but must outlast a Redis hiccup.",
    )
    helpcentre_dir: Path | None = Field(
        None, validation_alias=AliasChoices("SUPPORTBOT_HELPCENTRE_DIR", "helpcentre_dir"),
        description="The help-centre folder that `/kb reload` (Slack) and `reload` (Teams) read.",
    )
    channels_file: Path | None = Field(
        None, validation_alias=AliasChoices("SUPPORTBOT_CHANNELS_FILE", "channels_file"),
        description="Per-channel policy (YAML, see channels.example.yml); unset = answer mentions and DMs "
        "from the whole help centre.",
    )

    # --- Slack -------------------------------------------------------------------------------
    slack_bot_token: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token"),
        description="The bot token (xoxb-…) from the app's OAuth & Permissions page.",
    )
    slack_signing_secret: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"),
        description="The app's signing secret (Basic Information): every request is verified with it.",
    )
    slack_app_token: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"),
        description="An app-level token (xapp-…, scope connections:write) for Socket Mode.",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url"),
        description="The Slack Web API base URL (tests point it at a local recording server).",
    )
    slack_admin_users: str = Field(
        "", validation_alias=AliasChoices("SLACK_ADMIN_USERS", "slack_admin_users"),
        description="Comma-separated Slack user ids (U…) allowed to run `/kb`.",
    )

    # --- Microsoft Teams ---------------------------------------------------------------------
    teams_app_id: str | None = Field(
        None, validation_alias=AliasChoices("TEAMS_APP_ID", "teams_app_id"),
        description="The bot's Microsoft App ID (Azure Bot registration): switches Teams on in `serve`, "
        "with Bot Framework authentication on.",
    )
    teams_app_password: str | None = Field(
        None, validation_alias=AliasChoices("TEAMS_APP_PASSWORD", "teams_app_password"),
        description="The app registration's client secret.",
    )
    teams_app_tenant_id: str | None = Field(
        None, validation_alias=AliasChoices("TEAMS_APP_TENANT_ID", "teams_app_tenant_id"),
        description="The Azure AD tenant of a single-tenant app registration; unset for multi-tenant.",
    )
    teams_admin_ids: str = Field(
        "", validation_alias=AliasChoices("TEAMS_ADMIN_IDS", "teams_admin_ids"),
        description="Comma-separated Azure AD object ids allowed to run reload / status / rollback.",
    )
    teams_dev_no_auth: bool = Field(
        False, validation_alias=AliasChoices("SUPPORTBOT_TEAMS_DEV_NO_AUTH", "teams_dev_no_auth"),
        description="Development only: serve Teams with Bot Framework authentication OFF (no app id; "
        "the Bot Framework Emulator, tests). Warned about at start and in /healthz.",
    )
    teams_openid_metadata_url: str | None = Field(
        None,
        validation_alias=AliasChoices("SUPPORTBOT_TEAMS_OPENID_METADATA_URL", "teams_openid_metadata_url"),
        description="Where the Bot Framework's token-signing keys are published (Microsoft's by default); "
        "tests point it at a local stand-in.",
    )

    teams_inline_budget_s: float = Field(
        5.0, validation_alias=AliasChoices("SUPPORTBOT_TEAMS_INLINE_BUDGET_S", "teams_inline_budget_s"), ge=0,
        description="An answer ready within this many seconds is sent in the request; a slower one is sent "
        "proactively, so Teams' HTTP call returns promptly.",
    )

    @property
    def teams_admins(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.teams_admin_ids.split(",") if u.strip())

    @property
    def slack_admins(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.slack_admin_users.split(",") if u.strip())


def load_settings() -> Settings:
    return Settings()
