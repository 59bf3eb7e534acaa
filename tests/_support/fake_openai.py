"""A small OpenAI-compatible HTTP server on 127.0.0.1, run in a thread: a test double.

Replies are canned but depend on the request, and identical requests get different
answers (a per-request counter), so record/replay ordering is observable:

- ``POST /v1/chat/completions``: ``"reply #<n> to: <last user text>"``; when the request
  offers tools and the last message is the user's, a call of the first tool with
  ``{"query": <last user text>}``; after a ``tool`` message, ``"tool said: <content>"``.
  ``stream=True`` answers with server-sent events (chunks word by word, tool-call deltas,
  a usage chunk when ``stream_options.include_usage`` is set, then ``[DONE]``).
- ``POST /v1/completions`` (legacy) and ``POST /v1/embeddings``.

Every request is kept in ``server.requests`` (method, path, query, headers, body) so
tests can check what went over the wire. Concurrent requests are served by threads;
:meth:`FakeOpenAI.answer_in_reverse` makes a batch of them finish last-arrived-first.
Run ``python tests/_support/fake_openai.py`` to serve on a free port and print the URL.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FakeOpenAI", "ReceivedRequest"]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    requests: list[ReceivedRequest] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # answer_in_reverse: hold the first `batch` requests until all arrived, then answer
    # the i-th arrival after (batch - i) * step seconds.
    batch: int = 0
    step: float = 0.0
    arrived: int = 0
    all_arrived: threading.Condition = field(default_factory=threading.Condition)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    # -- plumbing ------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{time.monotonic_ns()}")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route GET {parts.path}"}})

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            self._json(400, {"error": {"message": "body is not JSON"}})
            return
        state = self.server.state
        with state.lock:
            state.requests.append(
                ReceivedRequest(
                    "POST",
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            state.counts[key] += 1
            state.total += 1
            n = state.counts[key]
            delay = state.delay
        if state.batch:
            with state.all_arrived:
                state.arrived += 1
                position = state.arrived
                if position <= state.batch:
                    state.all_arrived.notify_all()
                    state.all_arrived.wait_for(lambda: state.arrived >= state.batch, timeout=10)
                    delay += (state.batch - position + 1) * state.step
        if delay:
            time.sleep(delay)
        if parts.path.endswith("/chat/completions"):
            self._chat(body, n)
        elif parts.path.endswith("/completions"):
            text = f"completion #{n} of: {body.get('prompt', '')}"
            self._json(
                200,
                {
                    "id": f"cmpl-{n}",
                    "object": "text_completion",
                    "created": 1700000000,
                    "model": body.get("model", "fake-model"),
                    "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
                },
            )
        elif parts.path.endswith("/embeddings"):
            inputs = body.get("input", "")
            items = inputs if isinstance(inputs, list) else [inputs]
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": [b / 255 for b in hashlib.sha256(str(x).encode()).digest()[:8]],
                }
                for i, x in enumerate(items)
            ]
            self._json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model", "fake-embed"),
                    "usage": {"prompt_tokens": 2, "total_tokens": 2},
                },
            )
        else:
            self._json(404, {"error": {"message": f"no route POST {parts.path}"}})

    # -- chat ----------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any], n: int) -> None:
        messages = body.get("messages") or []
        model = body.get("model", "fake-model")
        last = messages[-1] if messages else {}
        tool_call: dict[str, Any] | None = None
        text: str | None
        if body.get("tools") and last.get("role") == "user" and body.get("tool_choice") != "none":
            tool = body["tools"][0]["function"]["name"]
            tool_call = {
                "id": f"call_{n}",
                "type": "function",
                "function": {"name": tool, "arguments": json.dumps({"query": _last_user_text(messages)})},
            }
            text = None
        elif last.get("role") == "tool":
            text = f"tool said: {last.get('content')}"
        else:
            text = f"reply #{n} to: {_last_user_text(messages)}"
        finish = "tool_calls" if tool_call else "stop"
        usage = {
            "prompt_tokens": 10 + len(messages),
            "completion_tokens": 7,
            "total_tokens": 17 + len(messages),
        }
        ident = f"chatcmpl-{n}"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if tool_call:
                message["tool_calls"] = [tool_call]
            self._json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": 1700000000,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                },
            )
            return
        base = {"id": ident, "object": "chat.completion.chunk", "created": 1700000000, "model": model}
        chunks: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
        ]
        if tool_call:
            fn = tool_call["function"]
            chunks.append(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": None,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": tool_call["id"],
                                        "type": "function",
                                        "function": {"name": fn["name"], "arguments": ""},
                                    }
                                ]
                            },
                        }
                    ],
                }
            )
            args = fn["arguments"]
            for i in range(0, len(args), 8):
                chunks.append(
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": None,
                                "delta": {
                                    "tool_calls": [{"index": 0, "function": {"arguments": args[i : i + 8]}}]
                                },
                            }
                        ],
                    }
                )
        else:
            words = (text or "").split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                chunks.append(
                    {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                )
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self._send(200, payload.encode(), "text/event-stream; charset=utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = _State()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()


class FakeOpenAI:
    """Start with :meth:`start`, point the openai SDK at :attr:`url`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._state: _State | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[ReceivedRequest]:
        assert self._state is not None, "the server was never started"
        return list(self._state.requests)

    @property
    def running(self) -> bool:
        return self._server is not None

    def set_delay(self, seconds: float) -> None:
        assert self._server is not None
        self._server.state.delay = seconds

    def answer_in_reverse(self, batch: int, step: float = 0.05) -> None:
        """Hold the next ``batch`` requests until all have arrived, then answer the last first.

        Each reply still carries its arrival number (``reply #<n>``), so a test sees which
        request the server took for which.
        """
        assert self._server is not None
        state = self._server.state
        with state.all_arrived:
            state.batch, state.step, state.arrived = batch, step, 0

    def start(self) -> FakeOpenAI:
        self._server = _Server()
        self._state = self._server.state
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and cut every open keep-alive connection."""
        server = self._server
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.conn_lock:
            for conn in list(server.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    fake = FakeOpenAI().start()
    print(fake.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
