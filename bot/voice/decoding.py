"""Fact-constrained decoding for the voice models: the model writes every word, but the search may not
take two steps that would break a fact.

- **No early end.** While a fact of the grounded answer (a number, link, ``[n]`` marker, label,
  product name…) is not yet in the reply, neither the end of the reply nor the start of a sign-off
  is a choice: a small model that would wrap up after two of three sentences writes the third.
- **No new numbers.** A digit may only continue a number the grounded answer has: ``14`` may become
  ``14 days`` but not ``140``, and ``[4]`` cannot appear when the sources are ``[1]`` and ``[2]``.

Both act on the few most likely next tokens only (greedy decoding takes the first one left), so the
cost is a decode of the reply so far on the steps where one of them applies.

With ``copy`` set, there is a third step:

- **Copy what is missing.** The first time the reply would end with a fact missing, the grounded
  sentences that hold the missing facts are written next, word for word but for the profile's word
  swaps (``copy`` rewords them), and the model goes on from there: it may add its sign-off, within
  ``extra`` tokens. A reply keeps every fact this way, at the cost of a plainer sentence.

Without ``copy``, a small model kept from ending does not always find the missing sentence: it may
repeat itself or trail off into emoji. So the extra writing is bounded (``extra`` tokens after the
first kept-off end, then the reply ends), and ``finish`` keeps it only as far as it brought missing
facts in: the shortest reply, from the model's own first ending on, that misses the fewest facts. The
fact guard still checks the finished reply: the constraint makes it pass more often, it does not
replace it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.voice.facts import FactCheck, check_facts, split_sentences

_DIGITS = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?\]])(?=\s)|\n")
_MARKER = re.compile(r"\[(\d{1,2})\]")
_digit_tokens: dict[int, Any] = {}  # id(tokenizer) -> bool tensor over the vocabulary


@dataclass(frozen=True)
class Numbers:
    """The digit runs a reply may write, and their prefixes: ``[n]`` markers apart from other numbers,
    so that the ``1`` of ``[1]`` does not let a reply say "1 year"."""

    runs: frozenset[str]
    prefixes: frozenset[str]
    markers: frozenset[str]
    marker_prefixes: frozenset[str]


def _prefixes(runs: Iterable[str]) -> frozenset[str]:
    return frozenset(r[:i] for r in runs for i in range(1, len(r) + 1))


def number_runs(source: str) -> Numbers:
    """The numbers of ``source``: the digit runs inside ``[n]`` markers, and all others."""
    markers = {m.group(1) for m in _MARKER.finditer(source)}
    plain = {m.group(0) for m in _DIGITS.finditer(source) if not _in_marker(source, m.start())}
    return Numbers(frozenset(plain), _prefixes(plain), frozenset(markers), _prefixes(markers))


def _in_marker(text: str, start: int) -> bool:
    return start > 0 and text[start - 1] == "["


def invents_number(written: str, piece: str, numbers: Numbers) -> bool:
    """Whether appending ``piece`` to ``written`` writes a number the source does not have: a run of
    digits that is finished must be one of the source's runs (of its kind: marker or not); one still
    open, a prefix of one."""
    text = written + piece
    for m in _DIGITS.finditer(text):
        if m.end() < len(written):
            continue  # finished before this step (the piece may close a run that ends where it starts)
        marker = _in_marker(text, m.start())
        if m.end() == len(text):
            allowed = numbers.marker_prefixes if marker else numbers.prefixes
        else:
            allowed = numbers.markers if marker else numbers.runs
        if m.group(0) not in allowed:
            return True
    return False


def missing_sentences(source: str, written: str, protected_terms: Iterable[str],
                      voice_words: str) -> list[str]:
    """The sentences of ``source``, in order, that hold a fact ``written`` lacks, or that it left out."""
    terms = tuple(protected_terms)
    return [s for s in split_sentences(source)
            if check_facts(s, written, protected_terms=terms, voice_words=voice_words).missing]


class FactConstraint:
    """A ``transformers`` logits processor for greedy decoding of one reply (batch of one)."""

    def __init__(self, tokenizer: Any, source: str, prompt_len: int, *, protected_terms: Iterable[str] = (),
                 voice_words: str = "", stop_ids: Iterable[int] = (), sign_offs: Iterable[str] = (),
                 top: int = 8, extra: int = 96, copy: Callable[[str], str] | None = None,
                 limit: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.source = source
        self.prompt_len = prompt_len
        self.protected_terms = tuple(protected_terms)
        self.voice_words = voice_words
        self.end_ids = sorted({int(i) for i in stop_ids if i is not None})
        ends = set(self.end_ids)
        for phrase in sign_offs:  # the first token of each sign-off, at a line's start or after a space
            for form in (phrase, f" {phrase}"):
                ids = tokenizer(form, add_special_tokens=False)["input_ids"]
                ends.update(ids[:1])
        self.stop_ids = sorted(ends)
        self.top = top
        self.numbers = number_runs(source)
        self.digit = _digit_mask(tokenizer)
        self.extra = extra
        self.first_end: int | None = None  # tokens written when the reply first wanted to end
        self.blocked_ends = 0  # how often the reply was kept from ending early (for tests and logs)
        self.blocked_numbers = 0
        self.copy = copy
        self.forced: list[int] = []  # the copied sentences' tokens still to write
        self.copied = ""  # the text copied in, if any
        self.copy_end: int | None = None  # tokens written when the copy was done
        self.cut_off = False  # whether the extra writing ran out (the reply did not end by itself)
        self.limit = limit  # tokens the model may write (a copy under way is finished past it)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        row = scores[0]
        ids = input_ids[0, self.prompt_len:].tolist()
        if self.forced:
            return self._force(row, self.forced.pop(0), scores, done=len(ids) + 1)
        since = self.copy_end if self.copy_end is not None else self.first_end
        spent = since is not None and len(ids) - since >= self.extra
        if (spent or (self.limit is not None and len(ids) >= self.limit)) and self.end_ids:
            self.cut_off = True  # the extra writing is spent: end here (finish() trims the tail)
            return self._force(row, self.end_ids[0], scores)
        written: str | None = None
        for _ in range(self.top):
            best = int(row.argmax())
            if best in self.stop_ids:
                written = self._decode(ids) if written is None else written
                if self._check(written).missing:
                    if self.first_end is None:
                        self.first_end = len(ids)
                    self.blocked_ends += 1
                    if self._start_copy(written):
                        return self._force(row, self.forced.pop(0), scores, done=len(ids) + 1)
                    row[self.stop_ids] = float("-inf")
                    continue
                break
            if not bool(self.digit[best]):
                break
            written = self._decode(ids) if written is None else written
            piece = self._decode([*ids, best])[len(written):]
            if not invents_number(written, piece, self.numbers):
                break
            row[best] = float("-inf")
            self.blocked_numbers += 1
        return scores

    def _start_copy(self, written: str) -> bool:
        """Queue the grounded sentences that hold the facts ``written`` misses (once per reply)."""
        if self.copy is None or self.copied:
            return False
        missing = missing_sentences(self.source, written, self.protected_terms, self.voice_words)
        if not missing:
            return False
        text = self.copy(" ".join(missing))
        # after a paragraph break the model opened (for its sign-off), the copy is that paragraph,
        # and the break comes again after it
        gap = written[len(written.rstrip()):]
        placed = text + gap if gap else " " + text if written else text
        self.forced = list(self.tokenizer(placed, add_special_tokens=False)["input_ids"])
        self.copied = text
        return bool(self.forced)

    def _force(self, row: Any, token: int, scores: Any, *, done: int | None = None) -> Any:
        """Make ``token`` the only choice; ``done``: the copy ends with it, at that many tokens."""
        row[:] = float("-inf")
        row[token] = 0.0
        if done is not None and not self.forced:
            self.copy_end = done
        return scores

    def finish(self, ids: list[int]) -> str:
        """The reply to keep from the generated ``ids``: all of it if it never wanted to end early.
        After a copy, all of it too, unless the writing after the copy ran out of room or adds a fact
        (then it ends with the copy). Else cut at the first sentence end, from its own first ending
        on, after which no fewer facts are missing (what came after brought nothing in)."""
        text = self._decode(ids)
        if self.copy_end is not None:
            upto = self._decode(ids[: self.copy_end])
            if self.cut_off or len(self._check(text).added) > len(self._check(upto).added):
                return upto
            return text
        if self.first_end is None:
            return text
        start = len(self._decode(ids[: self.first_end]))
        cuts = [start] + [m.end() for m in _SENTENCE_END.finditer(text, start)] + [len(text)]
        best, fewest = len(text), None
        for cut in sorted(set(cuts)):
            missing = len(self._check(text[:cut]).missing)
            if fewest is None or missing < fewest:
                best, fewest = cut, missing
        return text[:best]

    def _check(self, written: str) -> FactCheck:
        return check_facts(self.source, written, protected_terms=self.protected_terms,
                           voice_words=self.voice_words)

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))


def _digit_mask(tokenizer: Any) -> Any:
    """Which token ids contain a digit, computed once per tokenizer."""
    import torch

    found = _digit_tokens.get(id(tokenizer))
    if found is None:
        vocab = tokenizer.get_vocab()
        found = torch.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=torch.bool)
        for token, i in vocab.items():
            if any(c.isdigit() for c in token):
                found[i] = True
        _digit_tokens[id(tokenizer)] = found
    return found
