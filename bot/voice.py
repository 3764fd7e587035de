"""The brand-voice hook: the last step of the chain. It may reword an answer, never add facts.

The voice issue fills this in (a voice profile with rules, an optional LoRA adapter); until then
the pass-through voice leaves answers as they are.
"""

from __future__ import annotations

from typing import Protocol

from bot.types import Answer


class VoiceAdapter(Protocol):
    def apply(self, answer: Answer) -> Answer: ...


class PassThroughVoice:
    def apply(self, answer: Answer) -> Answer:
        return answer
