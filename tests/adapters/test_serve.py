"""`supportbot serve` start-up checks and the bounded answer pool."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adapters.redis_client import RedisGuard, connect
from adapters.server.pool import AnswerPool, PoolFull, default_workers
from adapters.server.serve import NO_PLATFORM, StartupError, check_health, plan
from adapters.server.web import valid_signature
from adapters.settings import Settings
from knowledge.kb import KnowledgeBase
from tests.conftest import REDIS_URL, free_port
from tests.fakes.slack_api import sign


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


def test_serve_without_a_platform_exits_2_with_one_line_naming_the_settings(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    exe = Path(sys.executable).parent / "supportbot"
    proc = subprocess.run([str(exe), "serve"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {NO_PLATFORM}"]
    assert "SLACK_BOT_TOKEN" in proc.stderr and "SLACK_SIGNING_SECRET" in proc.stderr


def test_a_bad_channel_policy_stops_serve_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "channels.yml"
    bad.write_text("channels:\n  C0BILLING:\n    respond: sometimes\n", encoding="utf-8")
    with pytest.raises(StartupError, match="channels.C0BILLING.respond"):
        plan(settings(slack_bot_token="xoxb-1", slack_signing_secret="s", channels_file=bad), socket_mode=False)


def test_socket_mode_needs_the_app_token_and_http_the_signing_secret() -> None:
    with pytest.raises(StartupError, match="SLACK_APP_TOKEN"):
        plan(settings(slack_bot_token="xoxb-1", slack_signing_secret="s"), socket_mode=True)
    with pytest.raises(StartupError, match="no chat platform"):
        plan(settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1"), socket_mode=False)
    p = plan(settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1"), socket_mode=True)
    assert p.slack_socket and not p.slack_http and p.workers == default_workers("extractive") == 1
    assert plan(settings(slack_bot_token="x", slack_signing_secret="s", workers=3), socket_mode=False).workers == 3
    assert plan(settings(slack_bot_token="x", slack_signing_secret="s", llm="openai"), socket_mode=False).workers == 8


def test_the_pool_says_full_at_once_instead_of_queueing_without_bound() -> None:
    release = threading.Event()
    pool = AnswerPool(workers=1, max_pending=2)

    async def main() -> tuple[list[object], int]:
        running = [asyncio.ensure_future(pool.run(release.wait, 10)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(PoolFull):
            await pool.run(lambda: None)
        pending = pool.pending
        release.set()
        return list(await asyncio.gather(*running)), pending

    results, pending = asyncio.run(main())
    pool.shutdown()
    assert results == [True, True] and pending == 2 and pool.pending == 0


def test_signatures_are_checked_on_the_raw_bytes_within_five_minutes() -> None:
    body = b"\xff not utf-8"
    headers = {"X-Slack-Request-Timestamp": "1000", "X-Slack-Signature": sign("s3cret", body, 1000)}
    assert valid_signature("s3cret", body, headers, now=1000 + 299)
    assert not valid_signature("s3cret", body, headers, now=1000 + 301)
    assert not valid_signature("other", body, headers, now=1000)
    assert not valid_signature("s3cret", body + b"x", headers, now=1000)
    assert not valid_signature("s3cret", body, {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"},
                               now=1000)


def test_teams_is_on_with_an_app_id_or_an_explicit_development_flag_only() -> None:
    p = plan(settings(teams_app_id="11111111-2222-3333-4444-555555555555", teams_app_password="pw"),
             socket_mode=False)
    assert p.teams and p.teams_auth and not p.slack_http
    dev = plan(settings(teams_dev_no_auth=True), socket_mode=False)
    assert dev.teams and not dev.teams_auth
    with pytest.raises(StartupError, match="TEAMS_APP_PASSWORD"):
        plan(settings(teams_app_id="11111111-2222-3333-4444-555555555555"), socket_mode=False)
    with pytest.raises(StartupError, match="TEAMS_APP_ID"):
        plan(settings(), socket_mode=False)  # the one line names Teams' settings too


def test_the_transport_refuses_an_empty_app_id_without_the_development_flag() -> None:
    from adapters.teams.botframework import BotFrameworkTransport

    with pytest.raises(ValueError, match="SUPPORTBOT_TEAMS_DEV_NO_AUTH"):
        BotFrameworkTransport(app_id="")
    assert BotFrameworkTransport(app_id="", no_auth=True).no_auth
    assert not BotFrameworkTransport(app_id="11111111-2222-3333-4444-555555555555", app_password="pw").no_auth


def test_health_is_not_ok_without_an_index_or_with_redis_down(
    kb: KnowledgeBase, kb_empty: KnowledgeBase, helpcentre: Path
) -> None:
    kb.reload(helpcentre)
    p = plan(settings(teams_dev_no_auth=True), socket_mode=False)
    up = RedisGuard(connect(REDIS_URL))
    down = RedisGuard(connect(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2))
    good = check_health(kb, up, "extractive", p)
    assert good["ok"] and good["redis"] == "up" and good["chroma"] == "up" and good["index_version"] == 1
    assert good["chunks"] > 0 and good["teams_auth"] == "OFF (development only)"
    assert check_health(kb_empty, up, "extractive", p)["ok"] is False  # nothing to answer from
    no_redis = check_health(kb, down, "extractive", p)
    assert no_redis["ok"] is False and no_redis["redis"] == "down"
    assert check_health(kb, None, "extractive", p)["ok"]  # no REDIS_URL: not required


def test_a_server_mark_on_the_embedded_index_goes_with_its_process(tmp_path: Path) -> None:
    import json as _json

    from adapters.app import embedded_index_server, holding_embedded_index

    cfg = settings(data_dir=tmp_path)
    assert embedded_index_server(cfg) is None
    with holding_embedded_index(cfg):
        holder = embedded_index_server(cfg)
        assert holder is not None and holder.startswith(f"pid {os.getpid()} on ")
    assert embedded_index_server(cfg) is None
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / "servers" / "stale.json"
    stale.write_text(_json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}), encoding="utf-8")
    assert embedded_index_server(cfg) is None and not stale.exists()  # a dead server's mark is cleared
    assert embedded_index_server(settings(data_dir=tmp_path, chroma_host="chroma.internal")) is None


def test_a_voice_profile_that_cannot_be_used_stops_serve(tmp_path: Path) -> None:
    policy = tmp_path / "channels.yml"
    policy.write_text("channels:\n  C0VOICE:\n    voice: cadense\n", encoding="utf-8")
    base = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    with pytest.raises(StartupError, match=r"voice profile 'cadense', named by the channel policy.*there: cadence"):
        plan(settings(channels_file=policy, **base), socket_mode=False)
    broken = tmp_path / "voices"
    broken.mkdir()
    (broken / "acme.yml").write_text("brand: Acme\n", encoding="utf-8")
    with pytest.raises(StartupError, match=r"'acme', named by SUPPORTBOT_VOICE.*assistant_name: is required"):
        plan(settings(voice="acme", voice_dir=broken, **base), socket_mode=False)
    policy.write_text("channels:\n  C0VOICE:\n    voice: cadence\n", encoding="utf-8")
    assert plan(settings(channels_file=policy, **base), socket_mode=False).policies.for_channel("C0VOICE").voice == "cadence"


def test_tune_threads_leaves_one_blas_thread_although_numpy_is_already_loaded() -> None:
    code = ("import numpy, json; from adapters.server.serve import tune_threads; "
            "print(json.dumps(tune_threads()))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OPENBLAS_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    tuned = json.loads(out.stdout.strip().splitlines()[-1])
    assert tuned["torch_threads"] == 1 and tuned["blas_threads"] == [1]
