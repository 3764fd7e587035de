"""Score a reply against a voice profile, rule by rule (`supportbot voice lint`, `voice eval`).

Each rule passes or fails with a detail a support lead can act on; the score is the share of rules
passed. Facts (quoted labels, links, code…) are left out of the word rules: a UI label called
"Log in" is not a breach of "say sign in".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.voice.facts import EMOJI, protect
from bot.voice.profile import Mode, VoiceProfile

__all__ = ["EMOJI", "LintReport", "RuleResult", "lint"]
GENERIC_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|greetings|good (?:morning|afternoon|evening)|"
                              r"dear\b|thanks for (?:reaching out|your question)|great question)\b"
                              r"[^.!?,\n]{0,30}[.!?,]?(?=\s|$)", re.I)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.M)
_WORD = re.compile(r"[A-Za-z0-9\U000F0000-\U000FFFFD]+(?:['’][A-Za-z]+)?")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n\s*\n|\n\s*[-*•]\s")


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class LintReport:
    profile: str
    platform: str
    rules: tuple[RuleResult, ...]

    @property
    def score(self) -> float:
        return sum(r.passed for r in self.rules) / len(self.rules) if self.rules else 1.0

    def failed(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed]


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase as whole words, any case, any run of spaces between its words."""
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<![\w-])" + r"\s+".join(words) + r"(?![\w-])", re.I)


def starts_with(text: str, phrases: tuple[str, ...]) -> str | None:
    head = text.lstrip()
    return next((p for p in phrases if head.casefold().startswith(p.casefold())), None)


def ends_with(text: str, phrases: tuple[str, ...]) -> str | None:
    tail = text.rstrip()
    return next((p for p in phrases if tail.casefold().endswith(p.casefold())), None)


def count_words(text: str) -> int:
    return len(_WORD.findall(protect(text)[0]))


def syllables(word: str) -> int:
    w = word.lower()
    if len(w) <= 3:
        return 1
    w = re.sub(r"(?:[^laeiouy]es|ed|[^laeiouy]e)$", "", w)
    w = re.sub(r"^y", "", w)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", w)))


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level of the prose (facts count as one short word each)."""
    prose = re.sub(r"[\U000F0000-\U000FFFFD]", "it", protect(text)[0])
    words = _WORD.findall(prose)
    if not words:
        return 0.0
    sentences = max(1, len([s for s in _SENTENCE_END.split(prose) if _WORD.search(s)]))
    syl = sum(syllables(w) for w in words)
    return max(0.0, round(0.39 * len(words) / sentences + 11.8 * syl / len(words) - 15.59, 1))


def lint(text: str, profile: VoiceProfile, platform: str = "slack") -> LintReport:
    fmt = profile.for_platform(platform)
    prose = protect(text, profile.protected_terms)[0]
    results: list[RuleResult] = []

    banned = [b.phrase for b in profile.banned_phrases if phrase_pattern(b.phrase).search(prose)]
    results.append(RuleResult("banned_phrases", not banned,
                              f"uses {', '.join(repr(b) for b in banned)}" if banned else "none used"))

    avoided = [f"{w!r} (say {t.use!r})" for t in profile.preferred_terms for w in t.instead_of
               if phrase_pattern(w).search(prose)]
    results.append(RuleResult("preferred_terms", not avoided,
                              f"uses {', '.join(avoided)}" if avoided else "preferred terms only"))

    results.append(_bookend("greeting", profile.greeting.mode, profile.greeting.phrases,
                            starts_with(text, profile.greeting.phrases), bool(GENERIC_GREETING.match(text))))
    results.append(_bookend("sign_off", profile.sign_off.mode, profile.sign_off.phrases,
                            ends_with(text, profile.sign_off.phrases), False))

    emoji = EMOJI.findall(prose)
    limit = profile.emoji.max if fmt.emoji else 0
    off_list = [e for e in emoji if profile.emoji.only and e not in profile.emoji.only]
    ok = len(emoji) <= limit and not off_list
    detail = f"{len(emoji)} emoji (at most {limit} on {platform})"
    if off_list:
        detail += f"; not allowed: {''.join(off_list)}"
    results.append(RuleResult("emoji", ok, detail))

    words = count_words(text)
    max_words = fmt.max_words or profile.max_words
    results.append(RuleResult("length", words <= max_words, f"{words} words (at most {max_words})"))

    bangs = prose.count("!")
    results.append(RuleResult("exclamations", bangs <= profile.max_exclamations,
                              f"{bangs} exclamation marks (at most {profile.max_exclamations})"))

    grade = reading_grade(text)
    results.append(RuleResult("reading_level", grade <= profile.reading_grade,
                              f"grade {grade} (at most {profile.reading_grade:g})"))

    headings = len(_HEADING.findall(prose))
    allowed = "" if fmt.headings else f" ({platform}: none)"
    results.append(RuleResult("formatting", fmt.headings or headings == 0,
                              f"{headings} Markdown headings{allowed}"))
    return LintReport(profile.name, platform, tuple(results))


def _bookend(rule: str, mode: Mode, phrases: tuple[str, ...], listed: str | None,
             generic: bool) -> RuleResult:
    if mode == Mode.REQUIRED:
        where = "starts" if rule == "greeting" else "ends"
        found = f"{where} with {listed!r}" if listed else f"missing; use one of {list(phrases)}"
        return RuleResult(rule, listed is not None, found)
    if mode == Mode.NEVER:
        present = listed is not None or generic
        return RuleResult(rule, not present, "present, but the profile says never" if present else "none")
    unlisted = generic and listed is None
    return RuleResult(rule, not unlisted, f"not one of {list(phrases)}" if unlisted else "fine")
