"""`supportbot voice eval`: the held-out pairs through three systems, scored the same way.

- ``rules``: the rules-only rewriter on the plain answer;
- ``base``: SmolLM2 prompted with the profile (no adapter);
- ``adapter``: the active LoRA adapter (each reply as the adapter wrote it, before the rules run).

``style_score`` is the linter's mean compliance (0-1); ``fact_preservation`` the mean share of the
input's facts kept intact, counted 0 for a reply that invents one; ``guard_pass`` the share of
replies the fact guard would send as they are. A system's outputs can be saved for reading.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.voice import voice_words
from bot.voice.dataset import Pair
from bot.voice.facts import check_facts, find_facts
from bot.voice.lint import lint
from bot.voice.profile import VoiceProfile
from bot.voice.rewrite import Rewriter

System = Callable[[str], str]


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


def fact_share(source: str, reply: str, profile: VoiceProfile) -> tuple[float, bool]:
    """(share of the source's facts kept, whether the guard passes the reply as it is)."""
    check = check_facts(source, reply, protected_terms=profile.protected_terms,
                        voice_words=voice_words(profile))
    if check.added:
        return 0.0, False
    total = len({f for _, _, f in find_facts(source, profile.protected_terms)})
    dropped = len([f for f in check.missing if f.kind != "name"])
    share = 1.0 if total == 0 else max(0.0, (total - dropped) / total)
    return share, check.ok


def score(system: System, pairs: Sequence[Pair], profile: VoiceProfile, *, platform: str = "slack",
          outputs: list[str] | None = None) -> SystemScore:
    styles, facts, passes, seconds = [], [], [], []
    for p in pairs:
        t0 = time.perf_counter()
        reply = system(p.input)
        seconds.append(time.perf_counter() - t0)
        if outputs is not None:
            outputs.append(reply)
        styles.append(lint(reply, profile, platform).score)
        share, ok = fact_share(p.input, reply, profile)
        facts.append(share)
        passes.append(1.0 if ok else 0.0)
    mean = statistics.fmean if pairs else (lambda xs: 0.0)
    return SystemScore(mean(styles), mean(facts), mean(passes), len(pairs), mean(seconds))


def rules_system(profile: VoiceProfile, platform: str = "slack") -> System:
    rewriter = Rewriter(profile)
    return lambda text: rewriter.rewrite(text, platform)
