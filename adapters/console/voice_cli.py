"""`supportbot voice ...`: the support lead's tools for the brand voice (profiles and the linter)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from adapters.app import adapter_store, voice_library
from adapters.console import messages as msg
from adapters.console.terminal import err, fail, out
from adapters.settings import Settings, load_settings
from bot.voice import ProfileError, VoiceLibrary, VoiceProfile
from bot.voice.dataset import DATA_DIR, DatasetError, Pair, hygiene, load_pairs
from bot.voice.evaluate import System, rules_system, score
from bot.voice.lint import lint
from bot.voice.lora import AdapterError, AdapterVersion, DecodingStats
from bot.voice.profile import PLATFORMS

voice_app = typer.Typer(help=msg.VOICE_HELP, no_args_is_help=True)

ProfileOpt = Annotated[str | None, typer.Option("--profile", help=msg.VOICE_PROFILE_OPT)]
PlatformOpt = Annotated[str, typer.Option("--platform", help=msg.VOICE_PLATFORM_OPT)]
JsonOpt = Annotated[bool, typer.Option("--json", help=msg.JSON_OPT)]


def load(library: VoiceLibrary, name: str | None, default: str) -> VoiceProfile:
    """The named profile, else SUPPORTBOT_VOICE, else the only one there is."""
    chosen = name or default or (library.names()[0] if len(library.names()) == 1 else "")
    if not chosen:
        raise fail(msg.VOICE_WHICH.format(names=", ".join(library.names()) or "none"), 2)
    try:
        return library.get(chosen)
    except ProfileError as exc:
        raise fail(str(exc), 2) from exc


@voice_app.command("lint", help=msg.VOICE_LINT_HELP)
def voice_lint(
    reply: Annotated[str, typer.Argument(help="The reply text, or a file holding it ('-': stdin).")],
    profile: ProfileOpt = None,
    platform: PlatformOpt = "slack",
    as_json: JsonOpt = False,
) -> None:
    if platform not in PLATFORMS:
        raise fail(msg.VOICE_BAD_PLATFORM.format(platform=platform, platforms=", ".join(PLATFORMS)), 2)
    settings = load_settings()
    chosen = load(voice_library(settings), profile, settings.voice)
    if reply == "-":
        text = typer.get_text_stream("stdin").read()
    elif len(reply) < 4096 and "\n" not in reply and Path(reply).is_file():
        text = Path(reply).read_text(encoding="utf-8")
    else:
        text = reply
    report = lint(text, chosen, platform)
    if as_json:
        out.print_json(json.dumps({
            "profile": report.profile, "platform": report.platform, "score": round(report.score, 3),
            "rules": [{"rule": r.rule, "passed": r.passed, "detail": r.detail} for r in report.rules]}))
    else:
        table = Table(title=msg.VOICE_LINT_TITLE.format(profile=chosen.name, platform=platform,
                                                        score=report.score))
        for col in ("rule", "", "detail"):
            table.add_column(col)
        for r in report.rules:
            table.add_row(r.rule, "[green]pass[/]" if r.passed else "[red]fail[/]", r.detail)
        out.print(table)
    raise typer.Exit(0 if report.score == 1.0 else 1)


@voice_app.command("profiles", help=msg.VOICE_PROFILES_HELP)
def voice_profiles(as_json: JsonOpt = False) -> None:
    settings = load_settings()
    library = voice_library(settings)
    rows = []
    for name in library.names():
        try:
            p = library.get(name)
            rows.append({"name": name, "ok": True, "brand": p.brand, "assistant": p.assistant_name,
                         "problem": "", "default": name == settings.voice})
        except ProfileError as exc:
            rows.append({"name": name, "ok": False, "brand": "", "assistant": "", "problem": str(exc),
                         "default": name == settings.voice})
    if as_json:
        out.print_json(json.dumps({"folder": str(library.folder), "profiles": rows}))
    else:
        out.print(msg.VOICE_FOLDER.format(folder=library.folder), highlight=False)
        for r in rows:
            mark = " (default)" if r["default"] else ""
            line = f"  {r['name']}{mark}: {r['brand']}, {r['assistant']}" if r["ok"] else \
                f"  {r['name']}{mark}: [red]broken[/] {r['problem']}"
            out.print(line, highlight=False)
    if not all(r["ok"] for r in rows):
        raise typer.Exit(1)


# -- the voice adapter ------------------------------------------------------------------------------------

def model_cache(settings: Settings) -> Path:
    return settings.data_dir / "models"


def _pairs(path: Path) -> list[Pair]:
    try:
        return load_pairs(path)
    except DatasetError as exc:
        raise fail(str(exc), 2) from exc


@voice_app.command("train", help=msg.VOICE_TRAIN_HELP)
def voice_train(
    examples: Annotated[Path, typer.Argument(help="Training pairs, JSON Lines: {\"input\", \"output\"}.")],
    heldout: Annotated[Path | None, typer.Option("--heldout", help=msg.VOICE_HELDOUT_OPT)] = None,
    profile: ProfileOpt = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=20)] = 3,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help=msg.VOICE_STEPS_OPT)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    activate: Annotated[bool, typer.Option("--activate/--no-activate", help=msg.VOICE_ACTIVATE_OPT)] = False,
) -> None:
    settings = load_settings()
    chosen = load(voice_library(settings), profile, settings.voice)
    train_pairs = _pairs(examples)
    held = _pairs(heldout) if heldout is not None else []
    problems = hygiene(train_pairs, held, chosen)
    if problems:
        table = Table(title=msg.VOICE_DIRTY.format(n=len(problems)))
        for col in ("problem", "examples", "detail"):
            table.add_column(col)
        for p in problems[:50]:
            table.add_row(p.kind, ", ".join(p.ids), p.detail)
        err.print(table)
        raise fail(msg.VOICE_REFUSED.format(n=len(problems), file=examples))
    store = adapter_store(settings)
    folder = store.next_dir(chosen.name)
    out.print(msg.VOICE_TRAINING.format(n=len(train_pairs), profile=chosen.name, version=folder.name),
              highlight=False)
    from bot.voice.lora import TrainSettings, train

    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=err) as bar:
            task = bar.add_task("training", total=None)

            def step(done: int, total: int, loss: float) -> None:
                bar.update(task, completed=done, total=total, description=f"training (loss {loss:.3f})")
                if not err.is_terminal and (done % 10 == 0 or done == total):  # a log, not a live bar
                    err.print(msg.VOICE_STEP.format(done=done, total=total, loss=loss), highlight=False)

            result = train(train_pairs, chosen, cache_dir=model_cache(settings), out_dir=folder,
                           settings=TrainSettings(epochs=epochs, max_steps=max_steps, seed=seed),
                           heldout=len(held), progress=step)
    except BaseException:
        store.remove_unfinished(folder)
        raise
    loss = result.meta["loss"]
    out.print(msg.VOICE_TRAINED.format(version=result.version, steps=len(result.losses), first=loss["first"],
                                       last=loss["last"], seconds=result.seconds, path=result.path),
              highlight=False)
    if activate:
        store.activate(chosen.name, result.version)
        out.print(msg.VOICE_ACTIVATED.format(profile=chosen.name, version=result.version), highlight=False)


@voice_app.command("list", help=msg.VOICE_LIST_HELP)
def voice_list(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    settings = load_settings()
    chosen = load(voice_library(settings), profile, settings.voice)
    store = adapter_store(settings)
    active = store.active(chosen.name)
    rows: list[dict[str, Any]] = [
        {"version": v.version, "active": active is not None and v.version == active.version,
             "shipped": v.shipped, "created": v.meta.get("created"), "dataset": v.meta.get("dataset"),
             "loss": v.meta.get("loss"), "eval": v.meta.get("eval"), "path": str(v.path)}
            for v in store.versions(chosen.name)]
    if as_json:
        out.print_json(json.dumps({"profile": chosen.name, "versions": rows}))
        return
    if not rows:
        out.print(msg.VOICE_NO_ADAPTERS.format(profile=chosen.name), highlight=False)
        return
    table = Table(title=msg.VOICE_LIST_TITLE.format(profile=chosen.name))
    for col in ("version", "", "created", "examples", "loss", "adapter style / facts"):
        table.add_column(col)
    for r in rows:
        adapter = (r["eval"] or {}).get("adapter") or {}
        scores = f"{adapter['style_score']:.2f} / {adapter['fact_preservation']:.2f}" if adapter else "-"
        loss = r["loss"] or {}
        table.add_row(r["version"], "active" if r["active"] else ("shipped" if r["shipped"] else ""),
                      str(r["created"] or "-"), str((r["dataset"] or {}).get("train", "-")),
                      f"{loss.get('first')} -> {loss.get('last')}", scores)
    out.print(table)


@voice_app.command("activate", help=msg.VOICE_ACTIVATE_HELP)
def voice_activate(version: Annotated[str, typer.Argument(help="A version from `voice list`, e.g. v1.")],
                   profile: ProfileOpt = None) -> None:
    settings = load_settings()
    chosen = load(voice_library(settings), profile, settings.voice)
    try:
        adapter_store(settings).activate(chosen.name, version)
    except AdapterError as exc:
        raise fail(str(exc)) from exc
    out.print(msg.VOICE_ACTIVATED.format(profile=chosen.name, version=version), highlight=False)


@voice_app.command("rollback", help=msg.VOICE_ROLLBACK_HELP)
def voice_rollback(profile: ProfileOpt = None) -> None:
    settings = load_settings()
    chosen = load(voice_library(settings), profile, settings.voice)
    try:
        now = adapter_store(settings).rollback(chosen.name)
    except AdapterError as exc:
        raise fail(str(exc)) from exc
    version = now.version if now else "none (rules only)"
    out.print(msg.VOICE_ACTIVATED.format(profile=chosen.name, version=version), highlight=False)


@voice_app.command("eval", help=msg.VOICE_EVAL_HELP)
def voice_eval(
    heldout: Annotated[Path | None, typer.Option("--heldout", help=msg.VOICE_HELDOUT_OPT)] = None,
    profile: ProfileOpt = None,
    systems: Annotated[str, typer.Option("--systems", help=msg.VOICE_SYSTEMS_OPT)] = "rules,base,adapter",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help=msg.VOICE_LIMIT_OPT)] = None,
    outputs: Annotated[Path | None, typer.Option("--outputs", help=msg.VOICE_OUTPUTS_OPT)] = None,
    as_json: JsonOpt = False,
) -> None:
    settings = load_settings()
    chosen = load(voice_library(settings), profile, settings.voice)
    path = heldout or DATA_DIR / f"{chosen.name}-heldout.jsonl"
    if not path.is_file():
        raise fail(msg.VOICE_NO_HELDOUT.format(path=path), 2)
    pairs = _pairs(path)[:limit]
    wanted = [s.strip() for s in systems.split(",") if s.strip()]
    unknown = sorted(set(wanted) - {"rules", "base", "adapter"})
    if unknown:
        raise fail(msg.VOICE_BAD_SYSTEM.format(system=unknown[0]), 2)
    store = adapter_store(settings)
    active = store.active(chosen.name)
    if "adapter" in wanted and active is None:
        raise fail(msg.VOICE_NO_ACTIVE.format(profile=chosen.name), 2)
    results: dict[str, dict[str, float | int]] = {}
    for name in wanted:
        rows: list[dict[str, object]] = []
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=err) as bar:
            task = bar.add_task(msg.VOICE_EVALUATING.format(system=name, n=len(pairs)), total=len(pairs))
            system, stats = _system(name, chosen, settings, active)
            results[name] = score(system, pairs, chosen, rows=rows,
                                  progress=partial(_advance, bar, task)).as_dict()
        if stats is not None and stats.replies:  # how often the decoding had to step in
            results[name]["kept_from_ending"] = round(stats.kept_from_ending / stats.replies, 3)
            results[name]["copied"] = round(stats.copied / stats.replies, 3)
        if outputs is not None:
            outputs.mkdir(parents=True, exist_ok=True)
            (outputs / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                           for r in rows), encoding="utf-8")
    if active is not None and "adapter" in results and not active.shipped:
        from bot.voice.lora import write_meta

        write_meta(active.path, {**active.meta, "eval": {**results, "heldout": str(path)}})
    if as_json:
        out.print_json(json.dumps(results))
        return
    table = Table(title=msg.VOICE_EVAL_TITLE.format(profile=chosen.name, n=len(pairs)))
    for col in ("system", "style_score", "fact_preservation", "guard_pass", "s / reply", "copied"):
        table.add_column(col)
    for name, r in results.items():
        table.add_row(name, *(f"{r[k]:.3f}" for k in ("style_score", "fact_preservation", "guard_pass")),
                      f"{r['seconds_per_reply']:.2f}", f"{r['copied']:.2f}" if "copied" in r else "")
    out.print(table)


# The evaluation measures the model, not the machine: a reply is not cut at the answer path's 20 s on a
# busy machine (the token budget still bounds it).
EVAL_MAX_TIME_S = 300.0


def _advance(bar: Progress, task: TaskID, done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


def _system(name: str, profile: VoiceProfile, settings: Settings,
            active: AdapterVersion | None) -> tuple[System, DecodingStats | None]:
    if name == "rules":
        return rules_system(profile), None
    from bot.voice.lora import LoraStylist, base_system

    if name == "base":
        stats = DecodingStats()
        return base_system(profile, model_cache(settings), max_time_s=EVAL_MAX_TIME_S, stats=stats), stats
    assert active is not None
    stylist = LoraStylist(active.path, cache_dir=model_cache(settings), max_time_s=EVAL_MAX_TIME_S)

    def reply(text: str, question: str = "") -> str:
        return stylist.restyle(text, profile, question=question)

    return reply, stylist.stats
