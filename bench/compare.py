"""supportbot side by side with the plain LangChain tutorial RAG, in one run on one machine.

Quality on every BEIR set in ../shared/data/eval/ and on bench/data/cadence-conversations
(bench/quality.py); retrieval latency, ingest, reload and worker memory at 1k, 10k and 100k chunks
(bench/scale.py; `--quick`: 1k and 10k). Writes bench/results/latest.json, latest.md and the plots
(bench/report.py). `supportbot bench [--quick]` runs it; so does `python -m bench.compare`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report
from bench.baseline import CHUNK_OVERLAP, CHUNK_SIZE, K
from bench.progress import Progress, quiet
from bench.quality import quality, trim
from bench.scale import scale
from knowledge.embeddings import MiniLMEmbedder
from knowledge.evaluation import load_beir

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"
CONVERSATIONS = ROOT / "bench" / "data" / "cadence-conversations"
RESULTS = ROOT / "bench" / "results"
FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)

BASELINE = (
    f"LangChain's RAG tutorial on the same data and model in the same run: "
    f"`RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP})`, `langchain_chroma.Chroma` "
    f"(embedded), all-MiniLM-L6-v2 (the same weights), `similarity_search(k={K})`; the answer is the "
    "top chunk and it never abstains (bench/baseline.py)."
)


@dataclass(frozen=True)
class Plan:
    """What one comparison runs. `max_queries` / `max_docs` trim each set (tests, dry runs only)."""

    sets: tuple[Path, ...]
    sizes: tuple[int, ...]
    latency_queries: int = 200
    ingest_sample: int = 150  # articles whose chunks time the raw model's batch throughput
    reload_articles: int = 1000
    memory: bool = True
    memory_floor: bool = True  # a process with the model alone: the floor under both workers
    max_queries: int | None = None
    max_docs: int | None = None
    mode: str = "full"
    command: str = "supportbot bench"


def default_sets(eval_dir: Path = EVAL_DIR) -> tuple[Path, ...]:
    if not eval_dir.is_dir():
        return (CONVERSATIONS,)
    return (*sorted(p for p in eval_dir.iterdir() if (p / "corpus.jsonl").is_file()), CONVERSATIONS)


def plan_for(*, quick: bool, sizes: Sequence[int] | None = None, eval_dir: Path = EVAL_DIR,
             command: str = "supportbot bench") -> Plan:
    return Plan(sets=default_sets(eval_dir), sizes=tuple(sizes or (QUICK_SIZES if quick else FULL_SIZES)),
                latency_queries=100 if quick else 200, mode="quick" if quick else "full", command=command)


def run(plan: Plan, *, progress: Progress = quiet) -> dict[str, Any]:
    """The whole comparison as one JSON-able dict (`latest.json`)."""
    started = time.perf_counter()
    result: dict[str, Any] = {
        "mode": plan.mode, "command": plan.command, "machine": report.machine(),
        "baseline": {"description": BASELINE, "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP,
                     "k": K, "splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter",
                     "vector_store": "langchain_chroma.Chroma"},
        "quality": {},
    }
    embedder = MiniLMEmbedder()
    for folder in plan.sets:
        evalset = load_beir(folder)
        if plan.max_queries or plan.max_docs:
            evalset = trim(evalset, queries=plan.max_queries, docs=plan.max_docs)
        result["quality"][evalset.name] = quality(evalset, embedder=embedder, progress=progress)
    if plan.sizes:
        result["scale"] = scale(list(plan.sizes), n_queries=plan.latency_queries, sample=plan.ingest_sample,
                                reload_articles=plan.reload_articles, memory=plan.memory,
                                memory_floor=plan.memory_floor, progress=progress)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1k and 10k chunks, 100 latency queries")
    ap.add_argument("--sizes", help="comma-separated sizes in chunks (default: 1000,10000,100000)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    command = "python -m bench.compare " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    result = run(plan_for(quick=args.quick, sizes=sizes, command=command.strip()),
                 progress=lambda s, d, t: print(f"\r{s}: {d}/{t}", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    for path in report.write(result, args.out):
        print(path)


if __name__ == "__main__":
    main()
