"""The rules-only rewriter: a profile applied to an answer's text, deterministically, on every backend.

Replacements and preferred terms, emoji and exclamation limits, headings per platform, then the
greeting and sign-off. Facts are hidden before any rule runs and put back after (``facts.protect``),
so no number, price, duration, link, name, ``[n]`` marker, code or quoted label can change; and no
content is ever cut for length: the greeting and sign-off go first. Idempotent: rewriting a
rewritten text changes nothing.
"""

from __future__ import annotations

import functools
import re

from bot.voice.facts import EMOJI, at_sentence_start, find_facts, protect, restore
from bot.voice.lint import GENERIC_GREETING, count_words, ends_with, phrase_pattern, starts_with
from bot.voice.profile import Mode, VoiceProfile

_CAP = "\x07"  # marks where a dropped phrase began a sentence: the next letter becomes upper case
_DROP = "\x08"  # marks where a dropped phrase was inside a sentence: its commas go with it
_BLOCK_START = re.compile(r"^\s*(?:[-*•]\s|\d+[.)]\s|#|```|>)")


class Rewriter:
    def __init__(self, profile: VoiceProfile) -> None:
        self.profile = profile
        swaps = [(b.phrase, b.replacement) for b in profile.banned_phrases]
        swaps += [(w, t.use) for t in profile.preferred_terms for w in t.instead_of]
        swaps.sort(key=lambda s: len(s[0]), reverse=True)  # "click on" before "click"
        self._swaps = [(phrase_pattern(p), r) for p, r in swaps]

    def rewrite(self, text: str, platform: str = "slack") -> str:
        p = self.profile
        fmt = p.for_platform(platform)
        body, greeting = self._split_greeting(text.strip())
        body, sign_off = self._split_sign_off(body)
        masked, kept = protect(body, p.protected_terms)
        masked = self._swap_masked(masked)
        masked = _limit_emoji(masked, p.emoji.max if fmt.emoji else 0, p.emoji.only)
        masked = _tidy(masked)
        if not fmt.headings:
            masked = re.sub(r"^(\s{0,3})#{1,6}\s+(.+?)\s*#*\s*$", r"\1**\2**", masked, flags=re.M)
        bookends = (greeting or "") + (sign_off or "")
        masked = _limit_exclamations(masked, max(0, p.max_exclamations - bookends.count("!")))
        body = restore(masked, kept).strip()
        return self._assemble(body, greeting, sign_off, fmt.max_words or p.max_words)

    def swap_words(self, text: str) -> str:
        """Only the banned phrases' replacements and the preferred terms, facts untouched (for text
        copied from a grounded answer into a reply)."""
        masked, kept = protect(text, self.profile.protected_terms)
        return restore(_tidy(self._swap_masked(masked)), kept)

    def _swap_masked(self, masked: str) -> str:
        for pattern, replacement in self._swaps:
            masked = pattern.sub(functools.partial(_swap, replacement=replacement), masked)
        return masked

    def _split_greeting(self, text: str) -> tuple[str, str | None]:
        mode, phrases = self.profile.greeting.mode, self.profile.greeting.phrases
        listed = starts_with(text, phrases)
        if listed is not None:
            rest = text.lstrip()[len(listed):].lstrip()
            return rest, (None if mode == Mode.NEVER else text.lstrip()[: len(listed)])
        generic = GENERIC_GREETING.match(text)
        if generic is not None and not find_facts(generic.group(0), self.profile.protected_terms):
            text = text[generic.end():].lstrip()
            if text[:1].islower():
                text = text[:1].upper() + text[1:]
        return text, (phrases[0] if mode == Mode.REQUIRED else None)

    def _split_sign_off(self, text: str) -> tuple[str, str | None]:
        mode, phrases = self.profile.sign_off.mode, self.profile.sign_off.phrases
        listed = ends_with(text, phrases)
        if listed is not None:
            rest = text.rstrip()[: -len(listed)].rstrip()
            return rest, (None if mode == Mode.NEVER else text.rstrip()[-len(listed):])
        return text, (phrases[0] if mode == Mode.REQUIRED else None)

    def _assemble(self, body: str, greeting: str | None, sign_off: str | None, max_words: int) -> str:
        def join(g: str | None, s: str | None) -> str:
            out = body
            if g:
                out = g + ("\n\n" if _BLOCK_START.match(body) or "\n" in body else " ") + out
            if s:
                out = out + "\n\n" + s
            return out

        for g, s in ((greeting, sign_off), (greeting, None), (None, None)):
            text = join(g, s)
            if count_words(text) <= max_words:
                return text
        return text


def _swap(m: re.Match[str], replacement: str) -> str:
    found = m.group(0)
    if not replacement:
        return _CAP if at_sentence_start(m.string[: m.start()]) else _DROP
    if found.isupper() and len(found) > 1:
        return replacement.upper()
    if found[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _tidy(text: str) -> str:
    """Spaces and punctuation left behind by dropped phrases; run to a fixed point (idempotence)."""
    for _ in range(5):
        tidied = _tidy_once(text)
        if tidied == text:
            break
        text = tidied
    return text


def _tidy_once(text: str) -> str:
    text = re.sub(_CAP + r"[\s,;:]*", _CAP, text)
    # the next letter, unless a fact comes first (a fact is never changed, not even its case)
    text = re.sub(_CAP + r"([^\w\U000F0000-\U000FFFFD]*)([^\W\d_])",
                  lambda m: m.group(1) + m.group(2).upper(), text)
    text = text.replace(_CAP, "")
    text = re.sub(r"[ \t]*,[ \t]*" + _DROP + r"[ \t]*,[ \t]*", " ", text)  # "can, sadly, only" -> "can only"
    text = re.sub(r"[ \t]*,?[ \t]*" + _DROP + r"[ \t]*(?=[.!?;:])", "", text)
    text = re.sub(_DROP + r"[ \t]*", "", text)
    text = re.sub(r"[ \t]+([,.;:!?])", r"\1", text)
    text = re.sub(r",(\s*,)+", ",", text)
    text = re.sub(r"([.!?])\s*,\s*", r"\1 ", text)
    text = re.sub(r"(?m)^([ \t]*(?:[-*•]\s+|\d+[.)]\s+)?)[,;:]\s*", r"\1", text)
    text = re.sub(r"(?<=[.!?])[ \t]+[.!?,;:]+(?=\s|$)", "", text)  # a sentence left empty
    text = re.sub(r"(?<=[.!?])[,;:]+", "", text)
    return re.sub(r"(?<=\S)[ \t]{2,}", " ", text)


def _limit_emoji(text: str, limit: int, only: tuple[str, ...]) -> str:
    seen = 0

    def keep(m: re.Match[str]) -> str:
        nonlocal seen
        if only and m.group(0) not in only:
            return ""
        seen += 1
        return m.group(0) if seen <= limit else ""

    out = EMOJI.sub(keep, text)
    return re.sub(r"[ \t]+$", "", out, flags=re.M) if out != text else out


def _limit_exclamations(text: str, limit: int) -> str:
    text = re.sub(r"!{2,}", "!", text)
    marks = [m.start() for m in re.finditer(r"!", text)]
    if len(marks) <= limit:
        return text
    drop = set(marks[limit:])
    return "".join("." if i in drop else ch for i, ch in enumerate(text))
