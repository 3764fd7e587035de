"""The brand voice: the last step of the chain. It may reword an answer, never change its facts.

Three layers (see the README, "Brand voice"): the profile becomes instructions for the model
backends (``instructions``); the rules-only rewriter runs on every backend, extractive included
(``rewrite.Rewriter``); and a LoRA voice adapter, when one is active, rewords the grounded text, which
is kept only if it passes the fact guard (``facts.check_facts``), else the rules-only text is sent and
the reason recorded in ``Answer.voice``. The profile is chosen per channel by the policy file
(``voice:``), else the default profile; no profile at all leaves answers as they are.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from bot.types import ANSWERED_REASONS, Answer
from bot.voice.facts import check_facts
from bot.voice.profile import ProfileError, VoiceLibrary, VoiceProfile
from bot.voice.rewrite import Rewriter

log = logging.getLogger(__name__)


class VoiceAdapter(Protocol):
    def apply(self, answer: Answer, *, profile: str = "", platform: str = "") -> Answer: ...

    def instructions(self, profile: str = "") -> str:
        """What the model backends are told about the voice ("" for none)."""
        ...


class Stylist(Protocol):
    """A model that rewords a grounded answer in a profile's voice (the LoRA adapter)."""

    version: str

    def restyle(self, text: str, profile: VoiceProfile, *, question: str = "") -> str:
        """``text`` reworded; ``question`` is what it answers, so that a reply may lead with the
        short answer ("Yes, you can.")."""
        ...


class PassThroughVoice:
    def apply(self, answer: Answer, *, profile: str = "", platform: str = "") -> Answer:
        return answer

    def instructions(self, profile: str = "") -> str:
        return ""


def prompt_for(profile: VoiceProfile) -> str:
    """The profile as instructions for a model backend (the greeting and sign-off are left to the
    rewriter, which adds them the same way on every backend)."""
    lines = [f"Write as {profile.assistant_name}, {profile.brand}'s support assistant. {profile.persona}",
             f"Tone: {', '.join(profile.tone)}."]
    if profile.banned_phrases:
        lines.append("Never write: " + "; ".join(repr(b.phrase) for b in profile.banned_phrases) + ".")
    if profile.preferred_terms:
        lines.append("Say " + "; ".join(f"{t.use!r}, not {' or '.join(map(repr, t.instead_of))}"
                                        for t in profile.preferred_terms) + ".")
    lines.append(f"At most {profile.max_words} words and {profile.max_exclamations} exclamation marks; "
                 f"plain words a 14-year-old would follow.")
    return "\n".join(lines)


class ProfileVoice:
    """Profiles from a ``VoiceLibrary``; ``default`` for channels whose policy names none."""

    def __init__(self, library: VoiceLibrary, *, default: str = "", stylist: Stylist | None = None,
                 stylists: Callable[[VoiceProfile], Stylist | None] | None = None) -> None:
        """``stylist``: one voice adapter for every profile; ``stylists``: the active adapter of each
        profile (None: rules only), looked up per answer so that `voice activate` takes effect."""
        self.library = library
        self.default = default
        self.stylist = stylist
        self.stylists = stylists
        self._rewriters: dict[int, Rewriter] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def profile(self, name: str) -> VoiceProfile | None:
        name = name or self.default
        if not name:
            return None
        try:
            return self.library.get(name)
        except ProfileError as exc:
            if name not in self._warned:  # once per name: a policy typo must not flood the log
                self._warned.add(name)
                log.warning("voice profile %r cannot be used, answering without it: %s", name, exc)
            return None

    def rewriter(self, profile: VoiceProfile) -> Rewriter:
        with self._lock:
            found = self._rewriters.get(id(profile))
            if found is None or found.profile is not profile:
                found = self._rewriters[id(profile)] = Rewriter(profile)
            return found

    def instructions(self, profile: str = "") -> str:
        found = self.profile(profile)
        return prompt_for(found) if found is not None else ""

    def apply(self, answer: Answer, *, profile: str = "", platform: str = "") -> Answer:
        found = self.profile(profile)
        if found is None or answer.reason not in ANSWERED_REASONS:
            return answer  # short reasons (not covered, errors) are worded once, in bot/messages.py
        platform = platform or "slack"
        rules = self.rewriter(found)
        text, note = rules.rewrite(answer.text, platform), f"{found.name}/rules"
        stylist = self.stylist or (self.stylists(found) if self.stylists is not None else None)
        if stylist is not None:
            text, note = self._styled(stylist, answer, text, found, platform)
        return replace(answer, text=text, voice=note)

    def _styled(self, stylist: Stylist, answer: Answer, rules_text: str, profile: VoiceProfile,
                platform: str) -> tuple[str, str]:
        name = f"{profile.name}/adapter {stylist.version}"
        grounded = answer.text
        try:
            reworded = stylist.restyle(grounded, profile, question=answer.question)
            styled = self.rewriter(profile).rewrite(reworded, platform)
        except Exception as exc:  # the adapter failing costs the voice, never the answer
            log.warning("voice adapter failed (%s): rules only", type(exc).__name__)
            return rules_text, f"{profile.name}/rules (adapter failed: {type(exc).__name__})"
        check = check_facts(grounded, styled, protected_terms=profile.protected_terms,
                            voice_words=voice_words(profile), question=answer.question)
        if not check.ok:
            log.info("voice adapter output rejected by the fact guard: %s", check.reason())
            return rules_text, f"{profile.name}/rules (adapter rejected: {check.reason()})"
        return styled, name


def voice_words(profile: VoiceProfile) -> str:
    """The profile's own vocabulary, which a voice may add or drop without changing a fact: its
    names and phrases, banned phrases and their replacements, preferred terms and what they replace."""
    return " ".join([profile.brand, profile.assistant_name, *profile.greeting.phrases,
                     *profile.sign_off.phrases, *(b.phrase for b in profile.banned_phrases),
                     *(b.replacement for b in profile.banned_phrases),
                     *(t.use for t in profile.preferred_terms),
                     *(w for t in profile.preferred_terms for w in t.instead_of)])


__all__ = ["PassThroughVoice", "ProfileError", "ProfileVoice", "Stylist", "VoiceAdapter", "VoiceLibrary",
           "VoiceProfile", "prompt_for", "voice_words"]
