"""A slow answer (a model backend) is sent proactively: Teams' HTTP call returns after the typing
indicator, and the answer follows through the stored conversation reference. Here every answer is
"slow" (SUPPORTBOT_TEAMS_INLINE_BUDGET_S=0)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.redis_store import RedisStore
from adapters.teams import convert
from tests.conftest import REDIS_URL
from tests.fakes.bot_connector import message_activity
from tests.teams.conftest import TeamsBot, launch


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsBot]:
    with launch(Path(tmp_path_factory.mktemp("teams-proactive")), SUPPORTBOT_TEAMS_INLINE_BUDGET_S="0",
                SUPPORTBOT_ANSWER_LEASE_S="2") as bot:
        yield bot


def test_the_request_returns_before_a_slow_answer_which_then_arrives_proactively(patient: TeamsBot) -> None:
    t0 = time.time()
    asked = patient.ask("How do I get a refund for my annual plan?", conversation_id="a:p-slow")
    returned = time.time()
    (reply,) = patient.replies("a:p-slow")
    sent = patient.connector.of(conversation_id="a:p-slow")
    assert [x.activity["type"] for x in sent] == ["typing", "message"]
    assert sent[1].at >= returned > t0  # the HTTP call had returned before the answer was sent
    assert sent[1].reply_to == asked["id"] and "30 days" in reply["text"]
    assert reply["channelData"]["feedbackLoopEnabled"] is True


def test_a_question_left_by_a_worker_that_died_is_answered_proactively(patient: TeamsBot) -> None:
    """A worker admitted the activity (its lease and work in Redis), then died before replying: this
    worker's sweeper takes it over and answers through the stored conversation reference."""
    activity = message_activity("How do I get a refund for my annual plan?",
                                service_url=patient.connector.service_url, conversation_id="a:p-orphan")
    reference = {"activityId": activity["id"], "user": activity["from"], "bot": activity["recipient"],
                 "conversation": activity["conversation"], "channelId": "msteams", "locale": "en-US",
                 "serviceUrl": activity["serviceUrl"]}
    store = RedisStore(REDIS_URL, prefix=patient.prefix)
    identity = f"teams:{convert.message_id(activity)}"
    work = json.dumps({"activity": activity, "reference": reference})
    assert store.lease_message(identity, "a-worker-that-died", 0.5, work).granted
    (reply,) = patient.replies("a:p-orphan", timeout=20)
    assert "30 days" in reply["text"]
    (sent,) = patient.connector.of(conversation_id="a:p-orphan")
    assert sent.reply_to == activity["id"]
    time.sleep(1)
    assert store.stale_leases() == [] and not store.lease_message(identity, "someone", 1).granted
    assert len(patient.connector.of(conversation_id="a:p-orphan")) == 1  # the post is repeated by nobody
    store.close()
