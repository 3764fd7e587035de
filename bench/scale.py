"""Speed and size side by side: supportbot and the LangChain baseline on one synthetic help centre.

For each size (named by supportbot's chunk count: the same articles give the baseline its own,
smaller count of 1,000-character chunks, recorded beside it), in one run:

- retrieval p50 / p95: supportbot's `kb.search(q, k=5)` (query cache cleared) and the baseline's
  `similarity_search(q, k=4)`, interleaved per query with the reference, the raw model's
  `encode([q])`, so all three see the same machine state; with one torch thread, as `supportbot
  serve` runs (ingest keeps torch's default threads, as `supportbot ingest` does);
- ingest: files to a searchable index, in chunks/s against the raw model's batch throughput on a
  sample of the same system's chunk texts, and in articles/s between the two systems;
- reload at 1,000 articles (as `python -m bench` measures it): one article edited, then
  supportbot's incremental reload against its full rebuild. The tutorial has no update path, so a
  changed article means rebuilding its index: its figure is its own build time in this run;
- memory: a fresh process per system that opens the index and answers one question, reporting
  VmRSS / VmHWM from /proc; a process that only loads the model and embeds one query is the floor.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.baseline import ST_BATCH, LangChainBaseline
from bench.progress import Progress, quiet
from bench.synthetic import queries, write_helpcentre
from knowledge.embeddings import MiniLMEmbedder, load_model
from knowledge.evaluation import percentile
from knowledge.kb import KnowledgeBase
from knowledge.loaders import load_folder

ROOT = Path(__file__).resolve().parent.parent
KB_NAME = "bench"

_STATUS = """
def _status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out
"""
WORKERS = {
    "supportbot": """
from bot.engine import AnswerEngine
from knowledge.kb import KnowledgeBase
kb = KnowledgeBase.open(data_dir=Path(sys.argv[2]), name=sys.argv[3])
AnswerEngine(knowledge=kb).answer(sys.argv[4])
""",
    "langchain_baseline": """
from bench.baseline import open_baseline
open_baseline(Path(sys.argv[2]), sys.argv[3]).similarity_search(sys.argv[4], k=4)
""",
    "model_only": """
from knowledge.embeddings import load_model
load_model().encode([sys.argv[4]], normalize_embeddings=True)
""",
}


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def start_worker(system: str, index: Path | None = None, collection: str = "",
                 question: str = "How do I reset my password?") -> subprocess.Popen[str]:
    """A fresh process that opens `index` and answers one question, then reports its memory."""
    code = ("import json, sys\nfrom pathlib import Path\nsys.path.insert(0, sys.argv[1])\n" + _STATUS
            + WORKERS[system] + "print(json.dumps(_status()))\n")
    return subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(index or ""), collection, question],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def worker_memory(*workers: subprocess.Popen[str], timeout: float = 900) -> list[dict[str, float]]:
    """VmRSS / VmHWM (MiB) each worker reported. They may run at once: each figure is its own."""
    found = []
    for proc in workers:
        stdout, stderr = proc.communicate(timeout=timeout)
        if proc.returncode:
            raise RuntimeError(f"memory probe failed ({proc.returncode}): {stderr.strip()[-2000:]}")
        mem = json.loads(stdout.strip().splitlines()[-1])
        found.append({"rss_mib": mem["VmRSS"], "hwm_mib": mem["VmHWM"]})
    return found


def raw_throughput(texts: list[str], batch_size: int) -> float:
    """Texts per second of the bare `SentenceTransformer.encode`: what an ingest is measured against."""
    started = time.perf_counter()
    load_model().encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def chunks_per_article(kb: KnowledgeBase, folder: Path, n: int = 20) -> float:
    """supportbot's chunks per synthetic article, from a small sample (sizes are named by chunks)."""
    write_helpcentre(folder, n)
    docs = load_folder(folder).documents
    return sum(len(kb.reloader.chunks(d)) for d in docs) / len(docs)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def latency(kb: KnowledgeBase, bl: LangChainBaseline, n_queries: int, progress: Progress = quiet,
            *, threads: int | None = 1) -> dict[str, Any]:
    """Per-query times of both systems and the raw model, interleaved. `threads`: torch's intra-op
    threads while timing (1, as `supportbot serve` runs; None leaves torch's default)."""
    import torch

    qs = queries(n_queries)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        times = _time_queries(kb, bl, qs, progress)
    finally:
        torch.set_num_threads(before)
    stats: dict[str, Any] = {name: {"p50_ms": statistics.median(v), "p95_ms": percentile(v, 95)}
                             for name, v in times.items()}
    ref = stats["raw_embed"]
    for name in ("supportbot", "langchain_baseline"):
        s = stats[name]
        s["p50_over_raw_p50"] = _ratio(s["p50_ms"], ref["p50_ms"])
        s["p95_over_raw_p95"] = _ratio(s["p95_ms"], ref["p95_ms"])
    for p in ("p50", "p95"):
        stats[f"supportbot_over_baseline_{p}"] = _ratio(stats["supportbot"][f"{p}_ms"],
                                                        stats["langchain_baseline"][f"{p}_ms"])
    stats.update(queries=len(qs), torch_threads=threads or before)
    return stats


def _time_queries(kb: KnowledgeBase, bl: LangChainBaseline, qs: list[str], progress: Progress
                  ) -> dict[str, list[float]]:
    model = load_model()
    times: dict[str, list[float]] = {"raw_embed": [], "supportbot": [], "langchain_baseline": []}
    for n, q in enumerate(qs, 1):
        t0 = time.perf_counter()
        model.encode([q], normalize_embeddings=True, show_progress_bar=False)
        times["raw_embed"].append(ms(time.perf_counter() - t0))
        kb.embedder.clear_cache()  # each query pays its own embedding, as a new question would
        t0 = time.perf_counter()
        kb.search(q, k=5)
        times["supportbot"].append(ms(time.perf_counter() - t0))
        t0 = time.perf_counter()
        bl.search(q)
        times["langchain_baseline"].append(ms(time.perf_counter() - t0))
        progress("latency", n, len(qs))
    return times


def one_size(root: Path, articles: int, *, n_queries: int, sample: int, reload: bool, memory: bool,
             floor: bool = False, label: str, progress: Progress) -> dict[str, Any]:
    """One size; `floor` also measures the model-only process (alongside the two workers)."""
    hc = root / "hc"
    paths = write_helpcentre(hc, articles)
    embedder = MiniLMEmbedder()
    kb = KnowledgeBase.open(data_dir=root / "sb", name=KB_NAME, embedder=embedder)
    step = lambda s: lambda d, t: progress(f"{label} {s}", d, t)  # noqa: E731

    # supportbot: the raw model on a sample of its chunk texts, then files -> live index
    sampled = load_folder(hc).documents[:sample]
    sample_texts = [c.search_text() for d in sampled for c in kb.reloader.chunks(d)]
    raw_sb = raw_throughput(sample_texts, embedder.batch_size)
    t0 = time.perf_counter()
    report = kb.reload(hc, progress=lambda s, d, t: progress(f"{label} supportbot {s}", d, t))
    kb.live()
    sb_s = time.perf_counter() - t0

    # the baseline: the same files, loaded by the same loader, split and added to Chroma
    bl = LangChainBaseline(root / "lc")
    t0 = time.perf_counter()
    bl.add(load_folder(hc).documents, on_chunks=step("langchain ingest"))
    lc_s = time.perf_counter() - t0
    lc_texts = [d.page_content for d in bl.split(load_folder(hc).documents[:sample])]
    raw_lc = raw_throughput(lc_texts, ST_BATCH)

    sb_tp, lc_tp = report.chunks / sb_s, bl.chunks / lc_s
    row: dict[str, Any] = {
        "articles": articles,
        "chunks": {"supportbot": report.chunks, "langchain_baseline": bl.chunks},
        "ingest": {
            "supportbot": {"seconds": round(sb_s, 2), "chunks_per_s": round(sb_tp, 1),
                           "raw_chunks_per_s": round(raw_sb, 1), "ratio_to_raw": _ratio(sb_tp, raw_sb),
                           "articles_per_s": round(articles / sb_s, 2)},
            "langchain_baseline": {"seconds": round(lc_s, 2), "chunks_per_s": round(lc_tp, 1),
                                   "raw_chunks_per_s": round(raw_lc, 1),
                                   "ratio_to_raw": _ratio(lc_tp, raw_lc),
                                   "articles_per_s": round(articles / lc_s, 2)},
            "supportbot_over_baseline_articles_per_s": _ratio(lc_s, sb_s),
        },
    }
    row["latency"] = latency(kb, bl, n_queries, lambda s, d, t: progress(f"{label} {s}", d, t))
    if reload:
        p = paths[len(paths) // 2]
        p.write_text(p.read_text() + "\nOne more sentence about the invoice export.\n")
        t0 = time.perf_counter()
        inc = kb.reload(hc)
        inc_s = time.perf_counter() - t0
        assert inc.updated and len(inc.unchanged) == articles - 1, "the reload did not see one change"
        row["reload"] = {
            "articles": articles,
            "supportbot": {"one_changed_s": round(inc_s, 3), "full_rebuild_s": round(sb_s, 2),
                           "speedup": _ratio(sb_s, inc_s)},
            "langchain_baseline": {"one_changed_s": round(lc_s, 2), "full_rebuild_s": round(lc_s, 2),
                                   "note": "no incremental path in the tutorial: a change means a rebuild"},
            "supportbot_one_changed_over_baseline": _ratio(inc_s, lc_s),
        }
    if memory:
        progress(f"{label} memory", 0, 1)
        probes = [start_worker("supportbot", root / "sb", KB_NAME),
                  start_worker("langchain_baseline", root / "lc", bl.collection)]
        sb_mem, lc_mem, *model_only = worker_memory(*probes, *([start_worker("model_only")] if floor else []))
        progress(f"{label} memory", 1, 1)
        row["memory"] = {"supportbot": sb_mem, "langchain_baseline": lc_mem,
                         "supportbot_over_baseline_rss": _ratio(sb_mem["rss_mib"], lc_mem["rss_mib"])}
        if model_only:
            row["memory"]["model_only"] = model_only[0]
    bl.close()
    return row


def scale(sizes: list[int], *, n_queries: int = 200, sample: int = 150, reload_articles: int = 1000,
          memory: bool = True, memory_floor: bool = True, progress: Progress = quiet) -> dict[str, Any]:
    """`scale`: one row per size (in supportbot chunks); reload at `reload_articles` (or the nearest size).
    `memory_floor`: also a process holding only the model, beside the first size's workers."""
    load_model().encode(["warm up"])
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
        probe = KnowledgeBase.open(data_dir=Path(tmp) / "probe", name=KB_NAME)
        per_article = chunks_per_article(probe, Path(tmp) / "probe-hc")
    plan = [(size, max(1, round(size / per_article))) for size in sizes]
    # the reload row is at 1,000 articles: the size nearest that is given exactly that many
    near = min(range(len(plan)), key=lambda i: abs(plan[i][1] - reload_articles))
    if abs(plan[near][1] - reload_articles) <= 0.25 * reload_articles:
        plan[near] = (plan[near][0], reload_articles)
    reload_at = plan[near][1]
    rows: list[dict[str, Any]] = []
    for size, articles in plan:
        label = f"{size:,} chunks"
        with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
            row = one_size(Path(tmp), articles, n_queries=n_queries, sample=sample,
                           reload=articles == reload_at, memory=memory, floor=memory_floor and not rows,
                           label=label, progress=progress)
        rows.append({"size": size, **row})
    out: dict[str, Any] = {"chunks_per_article": round(per_article, 2), "sizes": rows}
    if memory and memory_floor:
        out["memory_model_only"] = rows[0]["memory"].pop("model_only")
    return out
