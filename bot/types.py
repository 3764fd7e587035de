"""What a support answer is: the core's own values, free of any platform (house style, conventions 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Reason(StrEnum):
    """Why an answer looks the way it does; adapters and reports key on these codes."""

    ANSWERED = "answered"
    NOT_COVERED = "not_covered"  # the help centre does not cover the question: offer a human
    EMPTY_QUESTION = "empty_question"
    NO_INDEX = "no_index"  # nothing has been ingested yet
    LLM_TIMEOUT = "llm_timeout_fallback"  # the model timed out: extractive answer instead
    LLM_ERROR = "llm_error_fallback"  # the model failed: extractive answer instead
    UNGROUNDED = "ungrounded_fallback"  # nothing the model said was supported: extractive instead
    ERROR = "error"  # something failed (the index unreachable, say): a short apology, logged


# Reasons whose answer came from the help centre (a model fallback is an answer too).
ANSWERED_REASONS = frozenset({Reason.ANSWERED, Reason.LLM_TIMEOUT, Reason.LLM_ERROR, Reason.UNGROUNDED})


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    text: str


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] used in the answer text
    title: str
    url: str
    doc_id: str
    snippet: str  # the supporting text from the retrieved chunk
    chunk_id: str = ""


@dataclass(frozen=True)
class Answer:
    text: str  # Markdown, with [n] citation markers
    citations: tuple[Citation, ...] = ()
    confidence: Confidence = Confidence.LOW
    abstained: bool = False
    reason: Reason = Reason.ANSWERED
    question: str = ""  # the standalone question actually searched (after condensing a follow-up)
    backend: str = "extractive"
    voice: str = ""  # how the voice was applied: "cadence/rules", "cadence/adapter v2", or why not
    timings_ms: dict[str, float] = field(default_factory=dict)
