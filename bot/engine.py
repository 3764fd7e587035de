"""The answer engine: one platform-free entry point, `AnswerEngine.answer(question, history, scope)`.

A LangChain (LCEL) chain of small steps: condense the follow-up -> retrieve (scoped) -> decide
whether the help centre covers it -> generate -> verify grounding -> brand voice. Every model call
has a timeout; on a timeout or error the extractive answer is used instead, flagged in the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables import RunnableLambda

from bot import messages
from bot.coverage import Coverage, CoveragePolicy, lead_order
from bot.extractive import citation, compose
from bot.grounding import verify
from bot.prompts import answer_messages, condense_messages
from bot.safety import defuse_mentions, sanitize_source
from bot.types import Answer, Confidence, Reason, Turn
from bot.voice import PassThroughVoice, VoiceAdapter
from knowledge.retrieval import Hit, Scope, expand_query

log = logging.getLogger(__name__)


class Knowledge(Protocol):
    """What the engine needs of the knowledge base (knowledge.kb.KnowledgeBase implements it)."""

    def has_index(self) -> bool: ...

    def search(self, query: str, *, k: int = 5, scope: Scope | None = None,
               history: tuple[str, ...] = ()) -> list[Hit]: ...


@dataclass(frozen=True)
class _State:
    question: str
    history: tuple[Turn, ...]
    scope: Scope | None
    voice: str = ""  # the voice profile's name ("" = the default)
    platform: str = ""  # where the answer will be shown (the voice formats for it)
    standalone: str = ""
    condensed: bool = False
    hits: tuple[Hit, ...] = ()
    coverage: Coverage | None = None
    draft: Answer | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """What an answer was decided from, for `supportbot eval --explain`: the question as searched,
    the hits, and the coverage decision with its features."""

    question: str
    hits: tuple[Hit, ...]
    coverage: Coverage | None


class AnswerEngine:
    def __init__(
        self,
        *,
        knowledge: Knowledge,
        llm: BaseChatModel | None = None,
        backend: str = "extractive",
        policy: CoveragePolicy | None = None,
        voice: VoiceAdapter | None = None,
        k: int = 5,
        cite: int = 3,
        timeout_s: float = 20.0,
        history_turns: int = 2,
        model_workers: int = 4,
    ) -> None:
        self.knowledge = knowledge
        self.llm = llm
        self.backend = backend if llm is not None else "extractive"
        self.policy = policy or CoveragePolicy()
        self.voice = voice or PassThroughVoice()
        self.k, self.cite, self.timeout_s, self.history_turns = k, cite, timeout_s, history_turns
        # One model call per answer thread at most: size it with the server's answer pool, so no call
        # waits in this pool's queue (the deadline starts when the call starts, in ``_invoke``).
        self._pool = ThreadPoolExecutor(max_workers=model_workers, thread_name_prefix="llm") if llm else None
        self.chain = (
            RunnableLambda(self._condense, name="condense")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._decide, name="decide")
            | RunnableLambda(self._generate, name="generate")
            | RunnableLambda(self._finish, name="voice")
        )

    def answer(self, question: str, history: Sequence[Turn] = (), scope: Scope | None = None, *,
               voice: str = "", platform: str = "") -> Answer:
        """Always returns an Answer: grounded text with citations, or a short reason. ``voice``: the
        profile to answer in ("" = the default); ``platform``: where it will be shown."""
        return self.answer_traced(question, history, scope, voice=voice, platform=platform)[0]

    def answer_traced(self, question: str, history: Sequence[Turn] = (), scope: Scope | None = None, *,
                      voice: str = "", platform: str = "") -> tuple[Answer, Trace]:
        """`answer`, with the evidence it was decided from."""
        started = time.perf_counter()
        trace = Trace(question.strip(), (), None)
        try:
            state0 = _State(question.strip(), tuple(history), scope, voice=voice, platform=platform)
            result, state = self.chain.invoke(state0)
            trace = Trace(self._searched(state), state.hits, state.coverage)
        except Exception:  # never silence: the user gets a short reason, the log gets the trace
            log.exception("answer failed (backend=%s)", self.backend)
            result = self._short(Reason.ERROR, messages.ERROR)
        result = replace(result, timings_ms={**result.timings_ms, "total": _ms(started)})
        log.info("answer reason=%s backend=%s citations=%d confidence=%s ms=%s", result.reason,
                 result.backend, len(result.citations), result.confidence, result.timings_ms)
        return result, trace

    # --- steps ------------------------------------------------------------------------------
    def _condense(self, s: _State) -> _State:
        if not s.question:
            return replace(s, draft=self._short(Reason.EMPTY_QUESTION, messages.EMPTY_QUESTION))
        if not self.knowledge.has_index():
            return replace(s, draft=self._short(Reason.NO_INDEX, messages.NO_INDEX))
        if not s.history or self.llm is None:
            return replace(s, standalone=s.question)
        t0 = time.perf_counter()
        try:
            rewritten = self._invoke(condense_messages(s.question, s.history)).strip().splitlines()[0]
        except Exception:  # a failed rewrite costs nothing: history-aware retrieval still works
            rewritten = ""
        ok = 3 <= len(rewritten) <= 300
        return replace(s, standalone=rewritten if ok else s.question, condensed=ok,
                       timings={**s.timings, "condense": _ms(t0)})

    def _retrieve(self, s: _State) -> _State:
        if s.draft is not None:
            return s
        t0 = time.perf_counter()
        history = () if s.condensed else self._user_turns(s)
        hits = self.knowledge.search(s.standalone, k=self.k, scope=s.scope, history=history)
        return replace(s, hits=tuple(hits), timings={**s.timings, "retrieve": _ms(t0)})

    def _decide(self, s: _State) -> _State:
        if s.draft is not None:
            return s
        coverage = self.policy.decide(self._searched(s), s.hits)
        if not coverage.covered:
            return replace(s, coverage=coverage, draft=self._short(Reason.NOT_COVERED, messages.NOT_COVERED))
        # decided on retrieval's own top hit; answered from the article that says most about it
        return replace(s, coverage=coverage, hits=tuple(lead_order(s.hits)))

    def _generate(self, s: _State) -> _State:
        if s.draft is not None:
            return s
        t0 = time.perf_counter()
        draft = self._extractive(s, Reason.ANSWERED) if self.llm is None else self._generated(s)
        return replace(s, draft=draft, timings={**s.timings, "generate": _ms(t0)})

    def _finish(self, s: _State) -> tuple[Answer, _State]:
        assert s.draft is not None
        answer = replace(s.draft, question=s.standalone or s.question, timings_ms=s.timings)
        answer = self.voice.apply(answer, profile=s.voice, platform=s.platform)
        return replace(answer, text=defuse_mentions(answer.text)), s

    # --- helpers ----------------------------------------------------------------------------
    def _user_turns(self, s: _State) -> tuple[str, ...]:
        return tuple(t.text for t in s.history if t.role == "user")

    def _query_with_context(self, s: _State) -> str:
        """The question as retrieval saw it: condensed, or with the last user turns folded in."""
        return expand_query(s.standalone, () if s.condensed else self._user_turns(s), self.history_turns)

    def _searched(self, s: _State) -> str:
        """The question as retrieval searched it (context folded in, typos repaired)."""
        if s.hits and s.hits[0].query:
            return s.hits[0].query
        return self._query_with_context(s) if s.standalone else s.question  # stopped before searching

    def _confidence(self, s: _State) -> Confidence:
        return s.coverage.confidence if s.coverage else Confidence.LOW

    def _short(self, reason: Reason, text: str) -> Answer:
        return Answer(text=text, abstained=True, reason=reason, confidence=Confidence.LOW,
                      backend=self.backend)

    def _extractive(self, s: _State, reason: Reason) -> Answer:
        text, citations = compose(self._searched(s), s.hits, max_sources=self.cite)
        if not text:
            return self._short(Reason.NOT_COVERED, messages.NOT_COVERED)
        return Answer(text=text, citations=citations, confidence=self._confidence(s), reason=reason,
                      backend="extractive" if reason == Reason.ANSWERED else self.backend)

    def _generated(self, s: _State) -> Answer:
        top = s.hits[: self.cite]
        sources = [(h.title, sanitize_source(h.answer_text)) for h in top]
        try:
            raw = self._invoke(answer_messages(s.standalone, sources, style=self.voice.instructions(s.voice)))
        except TimeoutError:
            return self._extractive(s, Reason.LLM_TIMEOUT)
        except Exception:
            return self._extractive(s, Reason.LLM_ERROR)
        if raw.strip().upper().startswith("NOT_COVERED"):
            return self._short(Reason.NOT_COVERED, messages.NOT_COVERED)
        checked = verify(raw, [text for _, text in sources])
        if not checked.text:
            return self._extractive(s, Reason.UNGROUNDED)
        citations = tuple(citation(i + 1, top[n - 1], top[n - 1].text) for i, n in enumerate(checked.used))
        return Answer(text=checked.text, citations=citations, confidence=self._confidence(s),
                      reason=Reason.ANSWERED, backend=self.backend)

    def _invoke(self, msgs: list[tuple[str, str]]) -> str:
        """Call the model with a hard deadline that starts when the call starts (time queued for a model
        worker does not count against it); a timeout of any kind raises TimeoutError. The model clients
        carry the same timeout themselves, so a call past its deadline stops holding its worker."""
        assert self.llm is not None and self._pool is not None
        llm, started = self.llm, threading.Event()

        def call() -> Any:
            started.set()
            return llm.invoke(msgs)

        future = self._pool.submit(call)
        if not started.wait(self.timeout_s):  # every model worker stayed busy for a whole deadline
            future.cancel()
            raise TimeoutError(f"no model worker was free within {self.timeout_s}s")
        try:
            result: Any = future.result(timeout=self.timeout_s + 1.0)
        except FutureTimeout as exc:
            future.cancel()
            raise TimeoutError(f"model did not answer within {self.timeout_s}s") from exc
        except Exception as exc:
            if "timeout" in type(exc).__name__.lower():
                raise TimeoutError(str(exc)) from exc
            raise
        content = getattr(result, "content", result)
        return content if isinstance(content, str) else str(content)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
