"""`supportbot voice eval`: the held-out pairs through three systems, scored the same way.

- ``rules``: the rules-only rewriter on the plain answer;
- ``base``: SmolLM2 prompted with the profile (no adapter);
- ``adapter``: the active LoRA adapter (each reply as the adapter wrote it, before the rules run).

``style_score`` is the linter's mean compliance (0-1); ``fact_preservation`` the mean share of the
input's facts (and of its sentences: each one is a claim) kept intact, counted 0 for a reply that
invents a fact; ``guard_pass`` the share of replies the fact guard would send as they are. A system's
replies can be kept for reading (``score(rows=...)``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.voice import voice_words
from bot.voice.dataset import Pair
from bot.voice.facts import FactCheck, check_facts
from bot.voice.lint import lint
from bot.voice.profile import VoiceProfile
from bot.voice.rewrite import Rewriter

System = Callable[[str, str], str]  # (grounded answer, the question it answers) -> reply


@dataclass(frozen=True)
class SystemScore:
    style_score: float
    fact_preservation: float
    guard_pass: float
    n: int
    seconds_per_reply: float

    def as_dict(self) -> dict[str, float | int]:
        return {"style_score": round(self.style_score, 3),
                "fact_preservation": round(self.fact_preservation, 3),
                "guard_pass": round(self.guard_pass, 3), "n": self.n,
                "seconds_per_reply": round(self.seconds_per_reply, 2)}


def fact_share(check: FactCheck) -> float:
    """The share of the source's facts (and sentences) a reply kept, by the guard's check; 0 when it
    invents one."""
    if check.added:
        return 0.0
    total = check.checked
    dropped = len([f for f in check.missing if f.kind != "name"])
    return 1.0 if total == 0 else max(0.0, (total - dropped) / total)


def score(system: System, pairs: Sequence[Pair], profile: VoiceProfile, *, platform: str = "slack",
          rows: list[dict[str, object]] | None = None,
          progress: Callable[[int, int], None] | None = None) -> SystemScore:
    """Run every pair through ``system`` and score the replies. With ``rows``, one row per reply is
    appended for a support lead to read: what went in, what came out, which rules it broke and which
    facts it lost or added."""
    styles, facts, passes, seconds = [], [], [], []
    words = voice_words(profile)
    for done, p in enumerate(pairs, 1):
        t0 = time.perf_counter()
        reply = system(p.input, p.question)
        seconds.append(time.perf_counter() - t0)
        report = lint(reply, profile, platform)
        check = check_facts(p.input, reply, protected_terms=profile.protected_terms, voice_words=words,
                            question=p.question)
        styles.append(report.score)
        facts.append(fact_share(check))
        passes.append(1.0 if check.ok else 0.0)
        if rows is not None:
            rows.append({"id": p.id, "question": p.question, "input": p.input, "reply": reply,
                         "style_score": round(report.score, 3),
                         "broken_rules": {r.rule: r.detail for r in report.failed()},
                         "facts": check.reason(), "guard_pass": check.ok})
        if progress is not None:
            progress(done, len(pairs))
    mean = statistics.fmean if pairs else (lambda xs: 0.0)
    return SystemScore(mean(styles), mean(facts), mean(passes), len(pairs), mean(seconds))


def rules_system(profile: VoiceProfile, platform: str = "slack") -> System:
    rewriter = Rewriter(profile)

    def reply(text: str, question: str = "") -> str:
        return rewriter.rewrite(text, platform)

    return reply
