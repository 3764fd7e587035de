"""The `supportbot` CLI as a user runs it: in-process for speed, plus the real console script.

Every command here runs with the test Redis (REDIS_URL) under the test's own key prefix, as a
deployment with workers would, unless a test unsets it to exercise the single-process defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console.cli import app
from tests.conftest import REDIS_URL, write_articles

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def shared_state(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """The test Redis for every command (CliRunner and subprocesses inherit os.environ)."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("SUPPORTBOT_REDIS_PREFIX", prefix)


@pytest.fixture
def run(tmp_path: Path, embedder):  # noqa: ANN001, ANN201 - embedder: load the model once
    runner = CliRunner()
    env = {"SUPPORTBOT_DATA_DIR": str(tmp_path / "data"), "CHROMA_HOST": ""}

    def invoke(*args: str, input: str | None = None):  # noqa: ANN202, A002
        return runner.invoke(app, list(args), env=env, input=input)

    return invoke


def test_ingest_skips_bad_files_with_named_warnings(run, tmp_path: Path) -> None:  # noqa: ANN001
    hc = write_articles(tmp_path / "hc")
    (hc / "broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (hc / "empty.md").write_text("")
    (hc / "latin1.txt").write_bytes("caf\xe9 menu".encode("latin-1"))
    (hc / "blob.md").write_bytes(b"\x00\x01\x02binary")
    result = run("ingest", str(hc), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["added"] == 4 and payload["skipped"] == 4
    reasons = {s["path"]: s["reason"] for s in payload["skipped_files"]}
    assert reasons["broken.md"].startswith("malformed front matter")
    assert reasons["empty.md"] == "empty file"
    assert reasons["latin1.txt"].startswith("not valid UTF-8")
    assert reasons["blob.md"] == "binary file"
    for path in reasons:
        assert f"warning: skipped {path}:" in result.stderr


def test_ingest_human_summary_then_status_search_rollback(run, tmp_path: Path) -> None:  # noqa: ANN001
    hc = write_articles(tmp_path / "hc")
    first = run("ingest", str(hc))
    assert first.exit_code == 0
    assert "Indexed 4 documents into 'default' version 1" in first.stdout
    (hc / "mobile/offline.md").unlink()
    second = run("ingest", str(hc))
    assert "0 added, 0 updated, 1 removed, 3 unchanged" in second.stdout

    status = json.loads(run("kb", "status", "--json").stdout)
    assert status["current"] == 2 and status["previous"] == 1 and status["documents"] == 3
    assert "live version" in run("kb", "status").stdout

    found = json.loads(run("search", "E-4011", "-k", "2", "--json").stdout)
    assert found["results"][0]["doc_id"] == "troubleshooting/error-e4011.md"
    assert found["results"][0]["url"] == "https://help.example.test/troubleshooting/error-e4011"
    scoped = json.loads(run("search", "refund", "--category", "security", "--json").stdout)
    assert {r["doc_id"] for r in scoped["results"]} == {"security/two-factor.md"}
    assert "[1] Sync error E-4011" in run("search", "E-4011").stdout

    back = run("kb", "rollback")
    assert back.exit_code == 0 and "now serves version 1 (was 2)" in back.stdout
    assert json.loads(run("kb", "status", "--json").stdout)["documents"] == 4


def test_errors_are_one_line_with_exit_codes(run, tmp_path: Path) -> None:  # noqa: ANN001
    missing = run("ingest", str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope'} does not exist"
    bad_eval = run("eval", str(tmp_path / "nope"))
    assert bad_eval.exit_code == 2 and bad_eval.stderr.count("\n") == 1
    assert run("search", "x").exit_code == 1  # nothing indexed yet: says what to run
    assert "supportbot ingest PATH" in run("search", "x").stderr
    assert run("ingest", str(tmp_path), "--kb", "Bad Name!").exit_code == 2
    assert "no previous version" in run("kb", "rollback").stderr


def test_help_lists_commands(run) -> None:  # noqa: ANN001
    out = run("--help").stdout
    for command in ("ingest", "kb", "search", "eval", "demo"):
        assert command in out


def test_console_script_exit_code(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "supportbot"
    proc = subprocess.run([str(exe), "ingest", str(tmp_path / "missing")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("does not exist")
    assert proc.stdout == ""


def test_ask_json_and_not_covered(run, tmp_path: Path) -> None:  # noqa: ANN001
    run("ingest", str(write_articles(tmp_path / "hc")))
    a = json.loads(run("ask", "How do I turn on two-factor authentication?", "--json").stdout)
    assert set(a) >= {"answer", "citations", "confidence", "abstained", "reason"}
    assert a["abstained"] is False and a["reason"] == "answered"
    assert a["citations"][0]["doc_id"] == "security/two-factor.md" and "[1]" in a["answer"]
    assert a["citations"][0]["url"] == "https://help.example.test/security/two-factor"
    no = json.loads(run("ask", "What is the capital of Peru?", "--json").stdout)
    assert no["abstained"] is True and no["reason"] == "not_covered" and no["citations"] == []
    human = run("ask", "How do I turn on two-factor authentication?").stdout
    assert "Sources:" in human and "[1] Turn on two-factor authentication — https://help.example.test" in human


def test_ask_with_unavailable_backend_says_what_to_do(run, tmp_path: Path) -> None:  # noqa: ANN001
    run("ingest", str(write_articles(tmp_path / "hc")))
    runner = CliRunner()
    env = {"SUPPORTBOT_DATA_DIR": str(tmp_path / "data"), "SUPPORTBOT_LLM": "openai", "OPENAI_API_KEY": ""}
    result = runner.invoke(app, ["ask", "refund?"], env=env)
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.stderr
    result = runner.invoke(app, ["ask", "refund?"], env={**env, "SUPPORTBOT_LLM": "gpt9"})
    assert result.exit_code == 2 and "unknown answer backend 'gpt9'" in result.stderr


def test_chat_keeps_context_and_resets_in_process(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    monkeypatch.delenv("REDIS_URL")  # the demo's defaults: state in the process
    env = {"SUPPORTBOT_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    runner.invoke(app, ["ingest", str(write_articles(tmp_path / "hc"))], env=env)
    script = ("How do I set up two-factor authentication?\nwhich ones are supported?\n/reset\n"
              "which ones are supported?\n/quit\n")
    result = runner.invoke(app, ["chat"], input=script, env=env)
    assert result.exit_code == 0, result.output
    assert "extractive backend" in result.stdout and "this process only (REDIS_URL unset)" in result.stdout
    before, after = result.stdout.split("(conversation forgotten)")
    assert before.count("Turn on two-factor authentication") >= 2  # the follow-up stayed on topic
    assert "couldn't find this in the help centre" in after  # a new conversation has no context
    report = runner.invoke(app, ["report"], env=env)
    assert report.exit_code == 2 and "REDIS_URL is unset" in report.stderr


def test_chat_on_redis_rates_answers_and_report_reads_them(run, tmp_path: Path, prefix: str) -> None:  # noqa: ANN001
    run("ingest", str(write_articles(tmp_path / "hc")))
    status = run("kb", "status").stdout
    assert "pointer and reload lock in Redis" in status
    script = "\n".join([
        "/helpful",  # nothing to rate yet
        "How do I set up two-factor authentication?", "/helpful", "/helpful",
        "/reset", "Is there a Linux desktop app?", "/human", "/unhelpful", "/help", "/quit",
    ]) + "\n"
    result = run("chat", input=script)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"conversation state: Redis {REDIS_URL.removeprefix('redis://')}" in out
    assert "nothing to rate yet" in out and "glad that helped" in out and "already rated" in out
    assert "/unhelpful  rate the last answer" in out

    report = json.loads(run("report", "--json").stdout)
    assert (report["questions"], report["answered"], report["not_covered"]) == (2, 1, 1)
    assert (report["helpful"], report["not_helpful"], report["human_requests"]) == (1, 1, 1)
    assert report["helpful_rate"] == 0.5
    assert report["top_unanswered"][0]["question"] == "Is there a Linux desktop app?"
    human = run("report").stdout
    assert "helpful rate        50% (1 helpful, 1 not helpful)" in human
    assert "Most asked questions the help centre could not answer" in human


def test_corrupt_pointer_says_how_to_recover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL")  # the single-host file pointer
    env = {**__import__("os").environ, "SUPPORTBOT_DATA_DIR": str(tmp_path / "data")}
    pointer = tmp_path / "data" / "kb" / "default" / "pointer.json"
    pointer.parent.mkdir(parents=True)
    pointer.write_text("{oops")
    exe = Path(sys.executable).parent / "supportbot"
    proc = subprocess.run([str(exe), "kb", "status"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "pointer" in proc.stderr and "supportbot ingest" in proc.stderr
