"""Teams converters (adapters/teams/convert.py): activity dicts as Teams sends them in, the core's values
out, and replies with the AI label, citations, feedback and "Ask a person" the way Teams expects them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.teams import strings
from adapters.teams.convert import (
    ABSTRACT_LIMIT,
    ASK_PERSON,
    MAX_CITATIONS,
    TEXT_LIMIT,
    answer_activity,
    escalation_activity,
    is_personal,
    mentions_bot,
    message_id,
    notice_activity,
    parse_ask_person,
    parse_feedback,
    policy_for,
    question_text,
    thread_key,
    typing_activity,
)
from bot.policy import Respond, parse_policies
from bot.store import ThreadKey
from bot.types import Answer, Citation, Confidence, Reason

BOT = "28:00000000-0000-0000-0000-00000000b07"
TENANT = "72f988bf-0000-0000-0000-2d7cd011db47"
CHANNEL = "19:general0123@thread.tacv2"
TEAM = "19:team0123@thread.tacv2"
CHAIN = f"{CHANNEL};messageid=1700000000000"
CARD = "application/vnd.microsoft.card.adaptive"

REFUNDS = Citation(1, "Request a refund", "https://help.example.test/billing/refunds", "billing/refunds",
                   "Annual plans can be refunded in full within 30 days of purchase.")
PLANS = Citation(2, "Plans & pricing", "https://help.example.test/plans", "plans", "Three plans: Free, Pro, Team.")


def mention(user_id: str, name: str) -> dict[str, Any]:
    return {"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": user_id, "name": name}}


def channel_message(text: str, *, entities: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A message in a channel reply chain, as Teams posts it to /api/messages."""
    activity: dict[str, Any] = {
        "type": "message",
        "id": "1700000000123",
        "text": text,
        "textFormat": "plain",
        "from": {"id": "29:user-jane", "name": "Jane Doe", "aadObjectId": "aad-jane"},
        "recipient": {"id": BOT, "name": "supportbot"},
        "conversation": {"id": CHAIN, "conversationType": "channel", "tenantId": TENANT, "isGroup": True},
        "channelData": {"tenant": {"id": TENANT}, "team": {"id": TEAM}, "channel": {"id": CHANNEL}},
        "entities": entities if entities is not None else [mention(BOT, "supportbot")],
    }
    activity.update(extra)
    return activity


def personal_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "1700000000456",
        "text": text,
        "from": {"id": "29:user-jane", "name": "Jane Doe"},
        "recipient": {"id": BOT, "name": "supportbot"},
        "conversation": {"id": "a:1personalchat", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
    }


def answer(text: str = "Annual plans can be refunded in full within 30 days [1].", **kw: Any) -> Answer:
    kw.setdefault("citations", (REFUNDS,))
    kw.setdefault("confidence", Confidence.HIGH)
    return Answer(text=text, **kw)


def root_entities(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in activity.get("entities", []) if e.get("@type") == "Message"]


def ask_person_cards(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in activity.get("attachments", []) if a.get("contentType") == CARD]


# ---- incoming -------------------------------------------------------------------------------------------


def test_question_text_drops_the_bots_mention_keeps_others_and_strips_html() -> None:
    activity = channel_message(
        "<at>supportbot</at> <p>how do I add <at>Sam Lee</at> to <b>billing</b>&nbsp;&amp; invoices?</p>"
        "<p>thanks</p>",
        entities=[mention(BOT, "supportbot"), mention("29:user-sam", "Sam Lee")],
    )
    assert question_text(activity) == "how do I add @Sam Lee to billing & invoices? thanks"


def test_question_text_mention_in_the_middle_and_escaped_text_that_is_not_a_tag() -> None:
    activity = channel_message("hey <at>supportbot</at>, is 2 &lt; 3 &lt;b&gt; bold?")
    assert question_text(activity) == "hey , is 2 < 3 <b> bold?"


def test_question_text_keeps_a_mention_of_someone_else_named_like_nobody_we_know() -> None:
    # The message mentions only another user: nothing is removed, the name stays as "@Name".
    activity = channel_message("<at>Sam</at> can you check this", entities=[mention("29:user-sam", "Sam")])
    assert question_text(activity) == "@Sam can you check this"
    assert not mentions_bot(activity)


def test_question_text_finds_the_bots_mention_by_name_when_the_entity_has_no_text() -> None:
    entity = {"type": "mention", "mentioned": {"id": BOT, "name": "supportbot"}}
    assert question_text(channel_message("<at>supportbot</at> reset password?", entities=[entity])) == (
        "reset password?"
    )


def test_mentions_bot_only_for_a_mention_entity_of_the_recipient() -> None:
    assert mentions_bot(channel_message("<at>supportbot</at> hi"))
    assert not mentions_bot(channel_message("hi", entities=[{"type": "clientInfo", "locale": "en-US"}]))
    assert not mentions_bot(channel_message("<at>supportbot</at> hi", entities=[mention("28:other-bot", "supportbot")]))


def test_personal_vs_channel() -> None:
    assert is_personal(personal_message("hi"))
    assert not is_personal(channel_message("<at>supportbot</at> hi"))
    assert not is_personal({"type": "message"})


def test_thread_key_of_a_channel_reply_chain() -> None:
    assert thread_key(channel_message("hi")) == ThreadKey("teams", TENANT, CHANNEL, "1700000000000")


def test_thread_key_of_a_personal_chat_uses_the_tenant_from_the_conversation_when_channel_data_lacks_it() -> None:
    activity = personal_message("hi")
    del activity["channelData"]
    assert thread_key(activity) == ThreadKey("teams", TENANT, "a:1personalchat", "chat")
    assert thread_key({"conversation": {"id": "a:1"}}) == ThreadKey("teams", "", "a:1", "chat")


def test_message_id_is_conversation_and_activity_id() -> None:
    assert message_id(channel_message("hi")) == f"{CHAIN}|1700000000123"
    assert message_id(personal_message("hi")) == "a:1personalchat|1700000000456"


POLICIES = parse_policies({
    "default": {"respond": "mentions"},
    "channels": {
        CHANNEL: {"respond": "all_questions"},
        TEAM: {"respond": "off"},
        "19:other@thread.tacv2": {"escalation": "19:support@thread.tacv2"},
    },
})


def test_policy_for_the_channel_entry_first() -> None:
    assert policy_for(channel_message("hi"), POLICIES).respond == Respond.ALL_QUESTIONS


def test_policy_for_the_channel_from_the_conversation_id_when_channel_data_has_no_channel() -> None:
    activity = channel_message("hi", channelData={"tenant": {"id": TENANT}})
    assert policy_for(activity, POLICIES).respond == Respond.ALL_QUESTIONS


def test_policy_for_the_team_when_the_channel_has_no_entry() -> None:
    activity = channel_message("hi", conversation={"id": "19:elsewhere@thread.tacv2;messageid=1",
                                                    "conversationType": "channel"},
                               channelData={"team": {"id": TEAM}, "channel": {"id": "19:elsewhere@thread.tacv2"}})
    assert policy_for(activity, POLICIES).respond == Respond.OFF


def test_policy_for_the_default_otherwise() -> None:
    assert policy_for(personal_message("hi"), POLICIES) is POLICIES.default
    assert policy_for(personal_message("hi"), POLICIES).respond == Respond.MENTIONS


# ---- the answer -----------------------------------------------------------------------------------------


def test_answer_has_one_root_message_entity_with_the_ai_label_and_citations_at_the_markers() -> None:
    activity = answer_activity(answer("Refunds [1]; plans [2].", citations=(REFUNDS, PLANS)),
                               answer_id="a1")
    assert activity["type"] == "message" and activity["textFormat"] == "markdown"
    assert activity["text"] == "Refunds [1]; plans [2]."
    (root,) = root_entities(activity)
    assert len(activity["entities"]) == 1
    assert root["type"] == "https://schema.org/Message"
    assert root["@context"] == "https://schema.org" and root["@id"] == ""
    assert root["additionalType"] == ["AIGeneratedContent"]
    assert [c["position"] for c in root["citation"]] == [1, 2]
    first = root["citation"][0]
    assert first["@type"] == "Claim"
    assert first["appearance"] == {
        "@type": "DigitalDocument",
        "name": "Request a refund",
        "url": "https://help.example.test/billing/refunds",
        "abstract": "Annual plans can be refunded in full within 30 days of purchase.",
    }
    json.dumps(activity)  # plain JSON, ready to send


def test_answer_without_citations_still_carries_the_ai_label() -> None:
    activity = answer_activity(answer("Go to Settings.", citations=()), answer_id="a1")
    (root,) = root_entities(activity)
    assert root["additionalType"] == ["AIGeneratedContent"]
    assert "citation" not in root


def test_at_most_ten_citations_of_twelve() -> None:
    many = tuple(Citation(n, f"Article {n}", f"https://help.example.test/{n}", f"doc{n}", "snippet")
                 for n in range(1, 13))
    text = " ".join(f"fact [{n}]." for n in range(1, 13))
    (root,) = root_entities(answer_activity(answer(text, citations=many), answer_id="a1"))
    assert len(root["citation"]) == MAX_CITATIONS == 10
    assert [c["position"] for c in root["citation"]] == list(range(1, 11))


def test_a_repeated_or_non_positive_marker_becomes_one_citation_each() -> None:
    again = Citation(1, "Refunds again", "https://help.example.test/again", "again", "dup")
    zero = Citation(0, "Zero", "https://help.example.test/zero", "zero", "no marker")
    cited = (REFUNDS, again, zero, PLANS)
    (root,) = root_entities(answer_activity(answer("a [1] b [2]", citations=cited), answer_id="a1"))
    assert [(c["position"], c["appearance"]["name"]) for c in root["citation"]] == [
        (1, "Request a refund"), (2, "Plans & pricing")]


def test_a_link_that_is_not_http_is_left_out() -> None:
    odd = Citation(1, "Local file", "file:///etc/passwd", "local", "text")
    (root,) = root_entities(answer_activity(answer("x [1]", citations=(odd,)), answer_id="a1"))
    assert "url" not in root["citation"][0]["appearance"]


def test_citation_abstract_is_collapsed_and_clipped_title_clipped_and_empty_url_omitted() -> None:
    long = Citation(3, "T" * 200, "", "internal", "word  \n " * 100)
    (root,) = root_entities(answer_activity(answer("x [3]", citations=(long,)), answer_id="a1"))
    appearance = root["citation"][0]["appearance"]
    assert root["citation"][0]["position"] == 3
    assert "url" not in appearance
    assert len(appearance["abstract"]) <= ABSTRACT_LIMIT
    assert appearance["abstract"].startswith("word word") and appearance["abstract"].endswith("…")
    assert len(appearance["name"]) <= 80 and appearance["name"].endswith("…")


def test_feedback_loop_and_ask_a_person_on_an_answered_question() -> None:
    activity = answer_activity(answer(), answer_id="ans-42")
    assert activity["channelData"] == {"feedbackLoopEnabled": True}
    (card,) = ask_person_cards(activity)
    content = card["content"]
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.5"
    assert content["body"] and content["body"][0]["text"] == strings.ASK_PERSON_HINT
    (action,) = content["actions"]
    assert action == {"type": "Action.Submit", "title": strings.ASK_PERSON,
                      "data": {"action": ASK_PERSON, "answer_id": "ans-42"}}


@pytest.mark.parametrize("reason", [Reason.LLM_TIMEOUT, Reason.LLM_ERROR, Reason.UNGROUNDED])
def test_model_fallbacks_are_rateable_too(reason: Reason) -> None:
    activity = answer_activity(answer(reason=reason), answer_id="a1")
    assert activity["channelData"] == {"feedbackLoopEnabled": True}
    assert ask_person_cards(activity)


def test_not_covered_offers_a_person_but_no_feedback() -> None:
    activity = answer_activity(
        Answer(text="I couldn't find this.", abstained=True, reason=Reason.NOT_COVERED), answer_id="a1",
    )
    assert "channelData" not in activity
    assert len(ask_person_cards(activity)) == 1
    assert strings.LOW_CONFIDENCE not in activity["text"]  # an abstention is not "unsure"


@pytest.mark.parametrize("reason", [Reason.ERROR, Reason.NO_INDEX, Reason.EMPTY_QUESTION])
def test_errors_have_neither_feedback_nor_a_person_button(reason: Reason) -> None:
    activity = answer_activity(Answer(text="Sorry.", abstained=True, reason=reason), answer_id="")
    assert "channelData" not in activity
    assert "attachments" not in activity
    assert len(root_entities(activity)) == 1


def test_a_button_needs_an_answer_id() -> None:
    with pytest.raises(ValueError, match="answer_id"):
        answer_activity(answer(), answer_id="")


@pytest.mark.parametrize("confidence", [Confidence.MEDIUM, Confidence.LOW])
def test_a_quiet_note_when_not_sure(confidence: Confidence) -> None:
    text = answer_activity(answer(confidence=confidence), answer_id="a1")["text"]
    assert text.endswith(f"\n\n_{strings.LOW_CONFIDENCE}_")
    assert text.startswith("Annual plans can be refunded in full within 30 days [1].")


def test_no_note_when_confident() -> None:
    text = answer_activity(answer(confidence=Confidence.HIGH), answer_id="a1")["text"]
    assert strings.LOW_CONFIDENCE not in text


def test_an_empty_answer_text_is_never_sent_empty() -> None:
    activity = answer_activity(answer("  ", citations=()), answer_id="a1")
    assert activity["text"].startswith(strings.NO_ANSWER)


def test_a_long_answer_is_clipped_to_the_limit_and_keeps_the_note() -> None:
    many = tuple(Citation(n, f"Article {n}", f"https://help.example.test/{n}", f"doc{n}", "s " * 200)
                 for n in range(1, 11))
    body = "Refunds take time [1]. " * 3000  # ~69,000 characters
    activity = answer_activity(answer(body, citations=many, confidence=Confidence.LOW), answer_id="a1")
    text = activity["text"]
    assert len(text) <= TEXT_LIMIT
    assert text.startswith("Refunds take time [1].")
    assert text.endswith(f"…\n\n_{strings.LOW_CONFIDENCE}_")
    # the whole activity, citations and card included, stays within the limit
    assert len(json.dumps(activity, ensure_ascii=False, separators=(",", ":")).encode()) <= TEXT_LIMIT


def test_a_long_non_ascii_answer_is_clipped_by_its_size_in_bytes() -> None:
    activity = answer_activity(answer("返金 " * 20_000, citations=()), answer_id="a1")
    assert len(activity["text"].encode()) <= TEXT_LIMIT
    assert activity["text"].endswith("…")


def test_notice_and_typing() -> None:
    assert notice_activity("Busy, try again.") == {"type": "message", "text": "Busy, try again.",
                                                  "textFormat": "markdown"}
    assert typing_activity() == {"type": "typing"}


# ---- the escalation brief -------------------------------------------------------------------------------


def test_escalation_brief_says_who_where_what_and_links_sources() -> None:
    activity = escalation_activity(
        question="How do I get a *refund*?\nIt was yesterday.",
        answer_text="Annual plans can be refunded [1].",
        sources=[("Request a refund", "https://help.example.test/billing/refunds"), ("Internal notes", "")],
        asker_name="Jane Doe",
        where="Billing help",
    )
    text = activity["text"]
    assert activity["type"] == "message" and activity["textFormat"] == "markdown"
    assert strings.ASKED.format(name="Jane Doe", where="Billing help") in text
    assert "> How do I get a \\*refund\\*?\n> It was yesterday." in text  # quoted, shown as written
    assert "Annual plans can be refunded [1]." in text
    assert "1. [Request a refund](https://help.example.test/billing/refunds)" in text
    assert "2. Internal notes" in text and "](" not in text.split("2. ")[1]


def test_escalation_brief_trims_a_long_answer_and_says_when_there_was_none() -> None:
    long = escalation_activity(question="q", answer_text="word " * 1000, sources=[], asker_name="Jane",
                               where="General")
    said = long["text"].split(f"**{strings.BOT_ANSWER}**\n\n")[1]
    assert len(said) <= 1500 and said.endswith("…")
    none = escalation_activity(question="q", answer_text="", sources=[], asker_name="", where="")
    assert strings.NO_BOT_ANSWER in none["text"]
    assert strings.ASKED.format(name=strings.SOMEONE, where=strings.SOMEWHERE) in none["text"]


# ---- feedback and "Ask a person" --------------------------------------------------------------------------


def feedback_invoke(reaction: str, feedback: Any = None, **value: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"reaction": reaction}
    if feedback is not None:
        action["feedback"] = feedback
    return {
        "type": "invoke",
        "name": "message/submitAction",
        "replyToId": "1700000000999",
        "value": {"actionName": "feedback", "actionValue": action, **value},
    }


def test_parse_feedback_like_and_dislike() -> None:
    assert parse_feedback(feedback_invoke("like")) == ("helpful", "")
    assert parse_feedback(feedback_invoke("dislike")) == ("not_helpful", "")


def test_parse_feedback_with_a_comment() -> None:
    assert parse_feedback(feedback_invoke("dislike", '{"feedbackText":" too long "}')) == ("not_helpful",
                                                                                           "too long")
    assert parse_feedback(feedback_invoke("like", {"feedbackText": "spot on"})) == ("helpful", "spot on")


@pytest.mark.parametrize("comment", ["{not json", '"just a string"', '{"feedbackText": 3}', "[" * 100_000, 7])
def test_parse_feedback_with_a_malformed_comment_keeps_the_rating(comment: Any) -> None:
    assert parse_feedback(feedback_invoke("like", comment)) == ("helpful", "")


def test_parse_feedback_ignores_everything_else() -> None:
    assert parse_feedback(feedback_invoke("love")) is None
    assert parse_feedback(feedback_invoke("like") | {"name": "adaptiveCard/action"}) is None
    assert parse_feedback(feedback_invoke("like") | {"type": "message"}) is None
    assert parse_feedback({"type": "invoke", "name": "message/submitAction",
                           "value": {"actionName": "other", "actionValue": {"reaction": "like"}}}) is None
    assert parse_feedback({"type": "invoke", "name": "message/submitAction", "value": "like"}) is None
    assert parse_feedback(channel_message("<at>supportbot</at> hi")) is None


def test_parse_ask_person() -> None:
    clicked = channel_message("", value={"action": ASK_PERSON, "answer_id": "ans-42"})
    assert parse_ask_person(clicked) == "ans-42"
    assert parse_ask_person(channel_message("", value={"action": "other", "answer_id": "ans-42"})) is None
    assert parse_ask_person(channel_message("", value={"action": ASK_PERSON, "answer_id": ""})) is None
    assert parse_ask_person(channel_message("", value={"action": ASK_PERSON, "answer_id": 42})) is None
    assert parse_ask_person(channel_message("<at>supportbot</at> hi")) is None
    assert parse_ask_person(clicked | {"type": "invoke"}) is None


def test_the_card_round_trips_to_parse_ask_person() -> None:
    (card,) = ask_person_cards(answer_activity(answer(), answer_id="ans-7"))
    data = card["content"]["actions"][0]["data"]
    assert parse_ask_person(channel_message("", value=data)) == "ans-7"
