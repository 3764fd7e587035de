"""A local HTTP server that speaks OpenAI's chat-completions protocol and records what it is sent.

It stands in for OpenAI, Azure, vLLM, Ollama or a llama.cpp server (services outside our reach);
the replies are scripted per test by a function of the request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], "str | tuple[int, str] | None"]


@dataclass
class FakeOpenAI:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply: Reply = lambda body: "OK"  # noqa: E731
    delay_s: float = 0.0

    def last_user_message(self) -> str:
        return str(self.requests[-1]["messages"][-1]["content"])


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    state = FakeOpenAI(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            body["_path"] = self.path
            body["_auth"] = self.headers.get("Authorization")
            state.requests.append(body)
            if state.delay_s:
                time.sleep(state.delay_s)
            result = state.reply(body)
            status, content = (result if isinstance(result, tuple) else (200, result))
            if status != 200:
                payload = {"error": {"message": content, "type": "server_error"}}
            else:
                payload = {
                    "id": f"chatcmpl-{len(state.requests)}", "object": "chat.completion", "created": 0,
                    "model": body.get("model", "test"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
