"""Per-channel policy (SUPPORTBOT_CHANNELS_FILE): when the bot answers, which articles it may cite and
where "Ask a person" goes. Platform-free, so Slack and Teams read one schema."""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from knowledge.retrieval import Scope


class Respond(StrEnum):
    MENTIONS = "mentions"  # answer @mentions and DMs
    ALL_QUESTIONS = "all_questions"  # also answer top-level messages that look like questions
    OFF = "off"  # do not answer in this channel


@dataclass(frozen=True)
class ChannelPolicy:
    """How the bot behaves in one channel. ``scope`` None means the whole help centre; ``escalation``
    and ``voice`` "" mean none."""

    respond: Respond = Respond.MENTIONS
    scope: Scope | None = None
    escalation: str = ""
    voice: str = ""


@dataclass(frozen=True)
class Policies:
    """Every channel's policy, inheritance already applied; channels not listed get ``default``."""

    default: ChannelPolicy = ChannelPolicy()
    channels: Mapping[str, ChannelPolicy] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:  # a read-only copy, so a frozen Policies cannot change underfoot
        object.__setattr__(self, "channels", MappingProxyType(dict(self.channels)))

    def for_channel(self, channel_id: str) -> ChannelPolicy:
        return self.channels.get(channel_id, self.default)


class PolicyError(ValueError):
    """A policy file the bot cannot use; the message is one line: file, entry, problem, what to do."""


# --- loading ------------------------------------------------------------------------------------------


def load_policies(path: Path | None) -> Policies:
    """Read and check a policy file. ``None`` (no file configured): answer mentions and DMs from the
    whole help centre."""
    if path is None:
        return Policies()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: file not found; create it or fix SUPPORTBOT_CHANNELS_FILE") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text (byte offset {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PolicyError(f"{path}: cannot read the file ({reason}); check the path and access") from None
    try:
        doc = yaml.load(text, Loader=_KeysAsWritten)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: invalid YAML{_yaml_where(exc)}; fix the syntax there") from None
    return parse_policies(doc, source=str(path))


class _KeysAsWritten(yaml.SafeLoader):
    """Safe YAML where mapping keys stay as written (``0123:`` is channel "0123", not the octal 83;
    ``off:`` is "off", not False) and a key given twice is an error, not silently the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
                key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep)


def _yaml_where(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = f" at line {mark.line + 1}" if mark is not None else ""
        return f"{line}: {exc.problem or exc.context or 'cannot parse'}"
    return f": {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


# --- checking -----------------------------------------------------------------------------------------

_TOP_KEYS = ("default", "channels")
_CHANNEL_KEYS = ("respond", "scope", "escalation", "voice")
_SCOPE_KEYS = ("categories", "tags", "audiences", "doc_ids")
_SLACK_LOOKING = re.compile(r"[CGUWS][A-Za-z0-9]*")  # letters and digits only: meant as a Slack id
_SLACK_ID = re.compile(r"[CGUWS][A-Z0-9]{2,}")


def parse_policies(doc: object, *, source: str = "<policy>") -> Policies:
    """Check an already-parsed policy document (``None``, an empty file, means all defaults)."""
    if doc is None:
        return Policies()
    if not isinstance(doc, Mapping):
        raise _error(source, "top level", f"is {_kind(doc)}; write a mapping with 'default' and 'channels'")
    _check_keys(doc, _TOP_KEYS, source, "top level")
    base = ChannelPolicy()
    if doc.get("default") is not None:
        base = _channel(_mapping(doc["default"], source, "default"), ChannelPolicy(), source, "default")
    channels: dict[str, ChannelPolicy] = {}
    raw = doc.get("channels")
    for key, entry in (_mapping(raw, source, "channels") if raw is not None else {}).items():
        channel_id = _channel_id(key, source)
        where = f"channels.{channel_id}"
        channels[channel_id] = _channel(_mapping(entry, source, where) if entry is not None else {},
                                        base, source, where)
    return Policies(default=base, channels=channels)


def _channel(entry: Mapping[Any, Any], base: ChannelPolicy, source: str, where: str) -> ChannelPolicy:
    """One entry over ``base``: a key that is present replaces base's value (null means none)."""
    _check_keys(entry, _CHANNEL_KEYS, source, where)
    respond, scope, escalation, voice = base.respond, base.scope, base.escalation, base.voice
    if "respond" in entry:
        respond = _respond(entry["respond"], source, f"{where}.respond")
    if "scope" in entry:
        scope = _scope(entry["scope"], source, f"{where}.scope")
    if "escalation" in entry:
        escalation = _escalation(entry["escalation"], source, f"{where}.escalation")
    if "voice" in entry:
        voice = _voice(entry["voice"], source, f"{where}.voice")
    return ChannelPolicy(respond=respond, scope=scope, escalation=escalation, voice=voice)


def _respond(value: object, source: str, where: str) -> Respond:
    allowed = ", ".join(r.value for r in Respond)
    if value is False:  # YAML 1.1 reads a bare `off` (or `no`) as false
        return Respond.OFF
    if isinstance(value, str) and value.strip().lower() in {r.value for r in Respond}:
        return Respond(value.strip().lower())
    shown = repr(value) if isinstance(value, str) else _kind(value)
    raise _error(source, where, f"{shown} is not a choice; use one of: {allowed}")


def _scope(value: object, source: str, where: str) -> Scope | None:
    if value is None:
        return None
    entry = _mapping(value, source, where)
    _check_keys(entry, _SCOPE_KEYS, source, where)
    scope = Scope(**{key: _names(entry.get(key), source, f"{where}.{key}") for key in _SCOPE_KEYS})
    return None if scope.unrestricted else scope


def _names(value: object, source: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _error(source, where, f"is {_kind(value)}; write a name or a list of names")
    names: list[str] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, str):
            raise _error(source, where, f"item {n} is {_kind(item)}, not a name; put it in quotes")
        if not item.strip():
            raise _error(source, where, f"item {n} is empty; remove it or give a name")
        if item.strip() not in names:
            names.append(item.strip())
    return tuple(names)


def _escalation(value: object, source: str, where: str) -> str:
    if value is None or value == "":
        return ""
    return _check_id(value, source, where)


def _voice(value: object, source: str, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        shown = "empty" if isinstance(value, str) else _kind(value)
        raise _error(source, where, f"is {shown}; give a voice profile name or leave the key out")
    return value.strip()


def _channel_id(key: object, source: str) -> str:
    if isinstance(key, int) and not isinstance(key, bool):  # YAML reads `12345:` as a number
        return str(key)
    return _check_id(key, source, f"channels.{key}")


def _check_id(value: object, source: str, where: str) -> str:
    """A Slack id (C…, G…, U…, W…, S…) is checked for shape; other platforms' ids (Teams
    ``19:abc@thread.tacv2``) need only be one word."""
    if not isinstance(value, str):
        raise _error(source, where, f"is {_kind(value)}; write the id as text, in quotes")
    if not value or any(ch.isspace() for ch in value):
        raise _error(source, where, f"{value!r} is not an id (empty or has spaces); use e.g. C0123SUPPORT")
    if value[0] in "#@<":
        raise _error(source, where, f"{value!r} is a name, not an id; use the id, e.g. C0123SUPPORT")
    if _SLACK_LOOKING.fullmatch(value) and not _SLACK_ID.fullmatch(value):
        raise _error(source, where, f"{value!r} is not a Slack id: expected a letter C, G, U, W or S then "
                                    "at least 2 capitals or digits, e.g. C0123SUPPORT")
    return value


def _check_keys(entry: Mapping[Any, Any], allowed: tuple[str, ...], source: str, where: str) -> None:
    for key in entry:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _error(source, where, f"unknown key {str(key)!r}{hint}; allowed: {', '.join(allowed)}")


def _mapping(value: object, source: str, where: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _error(source, where, f"is {_kind(value)}; write a mapping of keys to values")
    return value


def _kind(value: object) -> str:
    names = {type(None): "empty", bool: "true/false", int: "a number", float: "a number",
             str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _error(source: str, where: str, problem: str) -> PolicyError:
    return PolicyError(f"{source}: {where}: {problem}")


# --- respond: all_questions ---------------------------------------------------------------------------

_MENTION = re.compile(r"<[@#!][^>]*>|(?<!\w)@(?:here|channel|everyone)\b")
_EMOJI_CODE = re.compile(r":[a-z0-9_+'-]+:")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_OPENERS = _wordset(
    "how what why where when who which can could is are do does did should will would may help anyone "
    "anybody what's how's why's where's when's who's"
)
_GREETING = _wordset(
    "hi hey hello hiya yo morning good afternoon evening all team everyone folks there guys y'all quick "
    "question q"
)
_CHATTER = _GREETING | _wordset(
    "thanks thank you ty thx cheers lol lmao haha hahaha ok okay k kk cool nice great awesome perfect "
    "yes yeah yep yup no nope nah sure np bye gm gn welcome much so too wow oh ah"
)


def looks_like_question(text: str) -> bool:
    """For ``respond: all_questions``: does an unprompted message ask something? Ends with "?" (trailing
    emoji and punctuation aside) or opens with a question or request word; chatter never counts."""
    text = _EMOJI_CODE.sub(" ", _MENTION.sub(" ", text.lower().replace("\u2019", "'")))
    words = _WORD.findall(text)
    if not words or all(w in _CHATTER for w in words):
        return False
    end = len(text)
    while end and not text[end - 1].isalnum():  # spaces, punctuation, emoji: all after the last word
        end -= 1
    if "?" in text[end:] or "\uff1f" in text[end:]:
        return True
    if len(words) < 3:
        return False
    start = 0
    while start < len(words) - 1 and words[start] in _GREETING:  # "hey team, how do I ..."
        start += 1
    first, rest = words[start], words[start + 1:]
    return first in _OPENERS or (first == "any" and rest[:1] in (["idea"], ["ideas"]))
