"""Slack events to the core's values: which posts are questions, their text, thread and identity."""

from __future__ import annotations

from adapters.slack.convert import DM_THREAD, mentions, post_from_event, question_text, to_incoming
from bot.store import ThreadKey
from knowledge.retrieval import Scope


def event(**kw: object) -> dict[str, object]:
    return {"type": "message", "user": "U1", "text": "hi", "ts": "10.1", "channel": "C1", "team": "T1", **kw}


def test_a_channel_post_replies_in_its_own_thread_and_a_reply_in_the_threads() -> None:
    top = post_from_event(event(), "T0")
    assert top is not None and top.reply_thread == "10.1" and top.thread_ts is None
    assert top.key == ThreadKey("slack", "T1", "C1", "10.1") and top.message_id == "T1:C1:10.1"
    reply = post_from_event(event(ts="10.5", thread_ts="10.1"), "T0")
    assert reply is not None and reply.reply_thread == "10.1" and reply.key == top.key


def test_a_dm_answers_at_its_top_level_and_keeps_one_conversation() -> None:
    dm = post_from_event(event(channel="D1", channel_type="im"), "T0")
    assert dm is not None and dm.is_dm and dm.reply_thread is None
    assert dm.key == ThreadKey("slack", "T1", "D1", DM_THREAD)
    in_thread = post_from_event(event(channel="D1", channel_type="im", ts="11.0", thread_ts="10.0"), "T0")
    assert in_thread is not None and in_thread.reply_thread == "10.0"


def test_bots_edits_joins_and_incomplete_events_are_not_questions() -> None:
    for bad in (event(bot_id="B1"), event(subtype="message_changed"), event(subtype="channel_join"),
                event(subtype="message_deleted"), event(bot_profile={"id": "B1"}), event(user=None),
                event(channel=None), event(ts=5)):
        assert post_from_event(bad, "T0") is None, bad
    assert post_from_event(event(team=None), "T0").team == "T0"  # type: ignore[union-attr]


def test_question_text_takes_slack_markup_out() -> None:
    raw = "<@UBOT> how do I add <@U2|maria> to <#C9|billing>? see <https://x.test/a|this> &amp; <!here>"
    assert question_text(raw, "UBOT") == "how do I add @maria to #billing? see this &"
    assert mentions(raw, "UBOT") and not mentions(raw, "U3")
    msg = to_incoming(post_from_event(event(text="<@UBOT>  refund?"), "T0"), bot_user_id="UBOT",  # type: ignore[arg-type]
                      scope=Scope(categories=("billing",)))
    assert msg.text == "refund?" and msg.scope == Scope(categories=("billing",))
    assert msg.identity == "slack:T1:C1:10.1"
