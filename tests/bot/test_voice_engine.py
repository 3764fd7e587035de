"""The voice in the answer path: the real engine and index with the sample profile; short reasons are
left alone; a voice adapter's output is kept only when it passes the fact guard."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import messages
from bot.engine import AnswerEngine
from bot.types import Reason
from bot.voice import PassThroughVoice, ProfileVoice, VoiceLibrary, VoiceProfile
from bot.voice.lint import lint
from knowledge.kb import KnowledgeBase


@pytest.fixture
def indexed(kb: KnowledgeBase, helpcentre: Path) -> KnowledgeBase:
    kb.reload(helpcentre)
    return kb


QUESTION = "How many days do I have to ask for a refund on an annual plan?"


def test_the_channel_voice_shapes_an_answer_and_keeps_its_sources(indexed: KnowledgeBase) -> None:
    plain = AnswerEngine(knowledge=indexed).answer(QUESTION)
    engine = AnswerEngine(knowledge=indexed, voice=ProfileVoice(VoiceLibrary()))
    voiced = engine.answer(QUESTION, voice="cadence", platform="slack")
    assert voiced.text.startswith("Hi there! ") and voiced.voice == "cadence/rules"
    assert voiced.citations == plain.citations and "30 days" in voiced.text
    assert lint(voiced.text, VoiceLibrary().get("cadence"), "slack").score > lint(plain.text, VoiceLibrary().get("cadence")).score
    assert engine.answer(QUESTION).text == plain.text  # no profile named and no default: as written


def test_short_reasons_keep_their_wording(indexed: KnowledgeBase) -> None:
    engine = AnswerEngine(knowledge=indexed, voice=ProfileVoice(VoiceLibrary(), default="cadence"))
    a = engine.answer("What's the weather on Mars tomorrow?")
    assert a.reason == Reason.NOT_COVERED and a.text == messages.NOT_COVERED and a.voice == ""


def test_an_unknown_profile_answers_without_a_voice_and_warns_once(
    indexed: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    engine = AnswerEngine(knowledge=indexed, voice=ProfileVoice(VoiceLibrary(), default="nope"))
    first, second = engine.answer(QUESTION), engine.answer(QUESTION)
    assert first.voice == second.voice == "" and "30 days" in first.text
    assert len([r for r in caplog.records if "cannot be used" in r.getMessage()]) == 1


class ScriptedStylist:
    """Stands in for the LoRA adapter (a model): returns a scripted rewording of its input."""

    version = "test-1"

    def __init__(self, rewrite: dict[str, str]) -> None:
        self.rewrite = rewrite
        self.questions: list[str] = []

    def restyle(self, text: str, profile: VoiceProfile, *, question: str = "") -> str:
        self.questions.append(question)
        out = text
        for old, new in self.rewrite.items():
            out = out.replace(old, new)
        return out


def test_the_fact_guard_keeps_a_faithful_rewording_and_rejects_a_changed_number(indexed: KnowledgeBase) -> None:
    faithful = ScriptedStylist({"Annual plans can": "Good news: annual plans can"})
    engine = AnswerEngine(knowledge=indexed, voice=ProfileVoice(VoiceLibrary(), default="cadence",
                                                                stylist=faithful))
    a = engine.answer(QUESTION)
    assert a.voice == "cadence/adapter test-1" and "Hi there! Good news: annual plans can" in a.text
    assert faithful.questions == [a.question] and a.question  # the adapter sees what was asked

    wrong = ScriptedStylist({"30 days": "60 days"})
    engine = AnswerEngine(knowledge=indexed, voice=ProfileVoice(VoiceLibrary(), default="cadence",
                                                                stylist=wrong))
    b = engine.answer(QUESTION)
    assert "30 days" in b.text and "60 days" not in b.text
    assert b.voice.startswith("cadence/rules (adapter rejected: dropped number '30 days'")
    assert "added number '60 days'" in b.voice

    invented = ScriptedStylist({"[1].": "[1]. You can also export it to Dropbox."})
    engine.voice = ProfileVoice(VoiceLibrary(), default="cadence", stylist=invented)
    assert "added name 'Dropbox'" in engine.answer(QUESTION).voice


def test_the_pass_through_voice_changes_nothing(indexed: KnowledgeBase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    a = AnswerEngine(knowledge=indexed, voice=PassThroughVoice()).answer(QUESTION, voice="cadence")
    assert a.voice == "" and not a.text.startswith("Hi")
