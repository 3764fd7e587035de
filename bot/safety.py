"""Retrieved text is data, never instructions: defuse mentions and drop injected instructions.

A help-centre article can contain `<!channel>`, `@here` or a user mention (copied from Slack, or
planted). Posting it back would ping people, so every outgoing text is defused. Sentences that try to
instruct the assistant are never used as answer material and are dropped from model context.
"""

from __future__ import annotations

import re

_ZW = "\u2060"  # word joiner: keeps the text readable, breaks the mention
_SLACK_SPECIAL = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>", re.IGNORECASE)
_SLACK_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|(@?[^>]*))?>", re.IGNORECASE)
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_SLACK_DATE_OR_OTHER = re.compile(r"<!([a-z]+)[^>]*>", re.IGNORECASE)
_PLAIN_BROADCAST = re.compile(r"(?<![\w@])@(channel|here|everyone)\b", re.IGNORECASE)
_TEAMS_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(instructions?|prompts?|rules|guidelines)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bnew instructions\b|\bas an ai\b"
    r"|\b(assistant|bot|ai|model)s?\b[^.!?\n]{0,30}\b(must|should|shall)\s+(now\s+)?(say|reply|answer|respond|tell)\b"
    r"|\b(reveal|print|repeat)\b[^.!?\n]{0,30}\b(prompt|instructions)\b",
    re.IGNORECASE,
)


def defuse_mentions(text: str) -> str:
    """Make every broadcast, group and user mention inert, for Slack and Teams alike."""
    text = _SLACK_SPECIAL.sub(lambda m: f"@{_ZW}{m.group(1).lower()}", text)
    text = _SLACK_SUBTEAM.sub(lambda m: f"@{_ZW}{(m.group(1) or 'group').lstrip('@')}", text)
    text = _SLACK_USER.sub(lambda m: f"@{_ZW}{m.group(2) or 'someone'}", text)
    text = _SLACK_DATE_OR_OTHER.sub(lambda m: m.group(1), text)
    text = _PLAIN_BROADCAST.sub(lambda m: f"@{_ZW}{m.group(1).lower()}", text)
    return _TEAMS_AT.sub(lambda m: f"@{_ZW}{m.group(1)}", text)


def is_injection(sentence: str) -> bool:
    """Does this sentence try to instruct the assistant rather than inform the reader?"""
    return bool(_INJECTION.search(sentence))


def sanitize_source(text: str) -> str:
    """Source text as it may be shown to a model or quoted: no mentions, no injected instructions."""
    kept = [line for line in text.splitlines() if not is_injection(line)]
    return defuse_mentions("\n".join(kept))
