"""Block Kit messages from the core's `Answer`: sections within Slack's limits, linked sources, feedback and
escalation buttons, and a text fallback (platform-rules.md, "Slack": 3,000 a section, 50 blocks, 40,000)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from adapters.slack.mrkdwn import escape, is_linkable, link, split_text, to_mrkdwn
from adapters.slack.strings import DEFAULT_STRINGS, SlackStrings
from bot.types import ANSWERED_REASONS, Answer, Citation, Confidence, Reason

FEEDBACK_ACTION = "sb_feedback"
ASK_PERSON_ACTION = "sb_ask_person"
RESOLVED_ACTION = "sb_resolved"
MAX_BLOCKS = 50  # blocks in one message
SECTION_LIMIT = 3000  # characters in a section's text
TEXT_LIMIT = 40000  # characters of a message's `text`; Slack truncates beyond it

_CONTEXT_LIMIT = 3000  # characters in one context element
_CONTEXT_ELEMENTS = 10  # elements in one context block
_BUTTON_TEXT_LIMIT = 75  # a button's text, and a feedback button's accessibility label
_VALUE_LIMIT = 2000  # a button's value
_HEADER_LIMIT = 150  # a header block's text
_TITLE_LIMIT = 150  # an article title in the sources line
_BRIEF_ANSWER_LIMIT = 1500  # the bot's answer as quoted in an escalation brief
_BRIEF_QUESTION_LIMIT = 2000  # the question as quoted there
_SOURCE_SEPARATOR = "  ·  "
# Answers that say something the asker can rate; the others are apologies or "I don't know".
_RATED = ANSWERED_REASONS
_USER_ID = re.compile(r"[\w.-]+")




@dataclass(frozen=True)
class SlackMessage:
    """One Slack message: Block Kit blocks and the plain `text` that notifications and old clients show."""

    text: str
    blocks: tuple[dict[str, Any], ...]

    def payload(self) -> dict[str, Any]:
        """The `text` and `blocks` of `chat.postMessage` / `chat.update` (a copy, safe to change)."""
        return {"text": self.text, "blocks": copy.deepcopy(list(self.blocks))}


def answer_message(
    answer: Answer, *, answer_id: str, strings: SlackStrings = DEFAULT_STRINGS
) -> SlackMessage:
    """The reply to a question: the answer, its sources, a quiet note when unsure, and the buttons that fit.

    Raises ValueError when `answer_id` is empty or too long for a button value while buttons are shown.
    """
    body = to_mrkdwn(answer.text) or escape(strings.no_answer)
    tail = [*_sources(answer.citations, strings)]
    if answer.confidence != Confidence.HIGH and not answer.abstained:
        tail.append(_context(escape(strings.low_confidence)))
    if not answer.abstained and answer.reason in _RATED:
        tail += [_feedback(answer_id, strings), _ask_person(answer_id, strings)]
    elif answer.reason == Reason.NOT_COVERED:
        tail.append(_ask_person(answer_id, strings))
    sections = _sections(body, MAX_BLOCKS - len(tail), strings)
    return SlackMessage(text=_fallback(body, answer.citations, strings), blocks=(*sections, *tail))


def notice_message(text: str, *, mrkdwn: bool = False) -> SlackMessage:
    """A short reply (busy, rate limited, help): the text as sections, Markdown converted like an answer.

    ``mrkdwn=True`` takes the text as Slack mrkdwn already (our own strings with ``<@U…>``, ``<#C…>``
    or ``<!subteam^S…>``): anything a user wrote in it must be ``escape``d by the caller.
    """
    body = text.strip() if mrkdwn else to_mrkdwn(text)
    if not body:
        raise ValueError("a notice needs some text")
    sections = [_section(piece) for piece in split_text(body, SECTION_LIMIT)[:MAX_BLOCKS]]
    return SlackMessage(text=_clip(body, TEXT_LIMIT), blocks=tuple(sections))


def escalation_message(
    *,
    question: str,
    answer: Answer | None,
    permalink: str,
    asker_id: str,
    request_id: str,
    strings: SlackStrings = DEFAULT_STRINGS,
) -> SlackMessage:
    """The brief the support team gets when someone asks for a person: who asked what, what the bot said
    and where, and a button to mark it resolved. `question` is plain text (escaped here)."""
    asked = f"{strings.asked.format(user=_user_id(asker_id))}\n{_quote(question)}".rstrip()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain_text(strings.escalation_title, _HEADER_LIMIT)},
        _section(asked),
    ]
    said = _clip(to_mrkdwn(answer.text), _BRIEF_ANSWER_LIMIT) if answer is not None else ""
    blocks.append(_section(f"*{escape(strings.bot_answer)}*\n{said or escape(strings.no_bot_answer)}"))
    if answer is not None:
        blocks += _sources(answer.citations, strings)
    if is_linkable(permalink):
        blocks.append(_section(link(permalink, strings.open_thread)))
    button = _button(RESOLVED_ACTION, strings.mark_resolved, request_id) | {"style": "primary"}
    blocks.append({"type": "actions", "elements": [button]})
    fallback = _clip(f"{escape(strings.escalation_title)}\n{asked}", TEXT_LIMIT)
    return SlackMessage(text=fallback, blocks=tuple(blocks))


def resolved_blocks(
    blocks: list[dict[str, Any]], resolver_id: str, strings: SlackStrings = DEFAULT_STRINGS
) -> list[dict[str, Any]]:
    """A copy of an escalation brief's blocks with its "Mark resolved" button replaced by who resolved it."""
    done = _context(strings.resolved_by.format(user=_user_id(resolver_id)))
    return [
        copy.deepcopy(done if _has_action(block, RESOLVED_ACTION) else block)
        for block in blocks
    ]


# ---- pieces ---------------------------------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _sections(body: str, room: int, strings: SlackStrings) -> list[dict[str, Any]]:
    """The answer as section blocks; past `room` blocks it is cut short and ends with `strings.more`."""
    pieces = split_text(body, SECTION_LIMIT)
    if len(pieces) > room:
        more = escape(strings.more)
        pieces = split_text(body, SECTION_LIMIT - len(more) - 1)[:room]
        pieces[-1] += ("\n" if pieces[-1].endswith("```") else " ") + more
    return [_section(piece) for piece in pieces]


def _sources(citations: tuple[Citation, ...], strings: SlackStrings) -> list[dict[str, Any]]:
    """One context block: "Sources: <url|1. Title>  ·  <url|2. Title>", in as few elements as fit."""
    if not citations:
        return []
    head = f"*{escape(strings.sources_label)}:* "
    texts, current = [], head
    for item in (_source(c) for c in citations):
        sep = "" if current == head else _SOURCE_SEPARATOR
        if len(current) + len(sep) + len(item) <= _CONTEXT_LIMIT:
            current += sep + item
        else:
            texts.append(current)
            current = item
    texts.append(current)
    return [_context(*texts[:_CONTEXT_ELEMENTS])]


def _title(citation: Citation) -> str:
    title = " ".join(citation.title.split()) or citation.url or citation.doc_id or "?"
    return title if len(title) <= _TITLE_LIMIT else title[: _TITLE_LIMIT - 1].rstrip() + "…"


def _source(citation: Citation) -> str:
    label = f"{citation.n}. {_title(citation)}"
    item = link(citation.url, label)
    return item if len(item) <= _CONTEXT_LIMIT // 2 else escape(label)  # a monstrous URL: no link


def _fallback(body: str, citations: tuple[Citation, ...], strings: SlackStrings) -> str:
    """The message `text`: the answer, then "Sources: 1. Title (url); 2. …", never empty nor too long."""
    sources = ""
    if citations:
        listed = "; ".join(
            f"{c.n}. {escape(_title(c))}" + (f" ({escape(c.url.strip())})" if c.url.strip() else "")
            for c in citations
        )
        sources = "\n\n" + _clip(f"{escape(strings.sources_label)}: {listed}", TEXT_LIMIT // 4)
    return _clip(body, TEXT_LIMIT - len(sources)) + sources


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a clean place (never inside a link), ending with "…"."""
    return text if len(text) <= limit else split_text(text, limit - 1)[0] + "…"


def _quote(text: str) -> str:
    lines = [f"> {escape(line)}".rstrip() for line in text.strip().splitlines()]
    return _clip("\n".join(lines), _BRIEF_QUESTION_LIMIT)


def _feedback(answer_id: str, strings: SlackStrings) -> dict[str, Any]:
    def button(text: str, label: str, rating: str) -> dict[str, Any]:
        return {
            "text": _plain_text(text, _BUTTON_TEXT_LIMIT),
            "value": _value(f"{rating}|{_nonempty(answer_id)}"),
            "accessibility_label": _limited(label, _BUTTON_TEXT_LIMIT),
        }

    element = {
        "type": "feedback_buttons",
        "action_id": FEEDBACK_ACTION,
        "positive_button": button(strings.helpful, strings.helpful_label, "helpful"),
        "negative_button": button(strings.not_helpful, strings.not_helpful_label, "not_helpful"),
    }
    return {"type": "context_actions", "elements": [element]}


def _ask_person(answer_id: str, strings: SlackStrings) -> dict[str, Any]:
    return {"type": "actions", "elements": [_button(ASK_PERSON_ACTION, strings.ask_person, answer_id)]}


def _button(action_id: str, text: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": _plain_text(text, _BUTTON_TEXT_LIMIT),
        "value": _value(_nonempty(value)),
    }


def _plain_text(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _limited(text, limit)}


def _limited(text: str, limit: int) -> str:
    if not text.strip() or len(text) > limit:
        raise ValueError(f"a Slack label must have 1 to {limit} characters: {text!r}")
    return text


def _value(value: str) -> str:
    if len(value) > _VALUE_LIMIT:
        raise ValueError(f"a button value holds at most {_VALUE_LIMIT} characters, got {len(value)}")
    return value


def _nonempty(an_id: str) -> str:
    if not an_id:
        raise ValueError("a button needs a non-empty id in its value")
    return an_id


def _user_id(user: str) -> str:
    if not _USER_ID.fullmatch(user):
        raise ValueError(f"not a Slack user id: {user!r}")
    return user


def _has_action(block: dict[str, Any], action_id: str) -> bool:
    return block.get("type") == "actions" and any(
        isinstance(e, dict) and e.get("action_id") == action_id for e in block.get("elements", ())
    )
