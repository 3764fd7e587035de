"""`supportbot serve` with Teams, end to end: activities posted to the real server, what it sends to the
Bot Connector recorded by a local stand-in, Redis real. Authentication is off here (development mode,
explicitly); tests/teams/test_teams_auth.py covers it on."""

from __future__ import annotations

import json
import time

from adapters.redis_store import RedisStore
from adapters.teams import strings as s
from bot import messages
from tests.conftest import REDIS_URL
from tests.fakes.bot_connector import feedback_invoke, message_activity
from tests.teams.conftest import ADMIN, TeamsBot

SETTLE_S = 1.5


def ai_entity(activity: dict) -> dict:
    (entity,) = [e for e in activity.get("entities", []) if e.get("@type") == "Message"]
    return entity


def test_a_personal_question_gets_typing_then_an_ai_labelled_answer_with_citations_and_feedback(
    teamsbot: TeamsBot,
) -> None:
    asked = teamsbot.ask("How do I get a refund for my annual plan?", conversation_id="a:p-refund")
    (reply,) = teamsbot.replies("a:p-refund")
    entity = ai_entity(reply)
    assert entity["additionalType"] == ["AIGeneratedContent"]
    (claim,) = entity["citation"]
    assert claim["position"] == 1 and "[1]" in reply["text"] and "30 days" in reply["text"]
    assert claim["appearance"]["url"] == "https://help.example.test/billing/refunds"
    assert claim["appearance"]["name"] == "Request a refund" and len(claim["appearance"]["abstract"]) <= 160
    assert reply["channelData"]["feedbackLoopEnabled"] is True
    sent = teamsbot.connector.of(conversation_id="a:p-refund")
    assert [x.activity["type"] for x in sent] == ["typing", "message"]  # typing first
    assert sent[1].reply_to == asked["id"]


def test_a_channel_mention_is_answered_in_its_reply_chain(teamsbot: TeamsBot) -> None:
    chain = "19:general@thread.tacv2;messageid=1700000000001"
    teamsbot.ask("how do I turn on two-factor authentication?", conversation_id=chain,
                 conversation_type="channel", mention_bot=True, team_id="team-1", channel_id="19:general@thread.tacv2")
    (reply,) = teamsbot.replies(chain)
    assert ai_entity(reply)["citation"][0]["appearance"]["url"].endswith("/security/two-factor")
    assert "supportbot" not in reply["text"].split("[")[0].lower()  # the mention was not taken as the question
    # without a mention, a channel message is not for the bot
    teamsbot.ask("how do I turn on two-factor authentication?", conversation_id="19:quiet@thread.tacv2",
                 conversation_type="channel")
    time.sleep(SETTLE_S)
    assert teamsbot.connector.of(conversation_id="19:quiet@thread.tacv2") == []


def test_a_follow_up_is_answered_with_the_conversations_history(teamsbot: TeamsBot) -> None:
    teamsbot.ask("Can I get a refund?", conversation_id="a:p-follow")
    teamsbot.replies("a:p-follow")
    teamsbot.ask("what about monthly plans?", conversation_id="a:p-follow")
    follow_up = teamsbot.replies("a:p-follow", count=2)[1]
    assert "not refunded" in follow_up["text"]


def test_a_redelivered_activity_gets_one_reply(teamsbot: TeamsBot) -> None:
    activity = message_activity("How do I get a refund?", service_url=teamsbot.connector.service_url,
                                conversation_id="a:p-dup")
    assert teamsbot.post(activity).status in (200, 201)
    assert teamsbot.post(activity).status in (200, 201)
    teamsbot.replies("a:p-dup")
    time.sleep(SETTLE_S)
    assert len(teamsbot.connector.of(type="message", conversation_id="a:p-dup")) == 1


def test_native_feedback_is_recorded_latest_per_user_with_the_comment(teamsbot: TeamsBot) -> None:
    teamsbot.ask("How do I turn on two-factor authentication?", conversation_id="a:p-rate")
    teamsbot.replies("a:p-rate")
    (sent,) = teamsbot.connector.of(type="message", conversation_id="a:p-rate")
    url = teamsbot.connector.service_url
    dislike = feedback_invoke(reaction="dislike", reply_to_id=sent.id, service_url=url,
                              conversation_id="a:p-rate", comment="the steps were unclear", aad_object_id="aad-r")
    r = teamsbot.post(dislike)
    assert r.status == 200 and r.body == b""
    like = feedback_invoke(reaction="like", reply_to_id=sent.id, service_url=url, conversation_id="a:p-rate",
                           aad_object_id="aad-r")
    assert teamsbot.post(like).status == 200
    store = RedisStore(REDIS_URL, prefix=teamsbot.prefix)
    try:
        mine = [f for f in store.feedback(50) if f.question.startswith("How do I turn on two-factor")]
        counts = store.counts(time.time(), time.time())
    finally:
        store.close()
    assert [f.kind for f in mine] == ["helpful", "not_helpful"]
    assert mine[1].comment == "the steps were unclear"
    assert counts.get("feedback_helpful") == 1 and counts.get("feedback_not_helpful", 0) == 0


def test_ask_a_person_posts_a_brief_to_the_escalation_channel(teamsbot: TeamsBot) -> None:
    asked = teamsbot.ask("Why did my calendar sync fail with error E-4011?", conversation_id="a:p-ask",
                         user_name="Robin")
    (reply,) = teamsbot.replies("a:p-ask")
    card = reply["attachments"][0]["content"]["actions"][0]
    assert card["title"] == s.ASK_PERSON
    teamsbot.ask("", conversation_id="a:p-ask", value=card["data"], user_name="Robin")
    (brief,) = teamsbot.replies("19:support@thread.tacv2")
    assert "E-4011" in brief["text"] and "Robin" in brief["text"] and "Reconnect the calendar" in brief["text"]
    told = teamsbot.replies("a:p-ask", count=2)[1]
    assert told["text"] == s.ESCALATED
    assert card["data"]["answer_id"].endswith(asked["id"])


def test_a_channels_scope_limits_its_answers(teamsbot: TeamsBot) -> None:
    teamsbot.ask("How do I turn on two-factor authentication?", conversation_id="19:billing@thread.tacv2",
                 conversation_type="channel", mention_bot=True, channel_id="19:billing@thread.tacv2")
    (reply,) = teamsbot.replies("19:billing@thread.tacv2")
    assert reply["text"].startswith(messages.NOT_COVERED[:30])
    assert "feedbackLoopEnabled" not in (reply.get("channelData") or {})


def test_a_channels_voice_shapes_its_answers(teamsbot: TeamsBot) -> None:
    teamsbot.ask("Can I get a refund on my annual plan?", conversation_id="19:voice@thread.tacv2",
                 conversation_type="channel", mention_bot=True, channel_id="19:voice@thread.tacv2")
    (reply,) = teamsbot.replies("19:voice@thread.tacv2")
    assert reply["text"].startswith("Hi there! ") and "30 days" in reply["text"]
    teamsbot.ask("Can I get a refund on my annual plan?", conversation_id="a:p-novoice")
    (plain,) = teamsbot.replies("a:p-novoice")
    assert not plain["text"].startswith("Hi") and "30 days" in plain["text"]


def test_admin_commands_in_a_personal_chat(teamsbot: TeamsBot) -> None:
    teamsbot.ask("reload", conversation_id="a:p-user", aad_object_id="aad-someone")
    refused = teamsbot.replies("a:p-user")[0]
    assert refused["text"].startswith("Only help-centre admins") and "aad-someone" in refused["text"]

    (teamsbot.helpcentre / "billing" / "vat.md").write_text(
        "---\ntitle: Add a VAT number\nurl: https://help.example.test/billing/vat\n---\n"
        "Add your VAT number under Settings, then Billing, then Tax details.\n", encoding="utf-8")
    teamsbot.ask("reload", conversation_id="a:p-admin", aad_object_id=ADMIN)
    ack, diff = teamsbot.replies("a:p-admin", count=2, timeout=120)
    assert ack["text"] == s.KB_RELOADING
    assert "1 added" in diff["text"] and "billing/vat.md" in diff["text"]
    teamsbot.ask("status", conversation_id="a:p-admin", aad_object_id=ADMIN)
    status = teamsbot.replies("a:p-admin", count=3)[2]
    assert "version 2" in status["text"] and "5 articles" in status["text"]
    teamsbot.ask("help", conversation_id="a:p-admin", aad_object_id=ADMIN)
    assert "reload" in teamsbot.replies("a:p-admin", count=4)[3]["text"]


def test_installing_the_app_in_a_personal_chat_says_hello_once(teamsbot: TeamsBot) -> None:
    update = {**message_activity("", service_url=teamsbot.connector.service_url, conversation_id="a:p-new",
                                 activity_id="install-1"), "type": "conversationUpdate",
              "membersAdded": [{"id": "28:bot"}]}
    assert teamsbot.post(update).status in (200, 201)
    assert teamsbot.post(update).status in (200, 201)  # redelivered
    (hello,) = teamsbot.replies("a:p-new")
    assert hello["text"] == s.WELCOME
    time.sleep(SETTLE_S)
    assert len(teamsbot.connector.of(type="message", conversation_id="a:p-new")) == 1


def test_bad_input_gets_4xx_or_a_short_reply_never_5xx(teamsbot: TeamsBot) -> None:
    url = teamsbot.connector.service_url
    assert teamsbot.post(b"{not json").status == 400
    assert teamsbot.post(b"[1, 2]").status == 400
    no_conversation = message_activity("hi", service_url=url, conversation_id="a:p-bad")
    del no_conversation["conversation"]
    assert teamsbot.post(no_conversation).status == 400
    no_service = message_activity("hi", service_url=url, conversation_id="a:p-bad")
    del no_service["serviceUrl"]
    assert teamsbot.post(no_service).status == 400
    reaction = {**message_activity("", service_url=url, conversation_id="a:p-bad"), "type": "messageReaction"}
    assert teamsbot.post(reaction).status in (200, 201)
    teamsbot.ask("refund " * 5700, conversation_id="a:p-long")
    (long_reply,) = teamsbot.replies("a:p-long")
    assert long_reply["text"].startswith("That message is too long")
    time.sleep(0.5)
    assert teamsbot.connector.of(conversation_id="a:p-bad") == []
    assert teamsbot.alive()["teams_auth"] == "OFF (development only)"
    assert json.dumps(teamsbot.alive())


def test_the_log_is_json_and_never_holds_message_text(teamsbot: TeamsBot) -> None:
    question = "Which calendar error means the connection token expired?"
    teamsbot.ask(question, conversation_id="a:p-logs")
    (reply,) = teamsbot.replies("a:p-logs")
    (sent,) = teamsbot.connector.of(type="message", conversation_id="a:p-logs")
    teamsbot.post(feedback_invoke(reaction="dislike", reply_to_id=sent.id, service_url=teamsbot.connector.service_url,
                                  conversation_id="a:p-logs", comment="secret comment text"))
    time.sleep(0.5)
    lines = [line for line in teamsbot.log.read_text().splitlines() if line.strip()]
    assert all(isinstance(json.loads(line), dict) for line in lines)
    text = "\n".join(lines).casefold()
    for secret in (question.casefold(), reply["text"].split("[")[0].strip().casefold(), "secret comment text",
                   "how do i get a refund"):
        assert secret not in text, secret
