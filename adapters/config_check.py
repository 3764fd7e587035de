"""`supportbot config check`: the effective settings with secrets masked, and one line per problem that
would stop or cripple `serve` (no platform, a bad URL, an unreadable policy file, Redis or Chroma out
of reach, a help-centre folder that is not there)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from adapters.settings import Settings

SECRET_FIELDS = ("slack_bot_token", "slack_signing_secret", "slack_app_token", "teams_app_password",
                 "openai_api_key")
URL_FIELDS = ("slack_api_url", "openai_base_url", "teams_openid_metadata_url")


def masked(settings: Settings) -> dict[str, Any]:
    """Every setting by its environment name; a secret shows only whether it is set."""
    out: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None and hasattr(alias, "choices") else name.upper()
        value = getattr(settings, name)
        if name in SECRET_FIELDS:
            value = "set (hidden)" if value else None
        plain = value is None or isinstance(value, bool | int | float)
        out[str(env)] = value if plain else str(value)
    return out


def problems(settings: Settings) -> list[str]:
    """What is wrong, one line each (empty: nothing found)."""
    from adapters.server.serve import StartupError, plan

    found: list[str] = []
    try:
        plan(settings, socket_mode=bool(settings.slack_app_token and not settings.slack_signing_secret))
    except StartupError as exc:
        found.append(str(exc))
    for name in URL_FIELDS:
        url = getattr(settings, name)
        if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
            found.append(f"{name.upper()} is not an http(s) URL: {url!r}")
    if settings.helpcentre_dir is not None and not settings.helpcentre_dir.is_dir():
        found.append(f"SUPPORTBOT_HELPCENTRE_DIR {settings.helpcentre_dir} is not a folder: reloads from "
                     "chat will fail")
    found += _reachable(settings)
    return found


def _reachable(settings: Settings) -> list[str]:
    from adapters.app import build_redis

    found: list[str] = []
    if settings.redis_url:
        guard = build_redis(settings)
        assert guard is not None
        try:
            guard.client.ping()
        except Exception as exc:
            found.append(f"Redis at REDIS_URL is unreachable ({type(exc).__name__}): start it or fix "
                         "REDIS_URL")
        finally:
            guard.close()
    if settings.chroma_host:
        import urllib.request

        url = f"http://{settings.chroma_host}:{settings.chroma_port}/api/v2/heartbeat"
        try:
            urllib.request.urlopen(url, timeout=3).read()
        except OSError as exc:
            found.append(f"the Chroma server at {settings.chroma_host}:{settings.chroma_port} is unreachable "
                         f"({type(exc).__name__}): start `chroma run` or fix CHROMA_HOST / CHROMA_PORT")
    return found
