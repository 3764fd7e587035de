"""`supportbot serve`: start-up checks, one knowledge base and engine per process, warm-up, then the
HTTP server (or Slack's Socket Mode) until SIGTERM / SIGINT.

Measured on the 2-core machine (issue 9) and acted on here: torch gets one intra-op thread and a
passive OpenMP wait policy (a query embedding took 474–503 ms under default settings on a busy machine,
11–14 ms with these); after warm-up ``gc.freeze()`` moves the libraries' ~550k objects out of the
collector's reach (a full collection held the event loop, and every ack, for 265–400 ms).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from adapters.app import (
    build_engine,
    build_kb,
    build_redis,
    build_store,
    holding_embedded_index,
    voice_library,
)
from adapters.redis_client import RedisGuard
from adapters.redis_versions import RedisPointer
from adapters.server.leases import Leases, Resumer
from adapters.server.metrics import Metrics
from adapters.server.pool import AnswerPool, default_workers
from adapters.server.watch import IndexWatcher
from adapters.server.web import SlackRoute, build_web_app
from adapters.settings import Settings
from bot.conversation import SupportBot
from bot.policy import Policies, PolicyError, load_policies
from bot.voice import ProfileError
from knowledge.kb import KnowledgeBase

log = logging.getLogger("supportbot.serve")

NO_PLATFORM = (
    "no chat platform is configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_BOT_TOKEN "
    "and SLACK_APP_TOKEN with --slack-socket-mode) for Slack, TEAMS_APP_ID and TEAMS_APP_PASSWORD for "
    "Teams, in the environment or .env"
)
NO_AUTH_WARNING = (
    "Teams is served with Bot Framework authentication OFF (SUPPORTBOT_TEAMS_DEV_NO_AUTH=1): anyone who "
    "can reach /api/messages can talk to the bot. Development only: set TEAMS_APP_ID in production."
)
WARM_UP_QUESTION = "How do I get started?"


class StartupError(RuntimeError):
    """A setting or file that stops `serve` before it starts; the message says what to fix."""


@dataclass(frozen=True)
class Plan:
    """What `serve` will run, decided from the settings before anything heavy is loaded."""

    slack_http: bool
    slack_socket: bool
    teams: bool
    teams_auth: bool  # False only when SUPPORTBOT_TEAMS_DEV_NO_AUTH=1 was set explicitly
    policies: Policies
    workers: int

    @property
    def slack(self) -> bool:
        return self.slack_http or self.slack_socket

    @property
    def platforms(self) -> list[str]:
        return [name for name, on in (("slack", self.slack), ("teams", self.teams)) if on]


def plan(settings: Settings, *, socket_mode: bool) -> Plan:
    """Check the settings: a platform to serve and a valid channel policy file, or StartupError."""
    token, secret = settings.slack_bot_token, settings.slack_signing_secret
    app_token = settings.slack_app_token
    if socket_mode and token and not app_token:
        raise StartupError(
            "--slack-socket-mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)")
    slack_socket = bool(socket_mode and token and app_token)
    slack_http = bool(not socket_mode and token and secret)
    teams = bool(settings.teams_app_id or settings.teams_dev_no_auth)
    if settings.teams_app_id and not settings.teams_app_password and not settings.teams_dev_no_auth:
        raise StartupError("TEAMS_APP_ID is set without TEAMS_APP_PASSWORD (the app registration's client "
                           "secret): the bot could not reply")
    if not (slack_http or slack_socket or teams):
        raise StartupError(NO_PLATFORM)
    try:
        policies = load_policies(settings.channels_file)
    except PolicyError as exc:
        raise StartupError(str(exc)) from exc
    check_voices(settings, policies)
    return Plan(slack_http=slack_http, slack_socket=slack_socket, teams=teams,
                teams_auth=bool(settings.teams_app_id), policies=policies,
                workers=settings.workers or default_workers(settings.llm))


def check_voices(settings: Settings, policies: Policies) -> None:
    """Every voice profile the settings and the channel policy name must load, or StartupError."""
    named = {policies.default.voice: "the channel policy", **{c.voice: "the channel policy"
                                                            for c in policies.channels.values()}}
    named[settings.voice] = "SUPPORTBOT_VOICE"
    library = voice_library(settings)
    for name, where in sorted(named.items()):
        if name:
            try:
                library.get(name)
            except ProfileError as exc:
                raise StartupError(f"voice profile {name!r}, named by {where}, cannot be used: "
                                   f"{exc}") from exc


def tune_threads() -> dict[str, Any]:
    """One torch thread and one BLAS thread per worker, and a passive OpenMP wait; scale with processes.

    The BLAS limit is set through threadpoolctl because numpy (and its OpenBLAS pool) is already loaded
    when this runs, so OPENBLAS_NUM_THREADS would come too late: left alone, OpenBLAS keeps a second,
    spinning thread per worker, one worker keeps ~1.85 of 2 cores busy and a second worker adds nothing
    (bench/scale_out.py: two workers 0.93x one; with one BLAS thread 1.98x)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1, user_api="blas")
    blas = sorted({int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"})
    return {"torch_threads": torch.get_num_threads(), "blas_threads": blas,
            "omp_wait_policy": os.environ["OMP_WAIT_POLICY"]}


def freeze_heap() -> float:
    """Collect once, then freeze what survives: later collections skip it. Returns milliseconds."""
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    return (time.perf_counter() - t0) * 1000


def check_health(kb: KnowledgeBase, redis: RedisGuard | None, backend: str, p: Plan) -> dict[str, Any]:
    """Each part's state, probed now (a blocking call: run it off the event loop). ``ok`` is False when a
    required part is down: Redis (when configured), Chroma, or no index to answer from."""
    doc: dict[str, Any] = {"backend": backend, "platforms": p.platforms}
    if p.teams:
        doc["teams_auth"] = "on" if p.teams_auth else "OFF (development only)"
    redis_ok = True
    if redis is not None:
        redis_ok = redis.call("health ping", lambda: bool(redis.client.ping()), False)
        doc["redis"] = "up" if redis_ok else "down"
    try:
        kb.store.client.heartbeat()
        doc["chroma"] = "up"
        live = kb.live()
        doc["index_version"] = live.version if live else None
        doc["chunks"] = live.size if live else 0
    except Exception as exc:  # the Chroma server unreachable, its directory unreadable
        doc.update(chroma=f"down ({type(exc).__name__})", index_version=None, chunks=0)
    doc["ok"] = redis_ok and doc["chroma"] == "up" and doc["index_version"] is not None
    return doc


class Server:
    """Everything one `serve` process holds; ``start`` / ``stop`` are also used by tests and benches."""

    def __init__(self, settings: Settings, p: Plan, *, host: str, port: int) -> None:
        self.settings, self.plan, self.host, self.port = settings, p, host, port
        self.runner: web.AppRunner | None = None
        self.socket_handler: Any = None
        self.surface: Any = None
        self.pool: AnswerPool | None = None
        self.session: aiohttp.ClientSession | None = None
        self.teams_handler: Any = None
        self.metrics: Metrics | None = None
        self.watcher: IndexWatcher | None = None
        self.leases: Leases | None = None

    async def start(self) -> None:
        settings, p = self.settings, self.plan
        threads = tune_threads()
        t0 = time.perf_counter()
        redis = build_redis(settings)
        kb = build_kb(settings, redis=redis)
        engine = build_engine(settings, kb, answer_threads=p.workers)
        choice = build_store(settings, redis)
        self.metrics = metrics = Metrics()
        bot = SupportBot(engine=engine, store=choice.store, observer=metrics, lease_s=settings.answer_lease_s)
        self.leases = leases = Leases(bot)
        await asyncio.get_running_loop().run_in_executor(None, engine.answer, WARM_UP_QUESTION)
        frozen_ms = freeze_heap()
        log.info("warm in %.1f s (index version %s, state in %s, %s, gc.freeze %.0f ms)",
                 time.perf_counter() - t0, kb.pointer.read().current, choice.where, threads, frozen_ms)
        if settings.redis_url and isinstance(kb.pointer, RedisPointer):
            self.watcher = IndexWatcher(kb, url=settings.redis_url, channel=kb.pointer.channel).start()
        self.pool = pool = AnswerPool(workers=p.workers, max_pending=settings.max_pending)
        log.info("answering with %d worker threads, at most %d waiting", p.workers, settings.max_pending)

        slack_app, route = None, None
        if p.slack:
            from adapters.slack.app import SlackDeps, build_slack_app

            token, secret = settings.slack_bot_token or "", settings.slack_signing_secret or ""
            deps = SlackDeps(bot=bot, kb=kb, pool=pool, leases=leases, policies=p.policies,
                             admins=settings.slack_admins,
                             helpcentre_dir=settings.helpcentre_dir,
                             working_signal_after_s=settings.working_signal_after_s,
                             on_reload=metrics.reloaded)
            self.session = aiohttp.ClientSession()
            slack_app, self.surface = build_slack_app(
                deps, token=token, signing_secret=secret or "socket-mode", api_url=settings.slack_api_url,
                session=self.session)
            route = SlackRoute(slack_app, secret) if p.slack_http else None
        teams_route = self._teams_route(bot, kb, pool, leases, metrics) if p.teams else None
        resumers: dict[str, Resumer] = {}
        if slack_app is not None:
            resumers["slack"] = functools.partial(self.surface.conversations.resume, slack_app.client)
        if self.teams_handler is not None:
            resumers["teams"] = self.teams_handler.resume
        leases.start(resumers)

        metrics.gauge("supportbot_answers_pending", "Questions running or waiting in the answer pool.",
                      lambda: pool.pending)
        if redis is not None:
            metrics.gauge("supportbot_redis_degraded_calls",
                          "Redis calls that degraded (Redis down or slow).", lambda: redis.degraded_calls)

        async def health() -> tuple[int, dict[str, Any]]:
            doc = await asyncio.get_running_loop().run_in_executor(
                None, lambda: check_health(kb, redis, settings.llm, p))
            doc.update(answers_pending=pool.pending, workers=pool.workers)
            return (200 if doc["ok"] else 503), doc

        app = build_web_app(slack=route, teams=teams_route, health=health, metrics_=metrics)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        if p.slack_socket and slack_app is not None:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            self.socket_handler = AsyncSocketModeHandler(slack_app, settings.slack_app_token)
            await self.socket_handler.connect_async()
        base = f"http://{self.host}:{self.port}"
        served = []
        if p.slack:
            served.append("Slack via " + ("Socket Mode" if p.slack_socket else f"POST {base}/slack/events"))
        if p.teams:
            served.append(f"Teams via POST {base}/api/messages")
        log.info("supportbot is serving: %s; health at %s/healthz", "; ".join(served), base)

    def _teams_route(self, bot: SupportBot, kb: Any, pool: AnswerPool, leases: Leases,
                     metrics: Metrics) -> Any:
        from adapters.teams.botframework import BotFrameworkTransport
        from adapters.teams.handler import TeamsDeps, TeamsHandler
        from adapters.teams.route import TeamsRoute

        settings = self.settings
        if not self.plan.teams_auth:
            log.warning(NO_AUTH_WARNING)
        transport = BotFrameworkTransport(
            app_id=settings.teams_app_id or "", app_password=settings.teams_app_password or "",
            tenant_id=settings.teams_app_tenant_id, no_auth=not self.plan.teams_auth,
            openid_metadata_url=settings.teams_openid_metadata_url)
        deps = TeamsDeps(bot=bot, pool=pool, leases=leases, kb=kb, policies=self.plan.policies,
                         admins=settings.teams_admins,
                         helpcentre_dir=settings.helpcentre_dir,
                         inline_budget_s=settings.teams_inline_budget_s, on_reload=metrics.reloaded)
        self.teams_handler = TeamsHandler(deps, transport)
        return TeamsRoute(transport, self.teams_handler)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop taking requests, give answers in flight ``grace_s`` to be posted, then close."""
        if self.socket_handler is not None:
            await self.socket_handler.close_async()
        if self.runner is not None:
            await self.runner.cleanup()
        daemons = self.leases.daemons if self.leases is not None else set()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and t not in daemons]
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        if self.leases is not None:
            await self.leases.stop()  # answers not posted in time: another worker takes them now
        if self.watcher is not None:
            self.watcher.stop()
        if self.session is not None:
            await self.session.close()
        if self.surface is not None:
            self.surface.shutdown()
        if self.teams_handler is not None:
            self.teams_handler.shutdown()
        if self.pool is not None:
            self.pool.shutdown()


async def serve_forever(server: Server, stop_event: asyncio.Event | None = None) -> None:
    stop_event = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_event.set)
    with holding_embedded_index(server.settings):
        await server.start()
        await stop_event.wait()
        log.info("stopping: no new requests; up to %.0f s for answers in flight",
                 server.settings.shutdown_grace_s)
        await server.stop(server.settings.shutdown_grace_s)
        log.info("stopped")


def run(settings: Settings, *, host: str, port: int, socket_mode: bool,
        echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> int:
    """The `serve` command: 0 after a clean stop, 2 when the settings or policy file are wrong."""
    try:
        p = plan(settings, socket_mode=socket_mode)
    except StartupError as exc:
        echo(f"error: {exc}")
        return 2
    asyncio.run(serve_forever(Server(settings, p, host=host, port=port)))
    return 0
