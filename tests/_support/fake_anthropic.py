"""A small Anthropic Messages API server on 127.0.0.1, run in a thread: a test double.

There is no Anthropic-compatible local model server, so the real ``anthropic`` SDK is
tested against this one over real HTTP. Replies are canned but depend on the request, and
identical requests get different answers (a per-request counter), so record/replay
ordering is observable:

- ``POST /v1/messages``: ``"reply #<n> to: <last user text>"``; when the request offers
  tools and the last user message is text (not a ``tool_result``), a ``tool_use`` block
  calling the first tool with ``{"query": <last user text>}``; after a ``tool_result``,
  ``"tool said: <its content>"``. ``"stream": true`` answers with the Messages API's
  server-sent events (``message_start``, ``content_block_*`` with ``text_delta`` /
  ``input_json_delta`` pieces, ``message_delta``, ``message_stop``).

Every request is kept in ``server.requests`` (path, headers, body).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeAnthropic"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    requests: list[Received] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        str(b.get("text", "")) for b in content or () if isinstance(b, dict) and b.get("type") == "text"
    )


def _tool_result(message: dict[str, Any]) -> dict[str, Any] | None:
    content = message.get("content")
    if message.get("role") == "user" and isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                return block
    return None


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

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", "req_fake")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, kind: str, message: str) -> None:
        body = {"type": "error", "error": {"type": kind, "message": message}}
        self._send(status, json.dumps(body).encode(), "application/json")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            self._error(400, "invalid_request_error", "body is not JSON")
            return
        path = self.path.split("?", 1)[0]
        state = self.server.state
        with state.lock:
            state.requests.append(Received(path, {k.lower(): v for k, v in self.headers.items()}, body))
            key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            state.counts[key] += 1
            n = state.counts[key]
        if not path.endswith("/v1/messages"):
            self._error(404, "not_found_error", f"no route POST {path}")
            return
        if "max_tokens" not in body:
            self._error(400, "invalid_request_error", "max_tokens: Field required")
            return
        self._messages(body, n)

    def _messages(self, body: dict[str, Any], n: int) -> None:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        result = _tool_result(last) if isinstance(last, dict) else None
        choice = (body.get("tool_choice") or {}).get("type")
        content: list[dict[str, Any]]
        if result is not None:
            content = [{"type": "text", "text": f"tool said: {_text(result.get('content'))}"}]
        elif body.get("tools") and choice != "none":
            query = _text(last.get("content")) if isinstance(last, dict) else ""
            tool = body["tools"][0]["name"]
            content = [{"type": "tool_use", "id": f"toolu_{n:04d}", "name": tool, "input": {"query": query}}]
        else:
            query = _text(last.get("content")) if isinstance(last, dict) else ""
            content = [{"type": "text", "text": f"reply #{n} to: {query}"}]
        stop = "tool_use" if content[0]["type"] == "tool_use" else "end_turn"
        usage = {"input_tokens": 10 + len(messages), "output_tokens": 7}
        message = {
            "id": f"msg_{n:04d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake-claude"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            self._send(200, json.dumps(message).encode(), "application/json")
            return
        events: list[tuple[str, dict[str, Any]]] = [
            (
                "message_start",
                {
                    "message": {
                        **message,
                        "content": [],
                        "stop_reason": None,
                        "usage": {**usage, "output_tokens": 1},
                    }
                },
            ),
            ("ping", {}),
        ]
        block = content[0]
        if block["type"] == "tool_use":
            events.append(("content_block_start", {"index": 0, "content_block": {**block, "input": {}}}))
            args = json.dumps(block["input"])
            for i in range(0, len(args), 8):
                piece = {"type": "input_json_delta", "partial_json": args[i : i + 8]}
                events.append(("content_block_delta", {"index": 0, "delta": piece}))
        else:
            events.append(
                ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            )
            for i, word in enumerate(block["text"].split(" ")):
                piece = {"type": "text_delta", "text": word if i == 0 else " " + word}
                events.append(("content_block_delta", {"index": 0, "delta": piece}))
        events.append(("content_block_stop", {"index": 0}))
        events.append(
            (
                "message_delta",
                {
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(("message_stop", {}))
        payload = "".join(f"event: {k}\ndata: {json.dumps({'type': k, **d})}\n\n" for k, d in events)
        self._send(200, payload.encode(), "text/event-stream; charset=utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = _State()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()


class FakeAnthropic:
    """Start with :meth:`start`, point ``anthropic.Anthropic(base_url=...)`` at :attr:`url`, :meth:`stop`."""

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._state: _State | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Received]:
        assert self._state is not None, "the server was never started"
        return list(self._state.requests)

    def start(self) -> FakeAnthropic:
        self._server = _Server()
        self._state = self._server.state
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-anthropic", daemon=True
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

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    fake = FakeAnthropic().start()
    print(fake.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
