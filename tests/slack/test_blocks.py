"""Block Kit messages built from the core's Answer (adapters/slack/blocks.py). Every message is also parsed
and validated by slack_sdk's own Block Kit models, which enforce Slack's field limits."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from adapters.slack.blocks import (
    ASK_PERSON_ACTION,
    DEFAULT_STRINGS,
    FEEDBACK_ACTION,
    MAX_BLOCKS,
    RESOLVED_ACTION,
    SECTION_LIMIT,
    TEXT_LIMIT,
    SlackMessage,
    SlackStrings,
    answer_message,
    escalation_message,
    notice_message,
    resolved_blocks,
)
from bot.types import Answer, Citation, Confidence, Reason

REFUNDS = Citation(1, "Request a refund", "https://help.example.test/billing/refunds", "billing/refunds", "...")
PLANS = Citation(2, "Plans & <pricing>", "https://help.example.test/plans?a=1&b=2", "plans", "...")
LOCAL = Citation(3, "Internal notes", "", "internal", "...")


def answer(text: str = "Annual plans can be refunded **in full** within 30 days [1].", **kw: Any) -> Answer:
    kw.setdefault("citations", (REFUNDS,))
    kw.setdefault("confidence", Confidence.HIGH)
    return Answer(text=text, **kw)


def valid(message: SlackMessage) -> SlackMessage:
    """The message as Slack would take it: at most 50 blocks, each one valid by slack_sdk's models."""
    assert 0 < len(message.blocks) <= MAX_BLOCKS
    assert message.text.strip() and len(message.text) <= TEXT_LIMIT
    for block in message.blocks:
        assert Block.parse(block).to_dict() == block  # to_dict() validates lengths and required fields
    return message


def of_type(message: SlackMessage, kind: str) -> list[dict[str, Any]]:
    return [b for b in message.blocks if b["type"] == kind]


def section_texts(message: SlackMessage) -> list[str]:
    return [b["text"]["text"] for b in of_type(message, "section")]


def context_texts(message: SlackMessage) -> list[str]:
    return [e["text"] for b in of_type(message, "context") for e in b["elements"]]


def action_ids(message: SlackMessage) -> list[str]:
    return [
        e["action_id"] for b in message.blocks if b["type"] in ("actions", "context_actions") for e in b["elements"]
    ]


# ---- the answer ---------------------------------------------------------------------------------------


def test_answer_text_is_converted_into_a_mrkdwn_section() -> None:
    msg = valid(answer_message(answer(), answer_id="a1"))
    assert msg.blocks[0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Annual plans can be refunded *in full* within 30 days [1]."},
    }


def test_long_answer_is_split_into_sections_that_rejoin() -> None:
    para = "Open Settings, then Billing, then Invoices, and choose Request refund [1]. " * 8
    text = "\n\n".join([para.strip()] * 18)
    assert len(text) > 10_000
    msg = valid(answer_message(answer(text), answer_id="a1"))
    sections = section_texts(msg)
    assert len(sections) >= 4
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert " ".join(sections).split() == text.split()


def test_huge_answer_is_capped_at_50_blocks_and_keeps_the_rest() -> None:
    text = ("Refunds are processed by the billing team within five working days. " * 40 + "\n\n") * 80
    msg = valid(answer_message(answer(text, citations=(REFUNDS, PLANS), confidence=Confidence.LOW), answer_id="a1"))
    assert len(msg.blocks) == MAX_BLOCKS
    assert [b["type"] for b in msg.blocks[-4:]] == ["context", "context", "context_actions", "actions"]
    assert action_ids(msg) == [FEEDBACK_ACTION, ASK_PERSON_ACTION]
    sections = section_texts(msg)
    assert len(sections) == MAX_BLOCKS - 4
    assert sections[-1].endswith("…") and len(sections[-1]) <= SECTION_LIMIT
    assert not any(s.endswith("…") for s in sections[:-1])
    assert "Request a refund" in context_texts(msg)[0]


def test_a_message_that_fits_is_not_marked_as_cut() -> None:
    msg = answer_message(answer("Short answer."), answer_id="a1")
    assert not any(s.endswith("…") for s in section_texts(msg))


def test_citations_are_linked_numbered_titles() -> None:
    msg = valid(answer_message(answer(citations=(REFUNDS, PLANS, LOCAL)), answer_id="a1"))
    sources = of_type(msg, "context")[0]
    assert sources["elements"] == [
        {
            "type": "mrkdwn",
            "text": "*Sources:* <https://help.example.test/billing/refunds|1. Request a refund>"
            "  ·  <https://help.example.test/plans?a=1&amp;b=2|2. Plans &amp; &lt;pricing&gt;>"
            "  ·  3. Internal notes",
        }
    ]


def test_relative_citation_urls_are_not_linked() -> None:
    cite = Citation(1, "Setup", "docs/setup.md", "setup", "...")
    msg = answer_message(answer(citations=(cite,)), answer_id="a1")
    assert context_texts(msg)[0] == "*Sources:* 1. Setup"


def test_many_long_sources_are_spread_over_elements_within_limits() -> None:
    cites = tuple(
        Citation(i, f"Article {i} " + "t" * 300, f"https://h.test/{i}/" + "p" * 1000, f"d{i}", "")
        for i in range(1, 41)
    )
    msg = valid(answer_message(answer(citations=cites), answer_id="a1"))
    elements = of_type(msg, "context")[0]["elements"]
    assert 1 < len(elements) <= 10
    assert all(len(e["text"]) <= 3000 for e in elements)
    assert "<https://h.test/1/" in elements[0]["text"]
    assert "…" in elements[0]["text"]  # titles are trimmed


def test_no_citations_no_sources_block() -> None:
    msg = answer_message(answer(citations=()), answer_id="a1")
    assert not any("Sources" in t for t in context_texts(msg))


def test_feedback_buttons_and_ask_a_person() -> None:
    msg = valid(answer_message(answer(), answer_id="ans-42"))
    assert msg.blocks[-2] == {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "Helpful"},
                    "value": "helpful|ans-42",
                    "accessibility_label": DEFAULT_STRINGS.helpful_label,
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "Not helpful"},
                    "value": "not_helpful|ans-42",
                    "accessibility_label": DEFAULT_STRINGS.not_helpful_label,
                },
            }
        ],
    }
    assert msg.blocks[-1] == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": ASK_PERSON_ACTION,
                "text": {"type": "plain_text", "text": "Ask a person"},
                "value": "ans-42",
            }
        ],
    }


@pytest.mark.parametrize("reason", [Reason.ANSWERED, Reason.LLM_TIMEOUT, Reason.LLM_ERROR, Reason.UNGROUNDED])
def test_rated_answers_get_feedback_and_ask(reason: Reason) -> None:
    msg = valid(answer_message(answer(reason=reason), answer_id="a1"))
    assert action_ids(msg) == [FEEDBACK_ACTION, ASK_PERSON_ACTION]


def test_not_covered_gets_only_ask_a_person() -> None:
    not_covered = Answer("I couldn't find that in the help centre.", abstained=True, reason=Reason.NOT_COVERED)
    msg = valid(answer_message(not_covered, answer_id="a1"))
    assert action_ids(msg) == [ASK_PERSON_ACTION]
    assert not of_type(msg, "context_actions")


@pytest.mark.parametrize("reason", [Reason.ERROR, Reason.NO_INDEX, Reason.EMPTY_QUESTION])
def test_errors_get_no_buttons(reason: Reason) -> None:
    short = Answer("Something went wrong; please try again.", abstained=True, reason=reason)
    msg = valid(answer_message(short, answer_id=""))  # no buttons, so no id needed
    assert action_ids(msg) == []
    assert [b["type"] for b in msg.blocks] == ["section"]


def test_an_abstained_answer_is_not_rated_even_with_a_rated_reason() -> None:
    msg = answer_message(answer(abstained=True, reason=Reason.UNGROUNDED), answer_id="a1")
    assert FEEDBACK_ACTION not in action_ids(msg)


@pytest.mark.parametrize(
    ("confidence", "shown"), [(Confidence.HIGH, False), (Confidence.MEDIUM, True), (Confidence.LOW, True)]
)
def test_low_confidence_note(confidence: Confidence, shown: bool) -> None:
    msg = valid(answer_message(answer(confidence=confidence), answer_id="a1"))
    assert (DEFAULT_STRINGS.low_confidence in context_texts(msg)) is shown


def test_no_low_confidence_note_on_abstained_answers() -> None:
    not_covered = Answer("Not in the help centre.", abstained=True, reason=Reason.NOT_COVERED)
    assert DEFAULT_STRINGS.low_confidence not in context_texts(answer_message(not_covered, answer_id="a1"))


def test_text_fallback_has_answer_and_sources() -> None:
    msg = answer_message(answer(citations=(REFUNDS, LOCAL)), answer_id="a1")
    assert msg.text == (
        "Annual plans can be refunded *in full* within 30 days [1].\n\n"
        "Sources: 1. Request a refund (https://help.example.test/billing/refunds); 3. Internal notes"
    )


def test_text_fallback_is_never_empty_and_never_too_long() -> None:
    empty = answer_message(Answer("", abstained=True, reason=Reason.ERROR), answer_id="")
    assert empty.text == DEFAULT_STRINGS.no_answer
    assert section_texts(empty) == [DEFAULT_STRINGS.no_answer]
    huge = answer_message(answer("word " * 20_000, citations=(REFUNDS,)), answer_id="a1")
    assert len(huge.text) <= TEXT_LIMIT
    assert huge.text.endswith("Sources: 1. Request a refund (https://help.example.test/billing/refunds)")
    assert "…" in huge.text


def test_button_limits_are_enforced() -> None:
    with pytest.raises(ValueError):
        answer_message(answer(), answer_id="x" * 2000)  # "not_helpful|" + 2000 > 2000
    with pytest.raises(ValueError):
        answer_message(answer(), answer_id="")
    with pytest.raises(ValueError):
        answer_message(answer(), answer_id="a1", strings=SlackStrings(ask_person="A" * 76))
    ok = answer_message(answer(), answer_id="x" * (2000 - len("not_helpful|")))
    assert ok.blocks[-2]["elements"][0]["negative_button"]["value"].endswith("x")


def test_custom_strings_are_used() -> None:
    strings = dataclasses.replace(DEFAULT_STRINGS, helpful="Yes", ask_person="Talk to us", sources_label="Read")
    msg = answer_message(answer(confidence=Confidence.MEDIUM), answer_id="a1", strings=strings)
    assert msg.blocks[-2]["elements"][0]["positive_button"]["text"]["text"] == "Yes"
    assert msg.blocks[-1]["elements"][0]["text"]["text"] == "Talk to us"
    assert context_texts(msg)[0].startswith("*Read:* ")


def test_payload_is_a_copy() -> None:
    msg = answer_message(answer(), answer_id="a1")
    payload = msg.payload()
    assert payload == {"text": msg.text, "blocks": list(msg.blocks)}
    payload["blocks"][0]["text"]["text"] = "changed"
    assert msg.blocks[0]["text"]["text"] != "changed"


# ---- notices ------------------------------------------------------------------------------------------


def test_notice_is_one_escaped_section() -> None:
    msg = valid(notice_message("I'm busy right now & will answer soon <3"))
    assert msg.blocks == (
        {"type": "section", "text": {"type": "mrkdwn", "text": "I'm busy right now &amp; will answer soon &lt;3"}},
    )
    assert msg.text == "I'm busy right now &amp; will answer soon &lt;3"


def test_notice_converts_markdown_and_rejects_empty_text() -> None:
    assert section_texts(notice_message("Use **/kb status**"))[0] == "Use */kb status*"
    with pytest.raises(ValueError):
        notice_message("  ")


# ---- escalation ---------------------------------------------------------------------------------------


def escalation(**kw: Any) -> SlackMessage:
    args: dict[str, Any] = {
        "question": "How do I get a refund for <my> plan?\nIt was charged twice & I'm annoyed",
        "answer": answer(citations=(REFUNDS,)),
        "permalink": "https://acme.slack.com/archives/C1/p1700000000000100",
        "asker_id": "U123",
        "request_id": "req-7",
    }
    return valid(escalation_message(**(args | kw)))


def test_escalation_brief() -> None:
    msg = escalation()
    assert msg.blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "A person asked for help"}}
    texts = section_texts(msg)
    assert texts[0] == (
        "<@U123> asked:\n> How do I get a refund for &lt;my&gt; plan?\n> It was charged twice &amp; I'm annoyed"
    )
    assert texts[1] == "*What I answered:*\nAnnual plans can be refunded *in full* within 30 days [1]."
    assert "<https://help.example.test/billing/refunds|1. Request a refund>" in context_texts(msg)[0]
    assert texts[2] == "<https://acme.slack.com/archives/C1/p1700000000000100|Open the thread>"
    assert msg.blocks[-1] == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": RESOLVED_ACTION,
                "text": {"type": "plain_text", "text": "Mark resolved"},
                "value": "req-7",
                "style": "primary",
            }
        ],
    }
    assert "A person asked for help" in msg.text and "<@U123>" in msg.text


def test_escalation_without_permalink_or_answer() -> None:
    msg = escalation(permalink="", answer=None)
    texts = section_texts(msg)
    assert not any("Open the thread" in t for t in texts)
    assert texts[1] == f"*What I answered:*\n{DEFAULT_STRINGS.no_bot_answer}"
    assert not of_type(msg, "context")


def test_escalation_trims_a_long_answer() -> None:
    msg = escalation(answer=answer("All about refunds. " * 500))
    said = section_texts(msg)[1]
    assert len(said) <= 1600 and said.endswith("…")


def test_escalation_rejects_odd_user_ids() -> None:
    with pytest.raises(ValueError):
        escalation(asker_id="U1> <!channel")
    with pytest.raises(ValueError):
        escalation(request_id="")


def test_resolved_blocks_replace_only_the_resolve_button() -> None:
    blocks = list(escalation().blocks)
    other = {"type": "actions", "elements": [{"type": "button", "action_id": "other", "value": "v",
                                              "text": {"type": "plain_text", "text": "Other"}}]}
    done = resolved_blocks([*blocks, other], "U999")
    assert done[:-2] == blocks[:-1]
    assert done[-2] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Resolved by <@U999>"}]}
    assert done[-1] == other
    assert blocks[-1]["elements"][0]["action_id"] == RESOLVED_ACTION  # the input is left alone
    assert RESOLVED_ACTION not in str(done)
