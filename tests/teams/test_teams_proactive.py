"""A slow answer (a model backend) is sent proactively: Teams' HTTP call returns after the typing
indicator, and the answer follows through the stored conversation reference. Here every answer is
"slow" (SUPPORTBOT_TEAMS_INLINE_BUDGET_S=0)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.teams.conftest import TeamsBot, launch


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsBot]:
    with launch(Path(tmp_path_factory.mktemp("teams-proactive")), SUPPORTBOT_TEAMS_INLINE_BUDGET_S="0") as bot:
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
