"""The two start-up settings of `supportbot serve`, measured against the defaults they replace.

- Thread settings: uncached query embeddings while the machine is busy (one process spinning on a
  core, as the event loop and Redis do under load), in a fresh process with torch's default threads
  versus one with `serve`'s settings (one intra-op thread, passive OpenMP wait).
- `gc.freeze()`: the pause of a full garbage collection once the sample help centre and the engine
  are loaded and warm, before and after freezing. A full pass holds the event loop, and every ack.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from knowledge.evaluation import percentile

ROOT = Path(__file__).resolve().parent.parent

_EMBED_PROBE = """
import json, sys, time
if sys.argv[1] == "serve":
    from adapters.server.serve import tune_threads
    tune_threads()
import torch
from knowledge.embeddings import MiniLMEmbedder
emb = MiniLMEmbedder()
emb.raw_query_embedding("warm up")
times = []
for i in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    emb.raw_query_embedding(f"how do I export the invoices of project {i} to a spreadsheet?")
    times.append(time.perf_counter() - t0)
print(json.dumps({"threads": torch.get_num_threads(), "times": times}))
"""


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def embedding_under_load(n: int = 150) -> dict[str, Any]:
    """p50 / p95 ms of one query embedding with torch's defaults and with `serve`'s settings."""
    out: dict[str, Any] = {}
    for mode in ("default", "serve"):
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
        burner = multiprocessing.Process(target=_spin, args=(time.time() + 600,), daemon=True)
        burner.start()
        try:
            done = subprocess.run([sys.executable, "-c", _EMBED_PROBE, mode, str(n)], env=env, cwd=ROOT,
                                  capture_output=True, text=True, check=True, timeout=600)
        finally:
            burner.terminate()
        res = json.loads(done.stdout.strip().splitlines()[-1])
        out[mode] = {"torch_threads": res["threads"], "p50_ms": round(percentile(res["times"], 50) * 1000, 1),
                     "p95_ms": round(percentile(res["times"], 95) * 1000, 1)}
    out["p95_ratio"] = round(out["default"]["p95_ms"] / out["serve"]["p95_ms"], 1)
    return out


def gc_pause() -> dict[str, Any]:
    """Full-collection pause (ms) with the engine loaded and warm, before and after ``gc.freeze()``."""
    from adapters.app import SAMPLE_HELPCENTRE
    from adapters.server.serve import freeze_heap
    from bot.engine import AnswerEngine
    from knowledge.kb import KnowledgeBase

    with tempfile.TemporaryDirectory(prefix="supportbot-gc-") as tmp:
        kb = KnowledgeBase.open(data_dir=Path(tmp), name="gc")
        kb.reload(SAMPLE_HELPCENTRE)
        engine = AnswerEngine(knowledge=kb)
        engine.answer("How do I get a refund?")

        def full() -> float:
            t0 = time.perf_counter()
            gc.collect()
            return (time.perf_counter() - t0) * 1000

        objects = len(gc.get_objects())
        before = min(full() for _ in range(3))
        freeze_heap()
        after = min(full() for _ in range(3))
        gc.unfreeze()
    return {"tracked_objects": objects, "full_gc_ms": round(before, 1), "after_freeze_ms": round(after, 1)}
