"""Pure converters between Bot Framework activities (plain dicts, camelCase) and the core's values (house
style, conventions 1; platform-rules.md, "Microsoft Teams": mentions, AI label, citations, feedback)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from adapters.teams import strings
from bot.policy import ChannelPolicy, Policies
from bot.store import ThreadKey
from bot.types import ANSWERED_REASONS, Answer, Citation, Confidence, Reason

MAX_CITATIONS = 10  # Teams: at most 10 citations on one message
ABSTRACT_LIMIT = 160  # Teams: a citation's abstract
TEXT_LIMIT = 28_000  # keep messages comfortably under Teams' ~28 KB limit
ASK_PERSON = "sb_ask_person"  # Action.Submit data: {"action": ASK_PERSON, "answer_id": ...}
CHAT_THREAD = "chat"  # the thread of a 1:1 or group chat, which has no reply chains

_NAME_LIMIT = 80  # a citation's name (the article title)
_URL_LIMIT = 2048  # longer links are left out of a citation rather than crowd out the answer
_MIN_TEXT_ROOM = 1000  # bytes kept for the answer whatever its citations take
_BRIEF_ANSWER_LIMIT = 1500  # the bot's answer as quoted in an escalation brief
_BRIEF_QUESTION_LIMIT = 2000  # the question as quoted there
_MORE = "…"  # ends anything cut short
_REPLY_CHAIN = ";messageid="  # a channel reply chain: "19:abc@thread.tacv2;messageid=1700000000000"
_CARD = "application/vnd.microsoft.card.adaptive"
_REACTIONS = {"like": "helpful", "dislike": "not_helpful"}

_AT = re.compile(r"<at\b[^>]*>(.*?)</at\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"</?(?:p|div|br|li|ul|ol|tr|td|th|table|h[1-6]|blockquote|pre)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^>]*>", re.DOTALL)
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


# ---- incoming -------------------------------------------------------------------------------------------


def is_personal(activity: Mapping[str, Any]) -> bool:
    """A 1:1 chat with the bot, where no mention is needed."""
    return _str(_obj(activity, "conversation"), "conversationType") == "personal"


def mentions_bot(activity: Mapping[str, Any]) -> bool:
    """Whether the message @mentions the bot itself (the activity's recipient)."""
    return bool(_bot_mentions(activity))


def question_text(activity: Mapping[str, Any]) -> str:
    """The question as plain text: our own ``<at>…</at>`` dropped (what ``remove_recipient_mention`` does),
    other mentions as "@Name", HTML tags stripped, entities unescaped, whitespace collapsed."""
    ours: set[str] = set()
    for entity in _bot_mentions(activity):
        tagged = _AT.search(_str(entity, "text"))
        ours.add(_plain(tagged.group(1)) if tagged else _plain(_str(_obj(entity, "mentioned"), "name")))
    ours.discard("")

    def mention(m: re.Match[str]) -> str:
        name = _TAG.sub("", m.group(1)).strip()
        return " " if _plain(name) in ours else f"@{name}" if name else " "

    text = _AT.sub(mention, _str(activity, "text"))
    return _plain(_BREAK.sub(" ", text))


def thread_key(activity: Mapping[str, Any]) -> ThreadKey:
    """Tenant + conversation + thread: a channel reply chain is its own thread; a chat is one thread."""
    conversation = _obj(activity, "conversation")
    tenant = _str(_obj(_obj(activity, "channelData"), "tenant"), "id") or _str(conversation, "tenantId")
    base, chain, root = _str(conversation, "id").partition(_REPLY_CHAIN)
    return ThreadKey("teams", tenant, base, root if chain and root else CHAT_THREAD)


def message_id(activity: Mapping[str, Any]) -> str:
    """The activity's identity, the same on every redelivery, for de-duplication."""
    return f"{_str(_obj(activity, 'conversation'), 'id')}|{_str(activity, 'id')}"


def policy_for(activity: Mapping[str, Any], policies: Policies) -> ChannelPolicy:
    """The channel's policy entry, else the team's, else the default."""
    data = _obj(activity, "channelData")
    channel = _str(_obj(data, "channel"), "id") or thread_key(activity).channel
    team = _str(_obj(data, "team"), "id")
    for an_id in (channel, team):
        if an_id and an_id in policies.channels:
            return policies.channels[an_id]
    return policies.default


def parse_feedback(activity: Mapping[str, Any]) -> tuple[str, str] | None:
    """A 👍/👎 from Teams' native feedback (an ``invoke`` named ``message/submitAction``): the kind
    ("helpful" / "not_helpful") and the comment ("" when none or unreadable); None for anything else."""
    if _str(activity, "type") != "invoke" or _str(activity, "name") != "message/submitAction":
        return None
    value = _obj(activity, "value")
    if _str(value, "actionName") != "feedback":
        return None
    action = _obj(value, "actionValue")
    kind = _REACTIONS.get(_str(action, "reaction"))
    return None if kind is None else (kind, _comment(action.get("feedback")))


def parse_ask_person(activity: Mapping[str, Any]) -> str | None:
    """The answer id behind an "Ask a person" click (Action.Submit posts its data back as a message's
    ``value``); None for any other activity."""
    value = _obj(activity, "value")
    if _str(activity, "type") != "message" or _str(value, "action") != ASK_PERSON:
        return None
    return _str(value, "answer_id") or None


# ---- outgoing -------------------------------------------------------------------------------------------


def answer_activity(answer: Answer, *, answer_id: str) -> dict[str, Any]:
    """The reply to a question: Markdown with ``[n]`` markers, one AI-label root entity carrying the
    citations, native feedback and an "Ask a person" card where they fit, a quiet note when unsure.

    The whole activity, as UTF-8 JSON, stays within TEXT_LIMIT bytes: the text gives way. The reply is
    the same in 1:1 chats and channels. Raises ValueError when the card is shown and ``answer_id`` is
    empty.
    """
    rated = not answer.abstained and answer.reason in ANSWERED_REASONS
    activity: dict[str, Any] = {
        "type": "message",
        "text": "",
        "textFormat": "markdown",
        "entities": [_ai_message(answer.citations)],
    }
    if rated:
        activity["channelData"] = {"feedbackLoopEnabled": True}
    if rated or answer.reason == Reason.NOT_COVERED:
        if not answer_id:
            raise ValueError("an answer with an 'Ask a person' button needs a non-empty answer_id")
        activity["attachments"] = [_ask_person_card(answer_id)]
    note = ""
    if answer.confidence != Confidence.HIGH and not answer.abstained:
        note = f"\n\n_{strings.LOW_CONFIDENCE}_"
    room = max(TEXT_LIMIT - _json_size(activity) - _text_size(note), _MIN_TEXT_ROOM)
    activity["text"] = _clip(answer.text.strip() or strings.NO_ANSWER, room, _text_size) + note
    return activity


def notice_activity(text: str) -> dict[str, Any]:
    """A short Markdown reply (busy, slow down, help)."""
    return {"type": "message", "text": text, "textFormat": "markdown"}


def typing_activity() -> dict[str, Any]:
    """The typing indicator shown while an answer is being looked up."""
    return {"type": "typing"}


def escalation_activity(
    *, question: str, answer_text: str, sources: list[tuple[str, str]], asker_name: str, where: str
) -> dict[str, Any]:
    """The brief the support team gets when someone asks for a person: who asked, where, the question
    quoted, what the bot answered and its sources (``(title, url)`` in ``[n]`` order) as Markdown links."""
    asked = strings.ASKED.format(
        name=_escape(" ".join(asker_name.split()) or strings.SOMEONE),
        where=_escape(" ".join(where.split()) or strings.SOMEWHERE),
    )
    parts = [f"**{strings.ESCALATION_TITLE}**", asked]
    if question.strip():
        parts.append(_quote(_clip(question.strip(), _BRIEF_QUESTION_LIMIT)))
    said = _clip(answer_text.strip(), _BRIEF_ANSWER_LIMIT) if answer_text.strip() else strings.NO_BOT_ANSWER
    parts += [f"**{strings.BOT_ANSWER}**", said]
    if sources:
        listed = "\n".join(f"{n}. {_source_link(title, url)}" for n, (title, url) in enumerate(sources, 1))
        parts.append(f"**{strings.SOURCES}**\n\n{listed}")
    return notice_activity(_clip("\n\n".join(parts), TEXT_LIMIT, _text_size))


# ---- pieces ---------------------------------------------------------------------------------------------


def _ai_message(citations: tuple[Citation, ...]) -> dict[str, Any]:
    """The one root Message entity: the "AI generated" label and the citations Teams draws for ``[n]``
    (two root Message entities get a 400)."""
    entity: dict[str, Any] = {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
    }
    claims: list[dict[str, Any]] = []
    seen: set[int] = set()
    for citation in citations:
        if citation.n < 1 or citation.n in seen:
            continue
        seen.add(citation.n)
        claims.append({"@type": "Claim", "position": citation.n, "appearance": _appearance(citation)})
        if len(claims) == MAX_CITATIONS:
            break
    if claims:
        entity["citation"] = claims
    return entity


def _appearance(citation: Citation) -> dict[str, Any]:
    name = _clip(" ".join(citation.title.split()) or citation.doc_id or f"[{citation.n}]", _NAME_LIMIT)
    document: dict[str, Any] = {"@type": "DigitalDocument", "name": name}
    url = citation.url.strip()
    if _URL.fullmatch(url) and len(url) <= _URL_LIMIT:
        document["url"] = url
    document["abstract"] = _clip(" ".join(citation.snippet.split()) or name, ABSTRACT_LIMIT)
    return document


def _ask_person_card(answer_id: str) -> dict[str, Any]:
    return {
        "contentType": _CARD,
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5",
            "body": [
                {"type": "TextBlock", "text": strings.ASK_PERSON_HINT, "isSubtle": True, "size": "small",
                 "wrap": True},
            ],
            "actions": [
                {"type": "Action.Submit", "title": strings.ASK_PERSON,
                 "data": {"action": ASK_PERSON, "answer_id": answer_id}},
            ],
        },
    }


def _source_link(title: str, url: str) -> str:
    label = _escape(" ".join(title.split()) or url.strip() or "?")
    url = url.strip()
    if not _URL.fullmatch(url):
        return label
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"


def _quote(text: str) -> str:
    return "\n".join(f"> {_escape(line)}".rstrip() for line in text.splitlines())


def _escape(text: str) -> str:
    """Text shown as written in Teams Markdown (names, a user's question)."""
    return _MARKDOWN.sub(r"\\\1", text)


def _comment(raw: object) -> str:
    """The comment of a feedback invoke: ``{"feedbackText": "..."}``, usually as a JSON string."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return ""
    text = raw.get("feedbackText") if isinstance(raw, Mapping) else None
    return text.strip() if isinstance(text, str) else ""


def _clip(text: str, limit: int, size: Callable[[str], int] = len) -> str:
    """``text`` cut at a word boundary to at most ``limit`` by ``size`` (characters unless told),
    ending with "…"."""
    if size(text) <= limit:
        return text
    limit -= size(_MORE)
    low, high = 0, min(len(text), max(limit, 0))  # every character counts at least one
    while low < high:  # the longest prefix that fits
        middle = (low + high + 1) // 2
        if size(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > low // 2:
        cut = cut[:space]
    return cut.rstrip() + _MORE


def _text_size(text: str) -> int:
    return _json_size(text) - 2  # without the quotes


def _json_size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _plain(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def _bot_mentions(activity: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    bot_id = _str(_obj(activity, "recipient"), "id")
    entities = activity.get("entities")
    if not bot_id or not isinstance(entities, list):
        return []
    mentions = [e for e in entities if isinstance(e, Mapping) and e.get("type") == "mention"]
    return [e for e in mentions if _str(_obj(e, "mentioned"), "id") == bot_id]


def _obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    return value if isinstance(value, str) else ""
