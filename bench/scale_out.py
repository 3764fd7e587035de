"""One `supportbot serve` worker and two on this machine, each against the bare engine.

A synthetic help centre of ~10k chunks is indexed with the real `supportbot ingest` into a Chroma
server (`chroma run`); workers are real `supportbot serve` processes (Slack over HTTP, extractive
backend) sharing that Chroma and one Redis, replying to a stand-in for Slack's Web API in a process
of its own. Measured:

- memory: a worker's VmRSS / VmHWM once it has answered a question, against a bare Python process
  that loads the same index into a `KnowledgeBase` and answers one question with `AnswerEngine`;
- answers/s: N signed `app_mention` events fired at once (distinct questions, many users, the rate
  limit raised), until the stand-in has recorded all N replies: one worker, and two workers with the
  events split round-robin, alternately, best of two bursts each (the machine is shared), against
  `AnswerEngine.answer` in a loop in the bare process (the one-worker questions, one torch thread as
  `serve` sets it); with the cores the workers kept busy, and those other processes took meanwhile;
- the model-call pool: a worker on the openai backend against a local chat-completions server that
  takes `delay` seconds per completion, M questions at once: how many were answered by the model and
  how many fell back to extractive (its /metrics, by reason), and the seconds to each reply, against
  the ideal (every one by the model in delay x ceil(M / model workers)).

Embedding 10k chunks takes minutes on two cores, so the Chroma server's directory is kept between
runs (CACHE, one per help-centre size): every run still runs `supportbot ingest`, which re-embeds
only what changed (nothing, unless the chunker or the model did) and reports how many it embedded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import redis

from bench.servers import wait_http
from bench.synthetic import queries, write_helpcentre
from bot import messages
from bot.text import units
from tests.conftest import delete_keys, free_port, stop_process
from tests.fakes.openai_server import fake_openai
from tests.fakes.slack_api import BOT_USER, TEAM, event_body, sign

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".supportbot" / "bench-scale-out"  # git-ignored; `make clean` removes it
SECRET = "bench-signing-secret"
CHANNELS = ("C0SCALE1", "C0SCALE2", "C0SCALE3", "C0SCALE4")
WARM_UP = "How do I get started?"  # what `serve` answers before it listens (adapters/server/serve.py)
_SEQ = itertools.count(1)  # message timestamps unique across the whole run

# The reference: the engine alone in a fresh process (one torch thread, as `serve` sets it), over the
# same index. Prints one JSON line: memory after one question, then answers/s over the rest.
BARE = r"""
import json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from bot.engine import AnswerEngine
from knowledge.kb import KnowledgeBase

data_dir, host, port, warm_up = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
job = json.loads(sys.stdin.read())
engine = AnswerEngine(knowledge=KnowledgeBase.open(data_dir=data_dir, chroma_host=host, chroma_port=port))
engine.answer(warm_up)
engine.answer(job["first"])
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
rounds, reasons = [], []
for questions in job["rounds"]:
    t0 = time.perf_counter()
    reasons.append([str(engine.answer(q).reason) for q in questions])
    rounds.append(len(questions) / (time.perf_counter() - t0))
print(json.dumps({"rss_kb": int(status["VmRSS"].split()[0]), "hwm_kb": int(status["VmHWM"].split()[0]),
                  "per_s": rounds, "reasons": reasons}))
"""


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"rss_kb": int(fields["VmRSS"].split()[0]), "hwm_kb": int(fields["VmHWM"].split()[0])}


def cpu_seconds(pids: Sequence[int] | None = None) -> float:
    """CPU seconds used so far by ``pids`` together, or (None) by the whole machine (/proc/stat)."""
    if pids is None:
        cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(cpu) - cpu[3] - cpu[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def distinct_questions(n: int) -> list[str]:
    """``n`` different synthetic questions (the query-embedding cache must not answer for the engine)."""
    out = list(dict.fromkeys(queries(n * 3, seed=7)))
    if len(out) < n:
        raise ValueError(f"only {len(out)} distinct synthetic questions")
    return out[:n]


def grounded_reply(body: dict[str, Any]) -> str:
    """The fake model's answer: the first sentence of source [1], cited, so the grounding check keeps it."""
    prompt = str(body["messages"][-1]["content"])
    found = re.search(r"^\[1\][^\n]*\n<<<\n(.*?)\n>>>", prompt, re.S | re.M)
    sentences = units(found.group(1)) if found else []
    return f"{sentences[0]} [1]" if sentences else "NOT_COVERED"


# -- processes ----------------------------------------------------------------------------------------


def _spawn(stack: contextlib.ExitStack, args: list[str], log: Path, env: dict[str, str] | None = None,
           ) -> subprocess.Popen[bytes]:
    """Start a process, stopped (SIGTERM, then kill) when ``stack`` closes."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(stop_process, proc, 30)
    return proc


def _index_dir(stack: contextlib.ExitStack, articles: int, cache: Path | None, tmp: Path) -> tuple[Path, str]:
    """Where the index lives: the cache for this size, held with a lock, or (cache None or in use by
    another run) a fresh folder; and which it is."""
    if cache is not None:
        where = cache / f"{articles}-articles"
        where.mkdir(parents=True, exist_ok=True)
        lock = stack.enter_context(open(where / ".lock", "w"))  # noqa: SIM115 - closed by the stack
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return where, str(where.relative_to(ROOT) if where.is_relative_to(ROOT) else where)
        except BlockingIOError:
            pass
    return tmp / "index", "fresh"


def _chroma(stack: contextlib.ExitStack, path: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A `chroma run` server over ``path`` on a free port, once its heartbeat answers."""
    chroma = shutil.which("chroma", path=os.path.dirname(sys.executable)) or shutil.which("chroma")
    if chroma is None:
        raise RuntimeError("the `chroma` CLI (from the chromadb package) is not installed")
    port = free_port()
    args = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = _spawn(stack, args, log)
    wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, log, timeout=60)
    return proc, port


def _serve(stack: contextlib.ExitStack, env: dict[str, str], log: Path
           ) -> tuple[subprocess.Popen[bytes], str]:
    """Start a `supportbot serve` worker (not yet waited for); returns it and its base URL."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "supportbot")
    proc = _spawn(stack, [exe, "serve", "--host", "127.0.0.1", "--port", str(port)], log, env)
    return proc, f"http://127.0.0.1:{port}"


def _forget(redis_url: str, prefix: str) -> None:
    """Delete this run's Redis keys; an unreachable Redis must not hide the error that stopped the run."""
    with contextlib.suppress(redis.RedisError):
        delete_keys(redis_url, prefix)


def _json(url: str) -> Any:
    return json.loads(urllib.request.urlopen(url, timeout=30).read())


def _bare(env: dict[str, str], data_dir: Path, chroma_port: int, first: str, rounds: list[list[str]],
          ) -> dict[str, Any]:
    """The bare-engine reference in a fresh process with `serve`'s thread settings: memory after
    ``first``, then answers/s over each round of questions."""
    bare_env = {**env, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    args = [sys.executable, "-c", BARE, str(data_dir), "127.0.0.1", str(chroma_port), WARM_UP]
    done = subprocess.run(args, input=json.dumps({"first": first, "rounds": rounds}), env=bare_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the bare-engine reference failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- Slack traffic ------------------------------------------------------------------------------------


async def _fire(urls: Sequence[str], questions: Sequence[str]) -> tuple[dict[str, float], int]:
    """Post one signed ``app_mention`` per question, all at once (round-robin over ``urls``); returns
    {ts: time sent} and the number of requests not acknowledged with 200."""
    sent: dict[str, float] = {}
    failed = 0
    gate = asyncio.Semaphore(64)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def one(i: int, question: str) -> None:
            nonlocal failed
            ts = f"{int(time.time())}.{next(_SEQ):06d}"
            event = {"type": "app_mention", "user": f"U{i % 500:05d}", "text": f"<@{BOT_USER}> {question}",
                     "ts": ts, "channel": CHANNELS[i % len(CHANNELS)], "event_ts": ts, "team": TEAM}
            body = event_body(event, event_id=f"Ev{ts.replace('.', '')}")
            async with gate:
                now = int(time.time())
                headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(now),
                           "X-Slack-Signature": sign(SECRET, body, now)}
                sent[ts] = time.time()
                try:
                    async with http.post(urls[i % len(urls)] + "/slack/events", data=body,
                                         headers=headers) as resp:
                        await resp.read()
                        failed += resp.status != 200
                except (aiohttp.ClientError, TimeoutError):
                    failed += 1

        await asyncio.gather(*(one(i, q) for i, q in enumerate(questions)))
    return sent, failed


def _replies(recorder: str, sent: dict[str, float], timeout: float) -> dict[str, tuple[float, str]]:
    """{ts: (time of its first chat.postMessage, text)} once every message has one, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        first: dict[str, tuple[float, str]] = {}
        for c in sorted(_json(recorder + "/_calls"), key=lambda c: c["at"]):
            if c["method"] == "chat.postMessage" and c["thread_ts"] in sent:
                first.setdefault(c["thread_ts"], (c["at"], c["text"] or ""))
        if len(first) >= len(sent) or time.monotonic() > deadline:
            return first
        time.sleep(0.5)  # reply times are the stand-in's; polling less often only spares the CPU


def _ask(recorder: str, urls: Sequence[str], questions: Sequence[str], timeout: float,
         workers: Sequence[int] = (), ours: Sequence[int] = ()) -> dict[str, Any]:
    """Fire the questions and wait for their replies: counts, answers/s, seconds to each reply, and
    the cores kept busy meanwhile by the ``workers`` and by processes not ``ours`` (the machine is shared)."""
    cpu0, t0 = [cpu_seconds(workers), cpu_seconds(ours), cpu_seconds()], time.monotonic()
    sent, failed = asyncio.run(_fire(urls, questions))
    got = _replies(recorder, sent, timeout)
    cpu1, window = [cpu_seconds(workers), cpu_seconds(ours), cpu_seconds()], time.monotonic() - t0
    cpu = [(b - a) / window for a, b in zip(cpu0, cpu1, strict=True)]
    kinds = Counter("busy" if text == messages.BUSY else "slow_down" if text == messages.SLOW_DOWN
                    else "answer" for _, text in got.values())
    span = max(at for at, _ in got.values()) - min(sent.values()) if got else math.nan
    return {"sent": len(sent), "replied": len(got), "answers": kinds["answer"],
            "not_answered": len(sent) - kinds["answer"], "failed_requests": failed, "seconds": span,
            "per_s": kinds["answer"] / span if got else 0.0,
            "worker_cores": cpu[0], "other_cores": cpu[2] - cpu[1],
            "waits": [got[ts][0] - at for ts, at in sent.items() if ts in got]}


def _answer_reasons(url: str) -> Counter[str]:
    """A worker's answers by reason, from its Prometheus /metrics."""
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    out: Counter[str] = Counter()
    for labels, value in re.findall(r"^supportbot_answers_total\{([^}]*)\} (\S+)$", text, re.M):
        reason = re.search(r'reason="([^"]*)"', labels)
        if reason:
            out[reason.group(1)] += int(float(value))
    return out


# -- the benchmark ------------------------------------------------------------------------------------


def scale_out(*, redis_url: str, articles: int = 1000, answers: int = 300, rounds: int = 2,
              model_questions: int = 16, model_delay_s: float = 1.0, model_deadline_s: float = 1.5,
              cache: Path | None = CACHE) -> dict[str, Any]:
    """The figures; answers/s is the best of ``rounds`` bursts of ``answers`` questions for each of the
    three (one worker and two alternate, so both see the same machine: it is shared)."""
    started = time.perf_counter()
    qs = distinct_questions(2 * rounds * answers + 1)
    one_qs = [qs[2 * r * answers:(2 * r + 1) * answers] for r in range(rounds)]
    two_qs = [qs[(2 * r + 1) * answers:(2 * r + 2) * answers] for r in range(rounds)]
    prefix = f"sbbench:{uuid.uuid4().hex}:"
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="supportbot-scale-bench-")))
        stack.callback(_forget, redis_url, prefix)  # runs once every process below has stopped
        index, index_where = _index_dir(stack, articles, cache, tmp)
        rec_port = free_port()
        recorder = _spawn(stack, [sys.executable, "-m", "tests.fakes.slack_api", str(rec_port)],
                          tmp / "recorder.log")
        rec = f"http://127.0.0.1:{rec_port}"
        chroma, chroma_port = _chroma(stack, index / "chroma", tmp / "chroma.log")
        wait_http(rec + "/_calls", recorder, tmp / "recorder.log")
        write_helpcentre(tmp / "hc", articles)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "SUPPORTBOT_", "TEAMS_", "CHROMA_", "OPENAI_"))}
        env.update(SUPPORTBOT_DATA_DIR=str(index / "data"), REDIS_URL=redis_url,
                   SUPPORTBOT_REDIS_PREFIX=prefix, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_port),
                   SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=rec + "/api/",
                   SUPPORTBOT_RATE_BURST="100000", SUPPORTBOT_MAX_PENDING=str(max(1000, 2 * answers)))
        t0 = time.perf_counter()
        exe = str(Path(sys.executable).parent / "supportbot")
        ingest = subprocess.run([exe, "ingest", str(tmp / "hc"), "--json"], env=env, capture_output=True,
                                text=True, timeout=900)
        if ingest.returncode != 0:
            raise RuntimeError(f"supportbot ingest failed (index in {index_where}):\n{ingest.stderr[-2000:]}")
        ingest_s, embedded = time.perf_counter() - t0, json.loads(ingest.stdout)["chunks_embedded"]

        # memory: one worker once it has answered a question, against the bare engine
        one, one_url = _serve(stack, env, tmp / "worker1.log")
        wait_http(one_url + "/healthz", one, tmp / "worker1.log")
        chunks = _json(one_url + "/healthz")["chunks"]
        if _ask(rec, [one_url], [qs[-1]], timeout=60)["answers"] != 1:
            raise RuntimeError(f"the worker did not answer:\n{(tmp / 'worker1.log').read_text()[-2000:]}")
        worker_mem = memory_of(one.pid)
        bare = _bare(env, index / "data", chroma_port, qs[-1], one_qs)

        # answers/s: one worker and two (events split round-robin), alternately; the model-pool worker
        # starts with the second and waits idle
        two, two_url = _serve(stack, env, tmp / "worker2.log")
        with fake_openai() as model:
            model.delay_s, model.reply = model_delay_s, grounded_reply
            llm_env = {**env, "SUPPORTBOT_LLM": "openai", "OPENAI_BASE_URL": model.base_url,
                       "OPENAI_API_KEY": "bench-key", "SUPPORTBOT_OPENAI_MODEL": "bench",
                       "SUPPORTBOT_LLM_TIMEOUT_S": str(model_deadline_s)}
            llm, llm_url = _serve(stack, llm_env, tmp / "worker-openai.log")
            wait_http(two_url + "/healthz", two, tmp / "worker2.log")
            wait_http(llm_url + "/healthz", llm, tmp / "worker-openai.log")
            single, double = [], []
            ours = [os.getpid(), recorder.pid, chroma.pid, one.pid, two.pid, llm.pid]
            for r in range(rounds):
                single.append(_ask(rec, [one_url], one_qs[r], 180, [one.pid], ours))
                double.append(_ask(rec, [one_url, two_url], two_qs[r], 180, [one.pid, two.pid], ours))
            worker_mem_after = memory_of(one.pid)
            for proc in (one, two):  # idle now: out of the way of the model-pool run
                stop_process(proc, 30)

            # the model-call pool: M questions at once on a slow model; questions the engine answered
            # above, so each one needs the model (not a "not covered" decided before it)
            covered = [q for q, why in zip(one_qs[0], bare["reasons"][0], strict=True) if why == "answered"]
            workers = int(_json(llm_url + "/healthz")["workers"])
            calls_before, reasons = len(model.requests), _answer_reasons(llm_url)
            pooled = _ask(rec, [llm_url], covered[:model_questions], timeout=60)
            reasons = _answer_reasons(llm_url) - reasons
            model_calls = len(model.requests) - calls_before
            stop_process(llm, 30)  # before its model goes away
    took = time.perf_counter() - started
    return {
        "setup": {"articles": articles, "chunks": chunks, "index": index_where,
                  "ingest_chunks_embedded": embedded, "ingest_s": round(ingest_s, 1),
                  "took_s": round(took, 1)},
        "memory": _memory_figures(worker_mem, worker_mem_after, bare),
        "answers_per_s": _rate_figures(answers, bare, single, double),
        "model_pool": _pool_figures(min(model_questions, len(covered)), model_delay_s, model_deadline_s,
                                    workers, model_calls, reasons, pooled),
    }


def _memory_figures(worker: dict[str, int], after: dict[str, int], bare: dict[str, Any]) -> dict[str, Any]:
    return {
        "worker_rss_mb": _mb(worker["rss_kb"]), "worker_hwm_mb": _mb(worker["hwm_kb"]),
        "bare_rss_mb": _mb(bare["rss_kb"]), "bare_hwm_mb": _mb(bare["hwm_kb"]),
        "worker_minus_bare_mb": _mb(worker["rss_kb"] - bare["rss_kb"]),
        "worker_over_bare": round(worker["rss_kb"] / bare["rss_kb"], 2),
        "worker_rss_after_burst_mb": _mb(after["rss_kb"]), "worker_hwm_after_burst_mb": _mb(after["hwm_kb"]),
    }


def _rate_figures(n: int, bare: dict[str, Any], one: list[dict[str, Any]], two: list[dict[str, Any]],
                  ) -> dict[str, Any]:
    def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return max(runs, key=lambda run: float(run["per_s"]))

    b, o, t = max(bare["per_s"]), best(one), best(two)
    return {
        "questions": n, "rounds": len(one), "bare_per_s": round(b, 1),
        "one_worker_per_s": round(o["per_s"], 1), "two_workers_per_s": round(t["per_s"], 1),
        "two_over_one": round(t["per_s"] / o["per_s"], 2) if o["per_s"] else None,
        "one_over_bare": round(o["per_s"] / b, 2), "two_over_bare": round(t["per_s"] / b, 2),
        "all_rounds": {"bare": [round(x, 1) for x in bare["per_s"]],
                       "one": [round(run["per_s"], 1) for run in one],
                       "two": [round(run["per_s"], 1) for run in two]},
        "worker_cores": [round(o["worker_cores"], 2), round(t["worker_cores"], 2)],
        "other_cores": [round(o["other_cores"], 2), round(t["other_cores"], 2)],
        "not_answered": sum(run["not_answered"] for run in (*one, *two)),
        "failed_requests": sum(run["failed_requests"] for run in (*one, *two)),
    }


def _pool_figures(n: int, delay_s: float, deadline_s: float, workers: int, calls: int,
                  reasons: Counter[str], pooled: dict[str, Any]) -> dict[str, Any]:
    ideal = delay_s * math.ceil(n / max(1, workers))
    by_model = reasons["answered"]
    waits = pooled["waits"]
    return {
        "questions": n, "model_delay_s": delay_s, "deadline_s": deadline_s, "model_workers": workers,
        "model_calls": calls, "by_model": by_model,
        "fell_back": sum(k for r, k in reasons.items() if r.endswith("_fallback")),
        "other": {r: k for r, k in reasons.items() if r != "answered" and not r.endswith("_fallback")},
        "replied": pooled["replied"],
        "reply_p50_s": round(statistics.median(waits), 2) if waits else None,
        "reply_max_s": round(max(waits), 2) if waits else None, "ideal_s": ideal,
        "target": f"all by the model, in about {ideal:g} s = {delay_s:g} s x ceil({n}/{workers})",
        "pass": by_model == n and pooled["replied"] == n,
    }
