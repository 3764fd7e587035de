"""`supportbot bench`: supportbot side by side with the plain LangChain tutorial RAG (bench/compare.py).

Runs from a source checkout: the `bench` package sits beside the installed ones and is not shipped.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.console import messages as msg
from adapters.console.terminal import err, fail, out

ROOT = Path(__file__).resolve().parents[2]


def load_compare() -> ModuleType:
    """`bench.compare`, putting the checkout on the path when `supportbot` runs as an installed script."""
    if not (ROOT / "bench" / "compare.py").is_file():
        raise fail(msg.BENCH_NOT_A_CHECKOUT.format(root=ROOT), 2)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("bench.compare")


def progress_display(bars: Progress) -> Callable[[str, int, int], None]:
    """A `(stage, done, total)` callback drawing one bar per stage."""
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total or None)
        bars.update(tasks[stage], completed=done, total=total or None)

    return update


def bench(
    quick: Annotated[bool, typer.Option("--quick", help=msg.BENCH_QUICK_OPT)] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help=msg.BENCH_OUT_OPT)] = None,
    as_json: Annotated[bool, typer.Option("--json", help=msg.BENCH_JSON_OPT)] = False,
    sizes: Annotated[str | None, typer.Option("--sizes", help=msg.BENCH_SIZES_OPT)] = None,
    eval_dir: Annotated[Path | None, typer.Option("--eval-dir", help=msg.BENCH_EVAL_DIR_OPT)] = None,
    max_queries: Annotated[int | None, typer.Option("--max-queries", min=1, hidden=True,
                                                    help=msg.BENCH_MAX_QUERIES_OPT)] = None,
) -> None:
    try:
        chosen = [int(s) for s in sizes.split(",") if s.strip()] if sizes else None
    except ValueError as exc:
        raise typer.BadParameter(f"--sizes: {exc}") from exc
    compare = load_compare()
    from bench import report

    given = sys.argv[2:] if sys.argv[1:2] == ["bench"] else []
    command = " ".join(["supportbot bench", *given])
    plan = compare.plan_for(quick=quick, sizes=chosen, command=command,
                            eval_dir=eval_dir or compare.EVAL_DIR)
    if max_queries:
        plan = dataclasses.replace(plan, max_queries=max_queries, mode="dry")
    bars = Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False, disable=as_json)
    with bars:
        result = compare.run(plan, progress=progress_display(bars))
    written = report.write(result, out_dir or compare.RESULTS)
    if as_json:
        out.print_json(json.dumps(result))
        return
    headline = Table(title=msg.BENCH_TITLE.format(mode=result["mode"]))
    for column in report.COLUMNS:
        headline.add_column(column)
    for cells in report.table(result):
        headline.add_row(*(c.replace("**", "") for c in cells))
    out.print(headline)
    out.print(report.NOTE.replace("**", ""), markup=False, highlight=False)
    for path in written:
        out.print(msg.BENCH_WROTE.format(path=path), markup=False, highlight=False)
