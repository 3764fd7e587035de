"""The `supportbot` command line: ingest, kb status/rollback, search, ask, chat, report, eval, demo,
teams package."""

from __future__ import annotations

import getpass
import json
import logging
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.app import (
    SAMPLE_HELPCENTRE,
    build_embedder,
    build_engine,
    build_kb,
    build_redis,
    build_store,
    embedded_index_server,
    voice_library,
)
from adapters.console import messages as msg
from adapters.console.bench_cli import bench
from adapters.console.reporting import print_report, report_json
from adapters.console.terminal import err, fail, out
from adapters.console.voice_cli import voice_app
from adapters.redis_client import RedisGuard
from adapters.settings import Settings, load_settings
from bot.conversation import Incoming, SupportBot
from bot.engine import AnswerEngine
from bot.evaluation import evaluate_answers
from bot.llm import BackendUnavailable
from bot.report import build_report
from bot.store import DAY_S, FeedbackKind, ThreadKey, day_of
from bot.types import Answer
from bot.voice import ProfileError
from knowledge.evaluation import DatasetError, load_beir, retrieval_metrics, throwaway_kb
from knowledge.kb import KnowledgeBase
from knowledge.reload import ReloadError, ReloadReport
from knowledge.retrieval import Hit, Scope
from knowledge.store import InvalidKBName
from knowledge.versions import PointerUnreadable

app = typer.Typer(help=msg.APP_HELP, no_args_is_help=True, add_completion=False)
kb_app = typer.Typer(help=msg.KB_HELP, no_args_is_help=True)
app.add_typer(kb_app, name="kb")
teams_app = typer.Typer(help=msg.TEAMS_HELP, no_args_is_help=True)
app.add_typer(teams_app, name="teams")
config_app = typer.Typer(help=msg.CONFIG_HELP, no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(voice_app, name="voice")
app.command("bench", help=msg.BENCH_HELP)(bench)

KbOpt = Annotated[str | None, typer.Option("--kb", help=msg.KB_OPT)]
JsonOpt = Annotated[bool, typer.Option("--json", help=msg.JSON_OPT)]
VoiceOpt = Annotated[str | None, typer.Option("--voice", help=msg.VOICE_OPT)]


def refuse_if_served(settings: Settings) -> None:
    """Writing to an embedded index that a running server has open breaks that server's reads."""
    holder = embedded_index_server(settings)
    if holder:
        raise fail(msg.SERVED_ELSEWHERE.format(holder=holder, data_dir=settings.data_dir))


def open_kb(settings: Settings, name: str | None, redis: RedisGuard | None = None) -> KnowledgeBase:
    try:
        return build_kb(settings, name=name, redis=redis)
    except InvalidKBName as exc:
        raise fail(str(exc), 2) from exc


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Any]:
    """Rich progress bars on stderr, one per stage; yields a `(stage, done, total)` callback."""
    bars = Progress(
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=False, disable=not enabled,
    )
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(msg.STAGES.get(stage, stage), total=total or None)
        bars.update(tasks[stage], completed=done, total=total or None)

    with bars:
        yield update


def run_ingest(kb: KnowledgeBase, path: Path, *, allow_empty: bool, show_progress: bool) -> ReloadReport:
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    with progress_bars(show_progress) as progress:
        seen = 0

        def on_file(_: Path) -> None:
            nonlocal seen
            seen += 1
            progress("read", seen, len(files))

        loaded = kb.load(path, on_file=on_file)
        progress("read", len(files), len(files))
        for s in loaded.skipped:
            err.print(msg.SKIPPED.format(path=s.path, reason=s.reason), markup=False, highlight=False)
        return kb.reload_documents(
            loaded.documents, skipped=loaded.skipped, progress=progress, allow_empty=allow_empty
        )


@app.command(help=msg.INGEST_HELP)
def ingest(
    path: Annotated[Path, typer.Argument(help="Help-centre folder (or a single file).")],
    kb: KbOpt = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Allow replacing the index with an empty one.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    if not path.exists():
        raise fail(msg.PATH_MISSING.format(path=path).removeprefix("error: "), 2)
    settings = load_settings()
    refuse_if_served(settings)
    knowledge = open_kb(settings, kb)
    try:
        report = run_ingest(knowledge, path, allow_empty=allow_empty, show_progress=not as_json)
    except ReloadError as exc:
        raise fail(str(exc)) from exc
    summary = report.summary()
    if as_json:
        payload = {"kb": report.kb, **summary, "skipped_files": [asdict(s) for s in report.skipped],
                   "changes": {"added": report.added, "updated": report.updated, "removed": report.removed}}
        out.print_json(json.dumps(payload))
    else:
        out.print(msg.RELOAD_DONE.format(kb=report.kb, **summary), highlight=False)


@kb_app.command("status", help=msg.STATUS_HELP)
def kb_status(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
    knowledge = open_kb(load_settings(), kb)
    st = knowledge.status()
    if as_json:
        out.print_json(json.dumps(asdict(st)))
        return
    if st.current is None:
        out.print(msg.NOTHING_INDEXED.format(kb=st.kb))
        return
    swapped = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.swapped_at)) if st.swapped_at else "-"
    table = Table(show_header=False, box=None)
    for key, value in (
        ("knowledge base", st.kb), ("backend", st.backend), ("live version", st.current),
        ("previous version", st.previous if st.previous is not None else "-"),
        ("documents", st.documents), ("chunks", st.chunks), ("switched at", swapped),
        ("reload running", st.reload_running or "no"),
    ):
        table.add_row(key, str(value))
    if st.last_reload:
        lr = st.last_reload
        table.add_row("last reload", f"+{lr.get('added')} ~{lr.get('updated')} -{lr.get('removed')} "
                      f"={lr.get('unchanged')} in {lr.get('seconds')}s")
    out.print(table)


@kb_app.command("rollback", help=msg.ROLLBACK_HELP)
def kb_rollback(kb: KbOpt = None) -> None:
    settings = load_settings()
    refuse_if_served(settings)
    knowledge = open_kb(settings, kb)
    try:
        state = knowledge.rollback()
    except ReloadError as exc:
        raise fail(str(exc)) from exc
    out.print(msg.ROLLED_BACK.format(kb=knowledge.name, current=state.current, previous=state.previous))


def hit_json(h: Hit) -> dict[str, Any]:
    return {"doc_id": h.doc_id, "title": h.title, "url": h.url, "score": round(h.score, 4),
            "headings": h.headings, "chunk_id": h.chunk_id, "text": h.text}


def print_hits(hits: list[Hit]) -> None:
    if not hits:
        out.print(msg.NO_RESULTS)
    for n, h in enumerate(hits, 1):
        where = f" > {h.headings}" if h.headings else ""
        out.print(f"[bold][{n}] {h.title}{where}[/bold]  [dim]({h.score:.3f})[/dim]")
        if h.url:
            out.print(f"    {h.url}", highlight=False)
        snippet = " ".join(h.text.split())
        out.print(f"    {snippet[:240]}{'…' if len(snippet) > 240 else ''}", markup=False, highlight=False)


@app.command(help=msg.SEARCH_HELP)
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="How many articles.")] = 5,
    kb: KbOpt = None,
    category: Annotated[list[str] | None, typer.Option(help="Only these categories.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Only articles with one of these tags.")] = None,
    audience: Annotated[list[str] | None, typer.Option(help="Only these audiences.")] = None,
    as_json: JsonOpt = False,
) -> None:
    knowledge = open_kb(load_settings(), kb)
    if knowledge.live() is None:
        raise fail(msg.NOTHING_INDEXED.format(kb=knowledge.name))
    scope = Scope(categories=tuple(category or ()), tags=tuple(tag or ()), audiences=tuple(audience or ()))
    hits = knowledge.search(query, k=k, scope=scope)
    if as_json:
        out.print_json(json.dumps({"query": query, "results": [hit_json(h) for h in hits]}))
    else:
        print_hits(hits)


def open_engine(settings: Settings, knowledge: KnowledgeBase, voice: str | None = None) -> AnswerEngine:
    """The engine, with the embedding model and the live index loaded up front: start-up work that a
    running worker has already done, so the timings printed with each answer are the answer's own.
    ``voice``: the voice profile (else SUPPORTBOT_VOICE); one that cannot be used exits 2."""
    try:
        engine = build_engine(settings, knowledge, voice=voice)
    except BackendUnavailable as exc:
        raise fail(str(exc), 2) from exc
    name = voice if voice is not None else settings.voice
    if name:
        try:
            voice_library(settings).get(name)
        except ProfileError as exc:
            raise fail(str(exc), 2) from exc
    knowledge.embedder.raw_query_embedding("warm-up")
    knowledge.live()
    return engine


def answer_json(a: Answer) -> dict[str, Any]:
    return {
        "answer": a.text, "citations": [asdict(c) for c in a.citations], "confidence": str(a.confidence),
        "abstained": a.abstained, "reason": str(a.reason), "question": a.question, "backend": a.backend,
        "voice": a.voice,
        "timings_ms": a.timings_ms,
    }


def print_answer(a: Answer) -> None:
    out.print(Markdown(a.text))
    if a.citations:
        out.print(msg.SOURCES, style="dim")
        for c in a.citations:
            source = f"  [{c.n}] {c.title}" + (f" — {c.url}" if c.url else "")
            out.print(source, markup=False, highlight=False)
    out.print(msg.ANSWER_META.format(confidence=a.confidence, reason=a.reason,
                                     ms=a.timings_ms.get("total", 0.0)), style="dim")


@app.command(help=msg.ASK_HELP)
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    kb: KbOpt = None,
    voice: VoiceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    settings = load_settings()
    knowledge = open_kb(settings, kb)
    answer = open_engine(settings, knowledge, voice).answer(question, platform="console")
    if as_json:
        out.print_json(json.dumps(answer_json(answer)))
    else:
        print_answer(answer)


RATINGS: dict[str, FeedbackKind] = {"/helpful": "helpful", "/unhelpful": "not_helpful", "/human": "human"}


@app.command(help=msg.CHAT_HELP)
def chat(kb: KbOpt = None, voice: VoiceOpt = None) -> None:
    settings = load_settings()
    redis = build_redis(settings)
    knowledge = open_kb(settings, kb, redis)
    engine = open_engine(settings, knowledge, voice)
    state = build_store(settings, redis)
    bot = SupportBot(engine=engine, store=state.store)
    user = f"{getpass.getuser()}@{socket.gethostname()}"
    out.print(msg.CHAT_BANNER.format(backend=engine.backend, kb=knowledge.name, state=state.where),
              style="dim", highlight=False)
    thread, turn, last_answer = uuid.uuid4().hex, 0, ""
    while True:
        try:
            line = input(msg.CHAT_PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if line in ("/quit", "/exit"):
            return
        if line == "/help":
            out.print(msg.CHAT_COMMANDS, style="dim", highlight=False)
            continue
        if line == "/reset":  # a new thread: the old one's history simply expires
            thread, last_answer = uuid.uuid4().hex, ""
            out.print(msg.CHAT_RESET, style="dim")
            continue
        if line in RATINGS:
            rated = bot.rate(last_answer, RATINGS[line], user).text if last_answer else None
            out.print(rated or msg.CHAT_NOTHING_TO_RATE, style="dim", highlight=False)
            continue
        if not line:
            continue
        turn += 1
        key = ThreadKey("console", user, "terminal", thread)
        reply = bot.handle(Incoming(key, f"{thread}:{turn}", user, line))
        if reply.answer is None:
            out.print(reply.text, highlight=False)
            continue
        print_answer(reply.answer)
        last_answer = reply.answer_id


@app.command(help=msg.REPORT_HELP)
def report(
    days: Annotated[int, typer.Option("--days", min=1, max=400, help="How many days back (UTC).")] = 30,
    top: Annotated[int, typer.Option("--top", min=1, max=100, help="Questions listed per table.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    settings = load_settings()
    redis = build_redis(settings)
    if redis is None:
        raise fail(msg.REPORT_NEEDS_REDIS, 2)
    state = build_store(settings, redis)
    until = time.time()
    since = (day_of(until) - (days - 1)) * DAY_S  # whole UTC days, as the counters are kept
    r = build_report(state.store, since=since, until=until, top=top)
    if not state.store.healthy():
        raise fail(msg.REPORT_REDIS_DOWN.format(where=state.where.removeprefix("Redis ")))
    if as_json:
        out.print_json(json.dumps(report_json(r)))
    else:
        print_report(out, r, where=state.where)


@app.command("eval", help=msg.EVAL_HELP)
def eval_cmd(
    dataset_dir: Annotated[Path, typer.Argument(help="A BEIR-format dataset folder.")],
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "dev",
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Retrieval depth.")] = 10,
    answers: Annotated[bool, typer.Option("--answers", help=msg.ANSWERS_OPT)] = False,
    no_history: Annotated[bool, typer.Option("--no-history", help=msg.NO_HISTORY_OPT)] = False,
    explain: Annotated[bool, typer.Option("--explain", help=msg.EXPLAIN_OPT)] = False,
    as_json: JsonOpt = False,
) -> None:
    answers = answers or explain
    try:
        evalset = load_beir(dataset_dir, split=split)
    except DatasetError as exc:
        raise fail(str(exc), 2) from exc
    settings = load_settings()
    embedder = build_embedder(settings)
    with progress_bars(not as_json) as progress, throwaway_kb(evalset, embedder=embedder,
                                                               progress=progress) as (knowledge, ingest_s):
        result: dict[str, Any] = retrieval_metrics(evalset, knowledge, embedder=embedder, k=k,
                                                   use_history=not no_history, progress=progress)
        result["ingest_docs_per_s"] = round(len(evalset.corpus) / ingest_s, 1) if ingest_s else 0.0
        if answers:
            engine = open_engine(settings, knowledge)
            result.update(evaluate_answers(evalset, engine, use_history=not no_history, explain=explain,
                                           progress=progress))
    if as_json:
        out.print_json(json.dumps(result))
        return
    mistakes = result.pop("mistakes", None)
    table = Table(title=f"{evalset.name} ({split}, {result['n_queries']} queries)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key != "dataset":
            table.add_row(key, "-" if value is None else str(value))
    out.print(table)
    if mistakes is not None:
        print_mistakes(mistakes)


def print_mistakes(mistakes: list[dict[str, Any]]) -> None:
    """`eval --explain`: each wrong decision with the top hits and the coverage features."""
    out.print(msg.MISTAKES_HEADER.format(n=len(mistakes)), markup=False, highlight=False)
    for m in mistakes:
        score = "-" if m["score"] is None else f"{m['score']:.3f}"
        feats = " ".join(f"{k}={v:g}" for k, v in m["features"].items())
        if m["missing_word"]:
            feats += f" (lacks {m['missing_word']!r})"
        out.print(f"\n{m['qid']} {m['kind']}: {m['question']!r}  score={score}  {feats}",
                  markup=False, highlight=False)
        if m["searched"] != m["question"]:
            out.print(f"   searched as: {m['searched']!r}", markup=False, highlight=False)
        out.print(f"   gold: {', '.join(m['gold']) or '(none: unanswerable)'}", markup=False, highlight=False)
        for h in m["top_hits"]:
            mark = "*" if h["gold"] else " "
            out.print(f"   {mark} {h['score']:.3f} dense={h['dense']:.3f} {h['doc_id']}  {h['title']}",
                      markup=False, highlight=False)


@app.command(help=msg.SERVE_HELP)
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 3000,
    slack_socket_mode: Annotated[bool, typer.Option(
        "--slack-socket-mode", help="Connect to Slack through Socket Mode (SLACK_APP_TOKEN) instead of "
        "receiving requests at /slack/events: for workspaces without a public URL.")] = False,
) -> None:
    from adapters.logs import configure
    from adapters.server.serve import run

    settings = load_settings()
    configure(settings.log_format, logging.INFO)
    code = run(settings, host=host, port=port, socket_mode=slack_socket_mode)
    if code:
        raise typer.Exit(code)


@config_app.command("check", help=msg.CONFIG_CHECK_HELP)
def config_check(as_json: JsonOpt = False) -> None:
    from adapters.config_check import masked, problems

    settings = load_settings()
    effective, found = masked(settings), problems(settings)
    if as_json:
        out.print_json(json.dumps({"settings": effective, "problems": found}))
    else:
        table = Table(show_header=False, box=None)
        for key, value in effective.items():
            table.add_row(key, "-" if value is None else str(value))
        out.print(table)
        for line in found:
            err.print(msg.ERROR.format(message=line), markup=False, highlight=False)
        if not found:
            out.print(msg.CONFIG_OK)
    if found:
        raise typer.Exit(1)


@app.command(help=msg.DEMO_HELP)
def demo() -> None:
    settings = load_settings()
    knowledge = open_kb(settings, None)
    report = run_ingest(knowledge, SAMPLE_HELPCENTRE, allow_empty=False, show_progress=True)
    out.print(msg.RELOAD_DONE.format(kb=report.kb, **report.summary()), highlight=False)
    engine = open_engine(settings, knowledge)
    for question in msg.DEMO_QUESTIONS:
        out.rule(question)
        print_answer(engine.answer(question))


@teams_app.command("package", help=msg.TEAMS_PACKAGE_HELP)
def teams_package(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the package.")] = Path(
        "supportbot-teams.zip"),
) -> None:
    from adapters.teams.package import ManifestError, build_package

    app_id = getattr(load_settings(), "teams_app_id", None)
    if not app_id:
        raise fail(msg.TEAMS_APP_ID_MISSING, 2)
    try:
        written = build_package(app_id, out=out_file)
    except ManifestError as exc:
        raise fail(str(exc)) from exc
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    except OSError as exc:
        raise fail(f"could not write {out_file}: {exc.strerror or exc}") from exc
    out.print(msg.TEAMS_PACKAGE_WROTE.format(path=written), markup=False, highlight=False)


def configure_logging() -> None:
    """Warnings and errors on stderr, in the format the settings ask for (text unless told json)."""
    from adapters.logs import configure

    try:
        fmt = load_settings().log_format
    except Exception:  # a bad setting is reported by the command itself
        fmt = "text"
    configure(fmt, logging.WARNING)


def main() -> None:
    configure_logging()
    try:
        app()
    except PointerUnreadable as exc:
        err.print(msg.ERROR.format(message=str(exc)), markup=False, highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
