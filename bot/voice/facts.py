"""The facts in an answer, which no voice may change: numbers with their units, prices, durations,
links, email addresses, ``[n]`` source markers, code, quoted UI labels, and product and feature
names. ``protect`` hides them from a rewrite; ``check_facts`` is the guard a model's rewording must
pass: every fact of the grounded text still there, nothing new added, no sentence of it left out and
no negation lost (a reply with fewer "not", "never", "no"... than its answer may say the opposite).
A sentence counts as left out when fewer than 35% of its content words (and its facts other than
``[n]`` markers) are in the rewording: none of the 333 hand-written on-brand targets falls under that,
and most sentences an adapter drops do. It is a heuristic: a dropped sentence whose words its
neighbours share, or the profile's own vocabulary ("members", "use"), can still pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Earlier patterns win where spans overlap. Each match is one fact; its kind and value come from
# the named group that matched.
_UNITS = (r"business days?|working days?|days?|hours?|hrs?|minutes?|mins?|seconds?|secs?|weeks?|months?|"
          r"years?|[KMGT]B|seats?|users?|members?|requests?|characters?|items?|projects?|files?|times?|"
          r"px|am|pm|AM|PM|%")
_PATTERNS = [
    ("code", r"```.*?```|`[^`\n]+`"),
    ("link", r"\[[^\]\n]+\]\((?P<link>[^)\s]+)\)"),
    ("url", r"https?://[^\s<>)\]]+[^\s<>)\].,;:!?'\"]"),
    ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("marker", r"\[\d{1,2}\]"),
    ("label", r"\*\*(?P<bold>[^*\n]+?)\*\*|“(?P<curly>[^”\n]+)”|\"(?P<straight>[^\"\n]+)\""),
    ("number", r"(?<![\w.])(?:[$€£¥]\s?)?\d+(?:[.,:/-]\d+)*(?:\s?(?:" + _UNITS + r")\b|%)?"),
]
_FACTS = re.compile("|".join(f"(?P<k_{k}>{p})" for k, p in _PATTERNS), re.S)
# A capitalised word inside a sentence (not its first word) is a name: "Jira", "Timeline", "SSO".
_NAME = re.compile(r"(?<![\w'’-])[A-Z][A-Za-z0-9]*(?:[A-Z0-9][A-Za-z0-9]*)*\b")
EMOJI = re.compile("[\U0001F1E6-\U0001F1FF\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u2705]"
                   "[\uFE0F\u200D\U0001F3FB-\U0001F3FF]*|:[a-z0-9_+-]{2,}:")
_OPENERS = re.compile(r"(?:" + EMOJI.pattern + r"|[\s\"'“‘(\[*_>•-])+$")
_BULLET = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\d+[.)])$")


def at_sentence_start(prefix: str) -> bool:
    """Whether text after ``prefix`` starts a sentence (or a line, or a list item)."""
    opener = _OPENERS.search(prefix)
    before = prefix[: opener.start()] if opener else prefix
    if not before or (opener is not None and "\n" in opener.group(0)):
        return True
    return before[-1] in ".!?:" or _BULLET.search(before) is not None


_CONTENT = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_STOP_WORDS = (
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its "
    "this that these those you your you're we our us they their them he she i me my can can't cannot will "
    "won't do does don't doesn't not no yes there here what when where which who how than also just only "
    "more most any all each every some such into out up down over under about after before again once other "
    "own same too very")
_STOP = frozenset(_STOP_WORDS.split())
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|nobody|cannot|without|rather than|instead of)\b"
                       r"|n['’]t\b", re.I)
_SHORT_NO = re.compile(r"(?:^|(?<=[.!?\n])\s*)(?:No|Nope)[,.!]", re.M)
COVERED = 0.35  # the share of a sentence's content words a rewording must keep (see check_facts)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str, vocabulary: Iterable[str] = ()) -> set[str]:
    """A text's content words, lower-cased and crudely stemmed (stop words and ``vocabulary`` left out),
    and its facts other than ``[n]`` markers (which many sentences share), each as one word."""
    skip = _STOP | {w.casefold() for w in vocabulary}
    masked, kept = protect(text)
    words = {_stem(w) for w in _CONTENT.findall(masked.casefold()) if len(w) > 2 and w not in skip}
    return words | {f"\x00{fact}" for fact in kept if not re.fullmatch(r"\[\d{1,2}\]", fact)}


def negations(text: str) -> int:
    """How many negations (not, never, no, -n't, rather than…) a text's prose has; a bare "No." or
    "No," that starts a sentence (a short answer, not a claim) is not counted."""
    prose = _SHORT_NO.sub(" ", protect(text)[0])
    return len(_NEGATION.findall(prose))


def split_sentences(text: str) -> list[str]:
    """A text's sentences and list items, stripped, empty ones left out."""
    return [s.strip() for s in _SPLIT.split(text) if s.strip()]


def claims(text: str, vocabulary: Iterable[str] = ()) -> list[str]:
    """The sentences (and list items) with at least four content words: what a rewording must say too."""
    words = tuple(vocabulary)
    return [s for s in split_sentences(text) if len(content_words(s, words)) >= 4]


@dataclass(frozen=True, order=True)
class Fact:
    kind: str  # code, link, url, email, marker, label, number, term, name, sentence, negation
    value: str


def _normal(text: str) -> str:
    return " ".join(text.split())


def find_facts(text: str, protected_terms: Iterable[str] = ()) -> list[tuple[int, int, Fact]]:
    """Each fact's span and value, in order; protected terms (product names) count as facts too."""
    spans: list[tuple[int, int, Fact]] = []
    for m in _FACTS.finditer(text):
        kind = next(k[2:] for k, v in m.groupdict().items() if v is not None and k.startswith("k_"))
        value = m.group(0)
        if kind == "link":
            kind, value = "url", m.group("link")
        elif kind == "label":
            value = m.group("bold") or m.group("curly") or m.group("straight") or ""
        spans.append((m.start(), m.end(), Fact(kind, _normal(value))))
    for term in sorted(set(protected_terms), key=len, reverse=True):
        for m in re.finditer(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text):
            if not any(s <= m.start() < e or s < m.end() <= e for s, e, _ in spans):
                spans.append((m.start(), m.end(), Fact("term", term)))
    return sorted(spans, key=lambda s: s[0])


def names(text: str) -> set[str]:
    """Capitalised words that do not start a sentence, outside other facts: likely names."""
    masked = protect(text)[0]
    found: set[str] = set()
    for m in _NAME.finditer(masked):
        if not at_sentence_start(masked[: m.start()]) and len(m.group(0)) > 1:
            found.add(m.group(0))
    return found


# Placeholders: one private-use character each, which no rule of the rewriter matches.
_BASE = 0xF0000


def protect(text: str, protected_terms: Iterable[str] = ()) -> tuple[str, list[str]]:
    """``text`` with every fact replaced by a placeholder character, and the facts' original text."""
    out: list[str] = []
    kept: list[str] = []
    at = 0
    for start, end, _ in find_facts(text, protected_terms):
        if start < at:
            continue
        out.append(text[at:start])
        out.append(chr(_BASE + len(kept)))
        kept.append(text[start:end])
        at = end
    out.append(text[at:])
    return "".join(out), kept


def restore(masked: str, kept: list[str]) -> str:
    return re.sub(r"[\U000F0000-\U000FFFFD]", lambda m: kept[ord(m.group(0)) - _BASE], masked)


def within_protected(fn: Callable[[str], str], text: str, protected_terms: Iterable[str] = ()) -> str:
    """Apply a text transformation to everything but the facts."""
    masked, kept = protect(text, protected_terms)
    return restore(fn(masked), kept)


@dataclass(frozen=True)
class FactCheck:
    missing: tuple[Fact, ...]  # in the grounded text, not in the rewording
    added: tuple[Fact, ...]  # in the rewording, not in the grounded text
    checked: int = 0  # the grounded text's distinct facts and sentences, what ``missing`` is out of

    @property
    def ok(self) -> bool:
        return not self.missing and not self.added

    def reason(self) -> str:
        parts = [f"dropped {f.kind} {f.value!r}" for f in self.missing[:3]]
        parts += [f"reversed? {f.value}" if f.kind == "negation" else f"added {f.kind} {f.value!r}"
                  for f in self.added[:3]]
        return "; ".join(parts) or "facts intact"


def check_facts(source: str, rewritten: str, *, protected_terms: Iterable[str] = (),
                voice_words: str = "", question: str = "") -> FactCheck:
    """Every fact of ``source`` is in ``rewritten`` and ``rewritten`` adds none. ``voice_words``: the
    profile's own vocabulary (its phrases, names, banned and preferred words), which a voice may add
    or take away without changing a fact. ``question``: what the asker wrote; a name from it ("a
    Teams message") may be repeated, but not a number, link or label (the asker's "30 days?" is no
    source for "30 days")."""
    terms = tuple(protected_terms)
    before = {f for _, _, f in find_facts(source, terms)}
    after = {f for _, _, f in find_facts(rewritten, terms)}
    missing = [f for f in before if f not in after and not (f.kind == "label" and f.value in rewritten)]
    added = [f for f in after if f not in before and not (f.kind == "label" and f.value in source)
             and not (f.kind == "term" and f.value in voice_words)]
    vocabulary = set(re.findall(r"\w+", voice_words.casefold()))
    source_words = source.casefold()
    missing += [Fact("name", n) for n in names(source)
                if n not in rewritten and n.casefold() not in vocabulary]
    said = content_words(rewritten, vocabulary)
    sentences = claims(source, vocabulary)
    for sentence in sentences:
        words = content_words(sentence, vocabulary)
        if len(words & said) < COVERED * len(words):
            missing.append(Fact("sentence", sentence if len(sentence) <= 60 else sentence[:57] + "..."))
    asked = question.casefold()
    added += [Fact("name", n) for n in names(rewritten)
              if n.casefold() not in source_words and n.casefold() not in vocabulary
              and not re.search(rf"(?<!\w){re.escape(n.casefold())}(?!\w)", asked)]
    before_neg, after_neg = negations(source), negations(rewritten)
    if after_neg < before_neg:  # "Cadence never deletes content" -> "It deletes content": a claim reversed
        added.append(Fact("negation", f"{before_neg - after_neg} of the answer's {before_neg} negations "
                                      f"(not, never, no...) missing"))
    key: Callable[[Fact], tuple[str, str]] = lambda f: (f.kind, f.value)  # noqa: E731
    return FactCheck(tuple(sorted(set(missing), key=key)), tuple(sorted(set(added), key=key)),
                     checked=len(before) + len(set(sentences)))
