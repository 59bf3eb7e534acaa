"""Small JSON-over-HTTP services on 127.0.0.1 and the client the reference systems call them with.

The reference systems' tools talk to real local services over real TCP (so network faults through
a Toxiproxy proxy act on them). The client speaks HTTP/1.0 over a plain socket, synchronously:
a call takes about a millisecond on the loopback, and because it does not go through the event
loop it does not advance the virtual clock, which keeps replays of a run identical. (It also means
cassettes never capture service traffic: only LLM calls and ``@tool`` results are recorded.)
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

from scenarios._errors import ServiceCallError, ServiceError, ServiceUnavailable

__all__ = ["JSONService", "ServiceCallError", "ServiceUnavailable", "call_service", "query_string"]

Route = Callable[[dict[str, Any]], tuple[int, Any]]


def query_string(params: dict[str, Any]) -> str:
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in params.items())


def call_service(method: str, url: str, payload: Any = None, *, timeout: float = 10.0) -> Any:
    """Send one JSON request and return the decoded JSON reply.

    Raises:
        ServiceUnavailable: no connection, a reset, a timeout or a truncated reply.
        ServiceCallError: the service answered 4xx/5xx.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    body = b"" if payload is None else json.dumps(payload).encode()
    head = (
        f"{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    chunks: list[bytes] = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(head + body)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as exc:
        raise ServiceUnavailable(f"{method} {url} failed: {exc!r}") from exc
    raw = b"".join(chunks)
    header, sep, content = raw.partition(b"\r\n\r\n")
    status_line = header.split(b"\r\n", 1)[0].split(b" ", 2)
    if not sep or len(status_line) < 2 or not status_line[1].isdigit():
        raise ServiceUnavailable(f"{method} {url}: the reply was cut or is not HTTP ({raw[:60]!r})")
    status = int(status_line[1])
    length = None
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length is not None and len(content) < length:
        raise ServiceUnavailable(f"{method} {url}: the reply was cut after {len(content)} of {length} bytes")
    try:
        decoded = json.loads(content) if content else None
    except ValueError as exc:
        raise ServiceUnavailable(f"{method} {url}: the reply is not JSON ({content[:60]!r})") from exc
    if status >= 400:
        raise ServiceCallError(status, decoded, url)
    return decoded


class JSONService:
    """A threaded HTTP server on 127.0.0.1 that routes JSON requests to Python callables.

    Subclasses fill :meth:`routes`: ``{("POST", "/charge"): handler}``; a handler takes the request
    (JSON body merged with the query parameters) and returns ``(status, json_body)``. Use it as a
    context manager; :attr:`base_url` is ``http://127.0.0.1:<port>``.
    """

    name = "service"

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def routes(self) -> dict[tuple[str, str], Route]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise ServiceError(
                f"The {self.name} service is not running; use it as `with {type(self).__name__}():`."
            )
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        routes = self.routes()
        service_name = self.name

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                request: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    try:
                        body = json.loads(self.rfile.read(length))
                    except ValueError:
                        self._reply(400, {"error": "the body is not JSON"})
                        return
                    if isinstance(body, dict):
                        request.update(body)
                route = routes.get((self.command, parts.path))
                if route is None:
                    self._reply(404, {"error": f"{service_name} has no route {self.command} {parts.path}"})
                    return
                try:
                    status, reply = route(request)
                except (KeyError, TypeError, ValueError) as exc:
                    status, reply = 400, {"error": f"bad request: {exc!r}"}
                self._reply(status, reply)

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        try:
            server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        except OSError as exc:
            raise ServiceError(
                f"The {self.name} service could not listen on 127.0.0.1:{self._port}: {exc}. "
                "Pass port=0 to pick a free port."
            ) from exc
        server.daemon_threads = True
        self._server = server
        # A short poll interval: stopping the service waits for one poll.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name=f"brownout-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
