"""The voice adapter's examples: pairs of a plain grounded answer and the same answer in the brand's
voice, and the hygiene check `voice train` runs before it trains on them.

A dirty set is refused with a report: duplicates, a held-out example that is also in training,
a target with a fact its input does not have (the model would learn to invent) or without one it
has, targets far longer or shorter than their input, and targets that break the profile's rules.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.voice import voice_words
from bot.voice.facts import check_facts
from bot.voice.lint import count_words, lint
from bot.voice.profile import VoiceProfile

DATA_DIR = Path(__file__).parent / "data"
MIN_RATIO, MAX_RATIO = 0.6, 2.5  # target words / input words outside this: a length outlier


@dataclass(frozen=True)
class Pair:
    id: str
    input: str  # the plain grounded answer
    output: str  # the same answer in the brand's voice
    question: str = ""


class DatasetError(ValueError):
    """A file of pairs that cannot be read; the message names the file and line."""


def load_pairs(path: Path) -> list[Pair]:
    pairs: list[Pair] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read it ({type(exc).__name__})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise DatasetError(f"{path}:{n}: not JSON; write one {{\"input\", \"output\"}} object a line") \
                from None
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) and doc[k].strip()
                                                for k in ("input", "output")):
            raise DatasetError(f"{path}:{n}: needs non-empty \"input\" and \"output\" strings")
        pairs.append(Pair(id=str(doc.get("id") or f"{path.stem}:{n}"), input=doc["input"],
                          output=doc["output"], question=str(doc.get("question") or "")))
    return pairs


def dataset_hash(pairs: Iterable[Pair]) -> str:
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(json.dumps([p.question, p.input, p.output]).encode())  # the adapter sees all three
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Problem:
    kind: str  # duplicate, overlap, invented_fact, dropped_fact, length, off_voice
    ids: tuple[str, ...]
    detail: str


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def hygiene(train: list[Pair], heldout: list[Pair], profile: VoiceProfile) -> list[Problem]:
    """Everything wrong with a training set and its held-out set ([] when clean)."""
    problems: list[Problem] = []
    for name, pairs in (("training", train), ("held-out", heldout)):
        for field in ("input", "output"):
            seen: dict[str, list[str]] = defaultdict(list)
            for p in pairs:
                seen[_norm(getattr(p, field))].append(p.id)
            problems += [Problem("duplicate", tuple(ids), f"the same {field} {len(ids)} times in the {name} "
                                 "set") for ids in seen.values() if len(ids) > 1]
    train_inputs = {_norm(p.input): p.id for p in train}
    problems += [Problem("overlap", (train_inputs[_norm(p.input)], p.id),
                         "a held-out input is also a training input")
                 for p in heldout if _norm(p.input) in train_inputs]
    words = voice_words(profile)
    for p in (*train, *heldout):
        check = check_facts(p.input, p.output, protected_terms=profile.protected_terms, voice_words=words)
        if check.added:
            problems.append(Problem("invented_fact", (p.id,), "the target has what the input does not: "
                                    + ", ".join(f"{f.kind} {f.value!r}" for f in check.added[:3])))
        if check.missing:
            problems.append(Problem("dropped_fact", (p.id,), "the target loses "
                                    + ", ".join(f"{f.kind} {f.value!r}" for f in check.missing[:3])))
        ratio = count_words(p.output) / max(1, count_words(p.input))
        if not MIN_RATIO <= ratio <= MAX_RATIO:
            problems.append(Problem("length", (p.id,), f"the target is {ratio:.1f}x the input's length "
                                    f"(expected {MIN_RATIO}-{MAX_RATIO}x)"))
        failed = lint(p.output, profile, "slack").failed()
        if failed:
            problems.append(Problem("off_voice", (p.id,), "the target breaks "
                                    + "; ".join(f"{r.rule} ({r.detail})" for r in failed)))
    return problems
