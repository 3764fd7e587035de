"""The shipped Slack app manifest asks for what the listeners use, and for no more."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "adapters" / "slack" / "manifest.yml"


def test_the_manifest_subscribes_to_every_event_the_app_handles_with_minimal_scopes() -> None:
    m = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.channels", "message.groups", "message.im", "app_home_opened",
                      "assistant_thread_started"}
    assert set(m["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "assistant:write", "channels:history", "groups:history", "im:history",
        "chat:write", "reactions:write", "commands"}
    (kb,) = m["features"]["slash_commands"]
    assert kb["command"] == "/kb"
    urls = [kb["url"], m["settings"]["event_subscriptions"]["request_url"],
            m["settings"]["interactivity"]["request_url"]]
    assert all(u == "https://YOUR-HOST/slack/events" for u in urls)
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is False
    assert m["features"]["app_home"]["messages_tab_enabled"] is True
