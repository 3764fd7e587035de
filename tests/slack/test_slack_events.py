"""`supportbot serve` with Slack, end to end: requests signed as Slack signs them go to the real server
(a subprocess); what it sends to Slack is recorded by a local stand-in for the Web API; Redis is real."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from adapters.slack import strings as s
from bot import messages
from tests.fakes.slack_api import BOT_ID, BOT_USER, TEAM, post
from tests.slack.conftest import RATE_BURST, SECRET, SlackBot

SETTLE_S = 1.5  # how long to watch for a second (wrong) reply


def blocks_text(params: dict[str, Any]) -> str:
    return json.dumps(params.get("blocks", []))


def answer_id(channel: str, ts: str) -> str:
    return f"slack:{TEAM}:{channel}:{ts}"


def touching(slackbot: SlackBot, *ids: str) -> list[str]:
    """The Web API calls that name any of these channels or message timestamps."""
    return [c.method for c in list(slackbot.slack.calls)
            if any(v in ids for v in c.params.values() if isinstance(v, str))]


# -- the basics -----------------------------------------------------------------------------------------


def test_url_verification_answers_the_challenge_only_when_signed(slackbot: SlackBot) -> None:
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"}).encode()
    ok = post(slackbot.url + "/slack/events", body, content_type="application/json", secret=SECRET)
    assert ok.status == 200 and ok.json()["challenge"] == "c-123"
    forged = post(slackbot.url + "/slack/events", body, content_type="application/json", secret="wrong")
    assert forged.status == 401 and b"c-123" not in forged.body


def test_a_channel_mention_is_answered_in_its_thread_with_sources_and_feedback(slackbot: SlackBot) -> None:
    t0 = time.time()
    ts = slackbot.mention("How do I get a refund for my annual plan?")
    (reply,) = slackbot.replies_in("C0GENERAL", ts)
    blocks = reply["blocks"]
    assert "30 days" in blocks[0]["text"]["text"]
    sources = blocks_text({"blocks": [b for b in blocks if b["type"] == "context"]})
    assert "<https://help.example.test/billing/refunds|1. Request a refund>" in sources
    feedback = next(b for b in blocks if b["type"] == "context_actions")["elements"][0]
    assert feedback["type"] == "feedback_buttons"
    assert feedback["positive_button"]["value"] == f"helpful|{answer_id('C0GENERAL', ts)}"
    assert '"sb_ask_person"' in blocks_text(reply)
    assert "30 days" in reply["text"] and "Request a refund" in reply["text"]  # the fallback
    # the working signal (shown at once in these tests) is taken away once the answer is posted
    added = slackbot.slack.wait_for("reactions.add", timestamp=ts)
    removed = slackbot.slack.wait_for("reactions.remove", timestamp=ts)
    assert added[0].params["name"] == removed[0].params["name"] == "eyes"
    assert removed[0].at >= slackbot.slack.of("chat.postMessage", thread_ts=ts)[0].at >= t0


def test_a_direct_message_is_answered_in_the_dm(slackbot: SlackBot) -> None:
    _, r = slackbot.message("how do I turn on two-factor authentication", channel="D0DM1", channel_type="im")
    assert r.status == 200
    (reply,) = slackbot.replies_in("D0DM1", None)
    assert "help.example.test/security/two-factor" in blocks_text(reply)


def test_a_thread_follow_up_without_a_mention_is_answered_with_the_threads_history(slackbot: SlackBot) -> None:
    root = slackbot.mention("Can I get a refund?", channel="C0FOLLOW")
    slackbot.replies_in("C0FOLLOW", root)
    slackbot.message("what about monthly plans?", channel="C0FOLLOW", thread_ts=root)
    first, follow_up = slackbot.replies_in("C0FOLLOW", root, count=2)
    assert "not refunded" in follow_up["text"] and "Request a refund" in follow_up["text"]
    # a reply in a thread the bot never answered in is not for the bot
    stranger, _ = slackbot.message("what about monthly plans?", channel="C0FOLLOW", thread_ts="1700000000.000001")
    time.sleep(SETTLE_S)
    assert touching(slackbot, stranger, "1700000000.000001") == []


def test_retries_and_the_second_event_type_get_exactly_one_answer(slackbot: SlackBot) -> None:
    ts = slackbot.next_ts()
    text = f"<@{BOT_USER}> how long do the mobile apps keep schedules offline?"
    mention = {"type": "app_mention", "user": "U2", "text": text, "ts": ts, "channel": "C0DUP", "event_ts": ts}
    message = {**mention, "type": "message", "channel_type": "channel"}
    assert slackbot.send_event(mention, event_id="EvDUP1").status == 200
    assert slackbot.send_event(message, event_id="EvDUP2").status == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert slackbot.send_event(mention, event_id="EvDUP1", headers=retry).status == 200
    slackbot.replies_in("C0DUP", ts)
    time.sleep(SETTLE_S)
    assert len(slackbot.slack.of("chat.postMessage", channel="C0DUP")) == 1


def test_bots_edits_and_joins_are_ignored(slackbot: SlackBot) -> None:
    slackbot.message("How do I get a refund?", channel="D0DM2", channel_type="im", user=BOT_USER, bot_id=BOT_ID)
    slackbot.message("How do I get a refund?", channel="D0DM2", channel_type="im", user="U9", bot_id="B0OTHER")
    slackbot.message("How do I get a refund?", channel="D0DM2", channel_type="im", subtype="message_changed")
    slackbot.message("joined", channel="C0JOIN", subtype="channel_join")
    time.sleep(SETTLE_S)
    assert touching(slackbot, "D0DM2", "C0JOIN") == []


def test_an_empty_mention_gets_help_with_example_questions(slackbot: SlackBot) -> None:
    ts = slackbot.mention("", channel="C0HELP")
    (reply,) = slackbot.replies_in("C0HELP", ts)
    assert reply["text"].startswith(s.HELP)
    assert reply["text"].count("\n• ") == 4  # four examples drawn from the help centre


def test_a_user_asking_too_fast_is_told_to_slow_down_in_the_thread(slackbot: SlackBot) -> None:
    for _ in range(RATE_BURST):
        slackbot.message("how do I get a refund?", channel="D0FAST", channel_type="im", user="UFAST")
    slackbot.replies_in("D0FAST", None, count=RATE_BURST, timeout=60)
    ts = slackbot.mention("and one more?", channel="C0FAST", user="UFAST")
    (reply,) = slackbot.replies_in("C0FAST", ts)
    assert reply["text"] == messages.SLOW_DOWN


# -- feedback and "Ask a person" --------------------------------------------------------------------------


def test_a_feedback_click_is_recorded_and_a_changed_mind_replaces_it(slackbot: SlackBot) -> None:
    ts = slackbot.mention("How do I turn on two-factor authentication?", channel="C0RATE")
    (reply,) = slackbot.replies_in("C0RATE", ts)
    aid = answer_id("C0RATE", ts)
    message = {"ts": "9.1", "thread_ts": ts, "blocks": reply["blocks"]}
    action = {"type": "feedback_buttons", "action_id": "sb_feedback"}
    assert slackbot.click({**action, "value": f"not_helpful|{aid}"}, user="U7", channel="C0RATE",
                          message=message).status == 200
    first = slackbot.slack.wait_for("chat.postEphemeral", channel="C0RATE", user="U7")
    assert first[0].params["text"] == messages.THANKS_NOT_HELPFUL and first[0].params["thread_ts"] == ts
    slackbot.click({**action, "value": f"helpful|{aid}"}, user="U7", channel="C0RATE", message=message)
    changed = slackbot.slack.wait_for("chat.postEphemeral", 2, channel="C0RATE", user="U7")
    assert changed[1].params["text"] == messages.RATING_CHANGED
    store = slackbot.store()
    try:
        counts = store.counts(time.time(), time.time())
        latest = [f.kind for f in store.feedback(50) if f.question.startswith("How do I turn on two-factor")]
    finally:
        store.close()
    assert counts.get("feedback_helpful", 0) >= 1 and counts.get("feedback_not_helpful", 0) == 0
    assert latest[:2] == ["helpful", "not_helpful"]  # the log keeps both clicks; the report the latest


def test_ask_a_person_posts_a_brief_to_the_escalation_channel_and_tells_the_asker(slackbot: SlackBot) -> None:
    ts = slackbot.mention("Why did my calendar sync fail with error E-4011?", channel="C0ASK")
    (reply,) = slackbot.replies_in("C0ASK", ts)
    aid = answer_id("C0ASK", ts)
    message = {"ts": "9.2", "thread_ts": ts, "blocks": reply["blocks"]}
    slackbot.click({"type": "button", "action_id": "sb_ask_person", "value": aid}, user="U3", channel="C0ASK",
                   message=message)
    (brief,) = [c.params for c in slackbot.slack.wait_for("chat.postMessage", channel="C0SUPPORT")]
    text = blocks_text(brief)
    assert "E-4011" in text and "<@U3>" in text and "Reconnect the calendar" in text
    assert f"https://test.slack.com/archives/C0ASK/p{ts.replace('.', '')}" in text  # chat.getPermalink
    assert '"sb_resolved"' in text
    told = slackbot.replies_in("C0ASK", ts, count=2)[1]
    assert told["text"] == s.ESCALATED_CHANNEL.format(channel="C0SUPPORT")
    # asking twice does not page the team twice
    slackbot.click({"type": "button", "action_id": "sb_ask_person", "value": aid}, user="U3", channel="C0ASK",
                   message=message)
    again = slackbot.slack.wait_for("chat.postEphemeral", channel="C0ASK", user="U3")
    assert again[0].params["text"] == messages.HUMAN_ALREADY_REQUESTED
    assert len(slackbot.slack.of("chat.postMessage", channel="C0SUPPORT")) == 1
    # the support team marks it resolved: the button becomes a note
    brief_message = {"ts": "9.3", "blocks": brief["blocks"], "text": brief["text"]}
    slackbot.click({"type": "button", "action_id": "sb_resolved", "value": aid}, user="U0AGENT",
                   channel="C0SUPPORT", message=brief_message)
    (update,) = [c.params for c in slackbot.slack.wait_for("chat.update", channel="C0SUPPORT")]
    assert update["ts"] == "9.3" and "Resolved by <@U0AGENT>" in blocks_text(update)
    assert '"sb_resolved"' not in blocks_text(update)


def test_a_not_covered_answer_offers_a_person_and_a_user_group_is_pinged_in_the_thread(slackbot: SlackBot) -> None:
    ts = slackbot.mention("Can I pay with bitcoin?", channel="C0TEAM")
    (reply,) = slackbot.replies_in("C0TEAM", ts)
    assert "feedback_buttons" not in blocks_text(reply) and '"sb_ask_person"' in blocks_text(reply)
    slackbot.click({"type": "button", "action_id": "sb_ask_person", "value": answer_id("C0TEAM", ts)},
                   user="U4", channel="C0TEAM", message={"ts": "9.4", "thread_ts": ts, "blocks": reply["blocks"]})
    ping = slackbot.replies_in("C0TEAM", ts, count=2)[1]
    assert "<!subteam^S0SUPPORTERS>" in ping["text"] and "bitcoin" in blocks_text(ping)


# -- per-channel policy ----------------------------------------------------------------------------------


def test_a_channels_scope_limits_its_answers_to_its_articles(slackbot: SlackBot) -> None:
    ts = slackbot.mention("How do I turn on two-factor authentication?", channel="C0BILLING")
    (reply,) = slackbot.replies_in("C0BILLING", ts)
    assert "two-factor" not in blocks_text(reply).split("Sources")[-1]
    assert reply["text"].startswith(messages.NOT_COVERED[:30])
    # the same question anywhere else is answered from the security article
    ts2 = slackbot.mention("How do I turn on two-factor authentication?", channel="C0OPEN")
    assert "security/two-factor" in blocks_text(slackbot.replies_in("C0OPEN", ts2)[0])


def test_all_questions_channels_answer_without_a_mention_and_off_channels_say_so(slackbot: SlackBot) -> None:
    ts, _ = slackbot.message("how do I ask for a refund?", channel="C0BILLING")
    assert "billing/refunds" in blocks_text(slackbot.replies_in("C0BILLING", ts)[0])
    chatter, _ = slackbot.message("thanks everyone!", channel="C0BILLING")  # not a question
    unmentioned, _ = slackbot.message("how do I ask for a refund?", channel="C0MENTIONS")  # mentions only
    time.sleep(SETTLE_S)
    assert touching(slackbot, chatter, unmentioned, "C0MENTIONS") == []
    quiet = slackbot.mention("How do I get a refund?", channel="C0QUIET")
    assert slackbot.replies_in("C0QUIET", quiet)[0]["text"] == s.CHANNEL_OFF


# -- the DM as an AI-app surface ---------------------------------------------------------------------------


def test_opening_the_dm_welcomes_once_with_suggested_questions(slackbot: SlackBot) -> None:
    opened = {"type": "app_home_opened", "user": "U5", "channel": "D0DM5", "tab": "messages",
              "event_ts": slackbot.next_ts()}
    assert slackbot.send_event(opened).status == 200
    (welcome,) = [c.params for c in slackbot.slack.wait_for("chat.postMessage", channel="D0DM5")]
    buttons = [e for b in welcome["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert 1 <= len(buttons) <= 4 and all(b["value"].endswith("?") or b["value"] for b in buttons)
    slackbot.send_event({**opened, "event_ts": slackbot.next_ts()})
    time.sleep(SETTLE_S)
    assert len(slackbot.slack.of("chat.postMessage", channel="D0DM5")) == 1
    # clicking a suggestion asks it
    slackbot.click({"type": "button", "action_id": buttons[0]["action_id"], "value": buttons[0]["value"]},
                   user="U5", channel="D0DM5", message={"ts": "9.5"})
    asked = slackbot.slack.wait_for("chat.postMessage", 3, channel="D0DM5")
    assert asked[1].params["text"] == s.YOU_ASKED.format(question=buttons[0]["value"])
    assert "help.example.test" in blocks_text(asked[2].params)


def test_an_assistant_thread_gets_prompts_and_a_status_while_answering(slackbot: SlackBot) -> None:
    thread = slackbot.next_ts()
    started = {"type": "assistant_thread_started", "event_ts": thread,
               "assistant_thread": {"user_id": "U6", "channel_id": "D0AI", "thread_ts": thread, "context": {}}}
    assert slackbot.send_event(started).status == 200
    (prompts,) = slackbot.slack.wait_for("assistant.threads.setSuggestedPrompts", channel_id="D0AI")
    listed = prompts.params["prompts"]
    assert 1 <= len(listed) <= 4 and all(p["title"] and p["message"] for p in listed)
    slackbot.message(listed[0]["message"], channel="D0AI", channel_type="im", thread_ts=thread, user="U6")
    (reply,) = slackbot.replies_in("D0AI", thread)
    (status,) = slackbot.slack.wait_for("assistant.threads.setStatus", channel_id="D0AI", thread_ts=thread)
    assert status.params["status"] == s.WORKING_STATUS and status.at <= time.time()
    assert "help.example.test" in blocks_text(reply)


def test_a_channels_voice_shapes_its_answers(slackbot: SlackBot) -> None:
    ts = slackbot.mention("Can I get a refund on my annual plan?", channel="C0VOICE")
    (reply,) = slackbot.replies_in("C0VOICE", ts)
    assert reply["text"].startswith("Hi there! ") and "30 days" in reply["text"]
    assert "Hi there!" in blocks_text(reply)
    ts = slackbot.mention("Can I get a refund on my annual plan?", channel="C0NOVOICE")
    (plain,) = slackbot.replies_in("C0NOVOICE", ts)
    assert not plain["text"].startswith("Hi") and "30 days" in plain["text"]


# -- /kb -----------------------------------------------------------------------------------------------


def test_kb_help_and_a_non_admin_is_refused(slackbot: SlackBot) -> None:
    helped = slackbot.command("help", user="U8")
    assert helped.status == 200 and "/kb reload" in helped.json()["text"]
    assert helped.json()["response_type"] == "ephemeral"
    refused = slackbot.command("reload", user="U8")
    assert refused.status == 200 and "Only help-centre admins" in refused.json()["text"]
    assert "U8" in refused.json()["text"]


def test_kb_reload_status_and_rollback_by_an_admin(slackbot: SlackBot) -> None:
    (slackbot.helpcentre / "billing" / "vat.md").write_text(
        "---\ntitle: Add a VAT number\nurl: https://help.example.test/billing/vat\n---\n"
        "Add your VAT number under Settings, then Billing, then Tax details. Invoices show it from then on.\n",
        encoding="utf-8")
    (slackbot.helpcentre / "broken.md").write_bytes(b"\xff\xfe not text")
    ack = slackbot.command("reload", hook="reload")
    assert ack.status == 200 and ack.elapsed_s < 3 and ack.json()["text"] == s.KB_RELOADING
    (result,) = slackbot.slack.wait_for("/hooks/reload", timeout=120)
    text = result.params["text"]
    assert "1 added" in text and "`billing/vat.md`" in text and "broken.md" in text and "reloaded" in text
    # answered from the new version right after the swap
    ts = slackbot.mention("Where do I add my VAT number?", channel="C0VAT")
    assert "billing/vat" in blocks_text(slackbot.replies_in("C0VAT", ts)[0])

    assert slackbot.command("status", hook="status").status == 200
    status = slackbot.slack.wait_for("/hooks/status")[0].params["text"]
    assert "version 2 live" in status and "5 articles" in status and "1 added" in status

    assert slackbot.command("rollback", hook="rollback").status == 200
    rolled = slackbot.slack.wait_for("/hooks/rollback")[0].params["text"]
    assert "version 1 is live again" in rolled
    ts = slackbot.mention("Where do I add my VAT number?", channel="C0VAT2")
    assert "billing/vat" not in blocks_text(slackbot.replies_in("C0VAT2", ts)[0])


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret,age_s", [(None, 0), ("wrong-secret", 0), (SECRET, 600)])
def test_a_forged_or_stale_request_is_refused_and_nothing_is_posted(
    slackbot: SlackBot, secret: str | None, age_s: int
) -> None:
    channel = f"D0FORGED{age_s}{len(secret or '')}"
    event = {"type": "message", "user": "U1", "text": "How do I get a refund?", "ts": slackbot.next_ts(),
             "channel": channel, "channel_type": "im"}
    r = slackbot.send_event(event, secret=secret, timestamp=int(time.time()) - age_s)
    assert r.status == 401
    time.sleep(0.5)
    assert touching(slackbot, channel) == []


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    (b"", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00", "application/json"),
])
def test_malformed_bodies_get_4xx_and_the_server_keeps_running(
    slackbot: SlackBot, body: bytes, content_type: str
) -> None:
    r = post(slackbot.url + "/slack/events", body, content_type=content_type, secret=SECRET)
    assert 400 <= r.status < 500
    assert slackbot.alive()


def test_unknown_events_and_actions_get_200_and_nothing_posted(slackbot: SlackBot) -> None:
    r = slackbot.send_event({"type": "reaction_added", "user": "U1", "reaction": "tada",
                             "item": {"type": "message", "channel": "C0UNKNOWN", "ts": "1.0"}})
    assert r.status == 200
    clicked = slackbot.click({"type": "button", "action_id": "something_else", "value": "x"}, channel="C0UNKNOWN")
    assert clicked.status == 200
    time.sleep(0.5)
    assert touching(slackbot, "C0UNKNOWN") == []


def test_a_40000_character_message_gets_a_short_reason(slackbot: SlackBot) -> None:
    ts = slackbot.mention("refund " * 5700, channel="C0LONG")
    (reply,) = slackbot.replies_in("C0LONG", ts)
    assert reply["text"].startswith("That message is too long") and len(reply["text"]) < 200
    assert slackbot.alive()


def test_the_web_apis_429_is_retried_after_retry_after(slackbot: SlackBot) -> None:
    slackbot.slack.rate_limit_once.add("chat.postMessage")
    ts = slackbot.mention("How do I get a refund?", channel="C0429")
    (reply,) = slackbot.replies_in("C0429", ts)
    limited = [c for c in slackbot.slack.calls if c.method == "chat.postMessage (429)"]
    assert limited and slackbot.slack.of("chat.postMessage", channel="C0429")[0].at - limited[-1].at >= 0.9
    assert "billing/refunds" in blocks_text(reply)



# -- operations -------------------------------------------------------------------------------------------


def metric(slackbot: SlackBot, name: str, **labels: str) -> float:
    """One sample of GET /metrics (0 when absent)."""
    import urllib.request

    text = urllib.request.urlopen(slackbot.url + "/metrics", timeout=10).read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith(name) and (head == name or head == f"{name}{{{want}}}"):
            return float(value)
    return 0.0


def test_health_and_metrics_say_how_the_server_is(slackbot: SlackBot) -> None:
    import urllib.request

    health = json.loads(urllib.request.urlopen(slackbot.url + "/healthz", timeout=10).read())
    assert health["ok"] and health["redis"] == "up" and health["chroma"] == "up"
    assert health["index_version"] >= 1 and health["chunks"] > 0 and health["platforms"] == ["slack"]
    answered = metric(slackbot, "supportbot_requests_total", outcome="answered", platform="slack")
    duplicates = metric(slackbot, "supportbot_requests_total", outcome="duplicate", platform="slack")
    helpful = metric(slackbot, "supportbot_feedback_total", kind="helpful", platform="slack")
    ts = slackbot.mention("How do I get a refund?", channel="C0METRICS")
    slackbot.send_event({"type": "message", "user": "U1", "text": f"<@{BOT_USER}> How do I get a refund?",
                         "ts": ts, "channel": "C0METRICS", "channel_type": "channel", "event_ts": ts})
    (reply,) = slackbot.replies_in("C0METRICS", ts)
    slackbot.click({"type": "feedback_buttons", "action_id": "sb_feedback",
                    "value": f"helpful|{answer_id('C0METRICS', ts)}"}, user="UMETRIC", channel="C0METRICS",
                   message={"ts": "9.9", "thread_ts": ts, "blocks": reply["blocks"]})
    slackbot.slack.wait_for("chat.postEphemeral", channel="C0METRICS", user="UMETRIC")
    time.sleep(0.5)
    assert metric(slackbot, "supportbot_requests_total", outcome="answered", platform="slack") == answered + 1
    assert metric(slackbot, "supportbot_requests_total", outcome="duplicate", platform="slack") == duplicates + 1
    assert metric(slackbot, "supportbot_feedback_total", kind="helpful", platform="slack") == helpful + 1
    assert metric(slackbot, "supportbot_answer_seconds_count", backend="extractive") >= 1
    assert metric(slackbot, "supportbot_answers_pending") == 0


def test_the_log_is_json_and_never_holds_message_text_tokens_or_secrets(slackbot: SlackBot) -> None:
    question = "Which calendar error means the connection token expired?"
    ts = slackbot.mention(question, channel="C0LOGS")
    (reply,) = slackbot.replies_in("C0LOGS", ts)
    aid = answer_id("C0LOGS", ts)
    slackbot.click({"type": "feedback_buttons", "action_id": "sb_feedback", "value": f"not_helpful|{aid}"},
                   user="ULOG", channel="C0LOGS", message={"ts": "9.8", "thread_ts": ts, "blocks": reply["blocks"]})
    slackbot.slack.wait_for("chat.postEphemeral", channel="C0LOGS", user="ULOG")
    assert slackbot.command("status", hook="logs").status == 200
    slackbot.slack.wait_for("/hooks/logs")
    time.sleep(0.5)
    lines = [line for line in slackbot.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"ts", "level", "logger", "msg"} <= set(records[-1]) and len(records) > 10
    text = "\n".join(lines).casefold()
    answer_sentence = reply["text"].split("[")[0].strip().casefold()
    for secret in (question.casefold(), "connection token expired", answer_sentence, "xoxb-test", SECRET,
                   "how do i get a refund", "annual plans can be refunded"):
        assert secret not in text, secret
    assert aid in "\n".join(lines)  # ids are logged: what happened can still be followed


def test_the_cli_will_not_write_to_the_embedded_index_a_server_has_open(slackbot: SlackBot) -> None:
    import os
    import subprocess

    from tests.conftest import SUPPORTBOT

    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(slackbot.data_dir)}
    for args in (["ingest", str(slackbot.helpcentre)], ["kb", "rollback"]):
        done = subprocess.run([SUPPORTBOT, *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "a supportbot server (pid " in done.stderr and "/kb reload" in done.stderr
    ts = slackbot.mention("How do I get a refund?", channel="C0STILL")
    assert "billing/refunds" in blocks_text(slackbot.replies_in("C0STILL", ts)[0])  # still answering
