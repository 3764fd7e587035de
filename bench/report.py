"""`bench/results/`: the machine a comparison ran on, its headline table (Markdown) and its plots."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

SYSTEMS = ("supportbot", "langchain_baseline")
PACKAGES = ("torch", "sentence-transformers", "chromadb", "langchain-core", "langchain-chroma",
            "langchain-text-splitters", "numpy")
TIE = 0.03  # timings and memory within 3% of each other are a tie
NOTE = ("Quality: higher is better; the baseline's Hit@5 and MRR@10 read its similarity search made deeper "
        "than k=4 (the k=4 list is its prefix). Timings and memory: lower is better, within 3% is a tie; "
        "each timing is also given as a ratio to the raw model measured in the same run. "
        "**baseline** marks the rows the baseline wins.")


def _proc(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return ""


def machine() -> dict[str, Any]:
    """Which machine, so absolute times can be read for what they are."""
    import torch

    mem_kib = _proc("/proc/meminfo", "MemTotal").split()
    versions: dict[str, str | None] = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu": _proc("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": round(int(mem_kib[0]) / 1024**2, 1) if mem_kib else None,
        "gpu": bool(torch.cuda.is_available()),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "torch_threads": torch.get_num_threads(),
        "os": platform.platform(),
        "host": platform.node(),
        "python": platform.python_version(),
        "versions": versions,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --- the headline table -------------------------------------------------------------------------

def _winner(sb: float | None, lc: float | None, *, higher: bool, timing: bool) -> str:
    if sb is None or lc is None:
        return ""
    if timing:
        if lc and abs(sb / lc - 1) <= TIE:
            return "tie"
    elif abs(sb - lc) < 0.0005:
        return "tie"
    return "supportbot" if (sb > lc) == higher else "**baseline**"


def _ratio(sb: float | None, lc: float | None) -> str:
    return f"{sb / lc:.2f}×" if sb is not None and lc else "—"


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if not unit else f"{v:,.1f} {unit}"


COLUMNS = ("measure", "supportbot", "LangChain baseline", "supportbot ÷ baseline", "reference (same run)",
           "better")


def _row(measure: str, sb: float | None, lc: float | None, *, higher: bool, timing: bool = False,
         unit: str = "", sb_note: str = "", lc_note: str = "", reference: str = "") -> list[str]:
    return [measure, _fmt(sb, unit) + sb_note, _fmt(lc, unit) + lc_note, _ratio(sb, lc), reference,
            _winner(sb, lc, higher=higher, timing=timing)]


def _quality_rows(quality: dict[str, Any]) -> Iterator[list[str]]:
    for name, q in quality.items():
        sb, lc = q["supportbot"], q["langchain_baseline"]
        for key, label in (("hit@1", "Hit@1"), ("hit@5", "Hit@5"), ("mrr@10", "MRR@10"),
                           ("abstain_recall", "abstain_recall"), ("answer_rate", "answer_rate")):
            if key in sb or key in lc:
                note = " (never abstains)" if key in ("abstain_recall", "answer_rate") else ""
                yield _row(f"{name}: {label}", sb.get(key), lc.get(key), higher=True, lc_note=note)
        for key, label in (("hit@1", "Hit@1"), ("mrr@10", "MRR@10")):
            if key in sb.get("followup_gain", {}):
                g_sb, g_lc = sb["followup_gain"][key], lc["followup_gain"][key]
                alone_sb, alone_lc = sb["no_history"][key], lc["no_history"][key]
                yield _row(f"{name}: follow-up gain, {label}", g_sb, g_lc, higher=True,
                           sb_note=f" ({alone_sb:.3f} → {sb[key]:.3f})",
                           lc_note=f" ({alone_lc:.3f} → {lc[key]:.3f})")


def _scale_rows(scale: dict[str, Any]) -> Iterator[list[str]]:
    for r in scale["sizes"]:
        c = r["chunks"]
        size = f"{r['articles']:,} articles ({c['supportbot']:,} / {c['langchain_baseline']:,} chunks)"
        lat = r["latency"]
        sb, lc, raw = lat["supportbot"], lat["langchain_baseline"], lat["raw_embed"]
        for p in ("p50", "p95"):
            yield _row(f"retrieval {p}, {size}", sb[f"{p}_ms"], lc[f"{p}_ms"], higher=False, timing=True,
                       unit="ms", sb_note=f" ({sb[f'{p}_over_raw_{p}']:.2f}× raw)",
                       lc_note=f" ({lc[f'{p}_over_raw_{p}']:.2f}× raw)",
                       reference=f"raw query embedding {raw[f'{p}_ms']:.1f} ms")
        isb, ilc = r["ingest"]["supportbot"], r["ingest"]["langchain_baseline"]
        yield _row(f"ingest, {size}", isb["articles_per_s"], ilc["articles_per_s"], higher=True, timing=True,
                   unit="articles/s", sb_note=f" ({isb['ratio_to_raw']:.2f}× raw chunks/s)",
                   lc_note=f" ({ilc['ratio_to_raw']:.2f}× raw chunks/s)",
                   reference=f"raw model {isb['raw_chunks_per_s']:.0f} / "
                             f"{ilc['raw_chunks_per_s']:.0f} chunks/s")
        if "memory" in r:
            m = r["memory"]
            floor = scale.get("memory_model_only", {}).get("rss_mib")
            yield _row(f"worker memory (RSS), {size}", m["supportbot"]["rss_mib"],
                       m["langchain_baseline"]["rss_mib"], higher=False, timing=True, unit="MiB",
                       reference=f"model alone {floor:.0f} MiB" if floor else "")
        if "reload" in r:
            rl = r["reload"]
            yield _row(f"reload, {rl['articles']:,} articles, 1 changed", rl["supportbot"]["one_changed_s"],
                       rl["langchain_baseline"]["one_changed_s"], higher=False, timing=True, unit="s",
                       sb_note=f" ({rl['supportbot']['speedup']:.0f}× faster than its full rebuild)",
                       lc_note=" (full rebuild)",
                       reference=f"supportbot full rebuild {rl['supportbot']['full_rebuild_s']:.1f} s")


def table(result: dict[str, Any]) -> list[list[str]]:
    """The headline rows: each measure for both systems, their ratio, and which is better."""
    return [*_quality_rows(result.get("quality", {})),
            *(_scale_rows(result["scale"]) if result.get("scale") else [])]


def _threads_note(result: dict[str, Any]) -> list[str]:
    rows = result.get("scale", {}).get("sizes", [])
    if not rows:
        return []
    n = rows[0]["latency"].get("torch_threads")
    return ["", f"Retrieval is timed with {n} torch thread{'s' if n != 1 else ''} (as `supportbot serve` "
                "runs), each query's embedding computed afresh; ingest with torch's default threads."]


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"# supportbot vs the LangChain tutorial RAG ({result['mode']} run)",
        "",
        f"`{result['command']}` on {m['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
        f"{'GPU' if m['gpu'] else 'no GPU'}, load average {m['load_average_at_start'][0]} at the start; "
        f"Python {m['python']}, torch {m['versions'].get('torch')}.",
        "",
        "Baseline: " + result["baseline"]["description"],
        *_threads_note(result),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(cells) + " |" for cells in table(result)),
        "",
        NOTE,
        "",
        "![retrieval latency against size](latency_vs_size.png)",
        "![worker memory against size](memory_vs_size.png)",
        "",
    ]
    return "\n".join(lines)


# --- plots ---------------------------------------------------------------------------------------

def plots(result: dict[str, Any], out: Path) -> list[Path]:
    """Latency and memory against size, each system at its own chunk count (same help centre)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.get("scale", {}).get("sizes", [])
    written: list[Path] = []
    if not rows:
        return written
    style = {"supportbot": ("tab:blue", "supportbot"),
             "langchain_baseline": ("tab:orange", "LangChain baseline")}

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system, (color, name) in style.items():
        x = [r["chunks"][system] for r in rows]
        for p, ls in (("p50", "-"), ("p95", "--")):
            ax.plot(x, [r["latency"][system][f"{p}_ms"] for r in rows], ls, marker="o", color=color,
                    label=f"{name} {p}")
    x = [r["chunks"]["supportbot"] for r in rows]
    for p, ls in (("p50", "-"), ("p95", "--")):
        ax.plot(x, [r["latency"]["raw_embed"][f"{p}_ms"] for r in rows], ls, color="grey",
                label=f"raw query embedding {p}")
    ax.set(xscale="log", xlabel="chunks in the index (each system's own, for the same articles)",
           ylabel="retrieval time (ms)",
           title=f"Retrieval latency against size ({result['machine']['cores']} cores)")
    written.append(_save(fig, ax, out / "latency_vs_size.png"))

    if all("memory" in r for r in rows):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for system, (color, name) in style.items():
            x = [r["chunks"][system] for r in rows]
            ax.plot(x, [r["memory"][system]["rss_mib"] for r in rows], "-", marker="o", color=color,
                    label=f"{name} RSS")
            ax.plot(x, [r["memory"][system]["hwm_mib"] for r in rows], "--", marker="o", color=color,
                    label=f"{name} peak (HWM)")
        floor = result["scale"].get("memory_model_only", {}).get("rss_mib")
        if floor:
            ax.axhline(floor, color="grey", ls=":", label="model alone (RSS)")
        ax.set(xscale="log", xlabel="chunks in the index (each system's own, for the same articles)",
               ylabel="resident memory (MiB)", title="Memory of a loaded worker against size")
        written.append(_save(fig, ax, out / "memory_vs_size.png"))
    return written


def _save(fig: Any, ax: Any, path: Path) -> Path:
    """Finish a plot the same way for every figure: from zero, a light grid, the legend, saved."""
    import matplotlib.pyplot as plt

    ax.set_ylim(0, ax.get_ylim()[1] * 1.1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write(result: dict[str, Any], out: Path) -> list[Path]:
    """latest.json, latest.md and the plots under `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "latest.md").write_text(markdown(result))
    return [out / "latest.json", out / "latest.md", *plots(result, out)]
