"""An embedded, Toxiproxy-compatible server: the HTTP API plus real TCP proxies, in threads.

It implements what toxiproxy-python (and most Toxiproxy clients) use of Toxiproxy 2.x:

- ``GET /version``, ``POST /reset``, ``POST /populate``;
- ``GET|POST /proxies``, ``GET|POST|DELETE /proxies/{name}`` (``enabled=false`` takes a
  proxy down: its listener closes and live connections are cut);
- ``GET|POST /proxies/{name}/toxics``, ``GET|POST|DELETE /proxies/{name}/toxics/{toxic}``;
- toxics ``latency`` (latency, jitter ms), ``bandwidth`` (rate KB/s), ``slow_close``
  (delay ms), ``timeout`` (timeout ms; 0 = hold forever), ``reset_peer`` (timeout ms),
  ``slicer`` (average_size, size_variation bytes, delay us), ``limit_data`` (bytes); each
  with ``stream`` (upstream | downstream) and ``toxicity`` (the fraction of connections
  it applies to).

Proxies forward real TCP connections between a listening socket on 127.0.0.1 and the
upstream address; toxics act on the bytes of live connections, in wall-clock time, and
may be added or removed while connections are open.
"""

from __future__ import annotations

import json
import random
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["TOXIC_TYPES", "EmbeddedToxiproxy"]

VERSION = "2.12.0"

# type -> (attribute -> default)
TOXIC_TYPES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Toxic:
    def __init__(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind not in TOXIC_TYPES:
            raise _ApiError(400, f"invalid toxic type: {kind!r}; known: {', '.join(TOXIC_TYPES)}")
        stream = data.get("stream", "downstream")
        if stream not in ("upstream", "downstream"):
            raise _ApiError(400, f"stream must be 'upstream' or 'downstream', got {stream!r}")
        toxicity = float(data.get("toxicity", 1.0))
        if not 0.0 <= toxicity <= 1.0:
            raise _ApiError(400, f"toxicity must be between 0 and 1, got {toxicity}")
        self.type: str = kind
        self.stream: str = stream
        self.name: str = str(data.get("name") or f"{kind}_{stream}")
        self.toxicity = toxicity
        self.attributes: dict[str, int] = dict(TOXIC_TYPES[kind])
        self.update_attributes(data.get("attributes") or {})
        self.added = time.monotonic()

    def update_attributes(self, attributes: dict[str, Any]) -> None:
        for key, value in attributes.items():
            if key not in TOXIC_TYPES[self.type]:
                raise _ApiError(400, f"toxic {self.type!r} has no attribute {key!r}")
            self.attributes[key] = int(value)

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


class _Link:
    """One proxied connection: client <-> proxy <-> upstream, two pump threads."""

    def __init__(self, proxy: _Proxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        self.started = time.monotonic()
        self._rng = random.Random()
        self._applies: dict[str, bool] = {}
        self._sent = {"upstream": 0, "downstream": 0}
        self._lock = threading.Lock()

    def start(self) -> None:
        for direction, src, dst in (
            ("upstream", self.client, self.upstream),
            ("downstream", self.upstream, self.client),
        ):
            threading.Thread(
                target=self._pump, args=(direction, src, dst), name=f"toxiproxy-{direction}", daemon=True
            ).start()

    def _toxics(self, direction: str) -> list[_Toxic]:
        out = []
        for toxic in self.proxy.toxic_list():
            if toxic.stream != direction:
                continue
            key = f"{toxic.name}@{toxic.added}"
            with self._lock:
                if key not in self._applies:
                    self._applies[key] = self._rng.random() < toxic.toxicity
                if self._applies[key]:
                    out.append(toxic)
        return out

    def close(self, *, reset: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            try:
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        self.proxy.forget(self)

    def _send(self, dst: socket.socket, data: bytes, toxics: list[_Toxic]) -> None:
        by_type = {t.type: t for t in toxics}
        latency = by_type.get("latency")
        if latency is not None:
            base, jitter = latency.attributes["latency"], latency.attributes["jitter"]
            delay = base + (self._rng.uniform(-jitter, jitter) if jitter else 0)
            if delay > 0:
                time.sleep(delay / 1000)
        slicer = by_type.get("slicer")
        chunks = [data]
        if slicer is not None and slicer.attributes["average_size"] > 0:
            avg, var = slicer.attributes["average_size"], slicer.attributes["size_variation"]
            chunks, rest = [], data
            while rest:
                size = max(1, avg + (self._rng.randint(-var, var) if var else 0))
                chunks.append(rest[:size])
                rest = rest[size:]
        bandwidth = by_type.get("bandwidth")
        for index, chunk in enumerate(chunks):
            if slicer is not None and index and slicer.attributes["delay"]:
                time.sleep(slicer.attributes["delay"] / 1_000_000)
            if bandwidth is not None and bandwidth.attributes["rate"] > 0:
                time.sleep(len(chunk) / (bandwidth.attributes["rate"] * 1000))
            dst.sendall(chunk)

    def _pump(self, direction: str, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self.closed.is_set():
                toxics = self._toxics(direction)
                by_type = {t.type: t for t in toxics}
                reset = by_type.get("reset_peer")
                if reset is not None:
                    since = max(self.started, reset.added)
                    if time.monotonic() - since >= reset.attributes["timeout"] / 1000:
                        self.close(reset=True)
                        return
                timeout = by_type.get("timeout")
                if timeout is not None:
                    limit = timeout.attributes["timeout"]
                    since = max(self.started, timeout.added)
                    if limit and time.monotonic() - since >= limit / 1000:
                        self.close()
                        return
                try:
                    ready, _, _ = select.select([src], [], [], 0.02)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    slow = by_type.get("slow_close")
                    if slow is not None and slow.attributes["delay"]:
                        time.sleep(slow.attributes["delay"] / 1000)
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                if timeout is not None:
                    continue  # data is dropped while a timeout toxic is active
                limit_data = by_type.get("limit_data")
                if limit_data is not None and limit_data.attributes["bytes"] > 0:
                    room = limit_data.attributes["bytes"] - self._sent[direction]
                    if len(data) >= room:
                        if room > 0:
                            self._send(dst, data[:room], toxics)
                        self._sent[direction] += max(room, 0)
                        self.close()
                        return
                self._send(dst, data, toxics)
                self._sent[direction] += len(data)
        except OSError:
            pass
        finally:
            if not self.closed.is_set():
                # The other direction may still flow (half-close); close when both are done.
                with self._lock:
                    done = self._sent.setdefault("_ended", 0) + 1
                    self._sent["_ended"] = done
                if done >= 2:
                    self.close()


class _Proxy:
    def __init__(
        self, server: EmbeddedToxiproxy, name: str, listen: str, upstream: str, enabled: bool
    ) -> None:
        self.server = server
        self.name = name
        self.upstream = upstream
        self.requested_listen = listen
        self.listen = listen
        self.enabled = False
        self.toxics: dict[str, _Toxic] = {}
        self.links: set[_Link] = set()
        self.lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._port: int | None = None
        if enabled:
            self.enable()

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.json() for t in self.toxic_list()],
        }

    def toxic_list(self) -> list[_Toxic]:
        with self.lock:
            return list(self.toxics.values())

    def forget(self, link: _Link) -> None:
        with self.lock:
            self.links.discard(link)

    def enable(self) -> None:
        if self.enabled:
            return
        host, _, port = self.requested_listen.rpartition(":")
        if self._port is not None:
            port = str(self._port)  # come back on the same port after being down
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host or "127.0.0.1", int(port or 0)))
        except (OSError, ValueError) as exc:
            listener.close()
            raise _ApiError(
                500, f"proxy {self.name!r}: cannot listen on {self.requested_listen!r}: {exc}"
            ) from None
        listener.listen(64)
        self._port = listener.getsockname()[1]
        self.listen = f"{host or '127.0.0.1'}:{self._port}"
        self._listener = listener
        self.enabled = True
        threading.Thread(
            target=self._accept, args=(listener,), name=f"toxiproxy-{self.name}", daemon=True
        ).start()

    def disable(self) -> None:
        if not self.enabled:
            return
        self.enabled = False
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self.lock:
            links = list(self.links)
        for link in links:
            link.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self.enabled or self._listener is not listener:
                client.close()
                return
            host, _, port = self.upstream.rpartition(":")
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
                upstream.settimeout(None)
            except (OSError, ValueError):
                client.close()  # like Toxiproxy: the client sees its connection closed
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self.lock:
                self.links.add(link)
            link.start()


class EmbeddedToxiproxy:
    """A Toxiproxy-compatible API server on 127.0.0.1 (``port=0``: a free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.proxies: dict[str, _Proxy] = {}
        self.lock = threading.RLock()
        self._http = ThreadingHTTPServer((host, port), _handler_for(self))
        self._http.daemon_threads = True
        self.host = str(self._http.server_address[0])
        self.port = int(self._http.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedToxiproxy:
        self._thread = threading.Thread(target=self._http.serve_forever, name="toxiproxy-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            proxies = list(self.proxies.values())
            self.proxies.clear()
        for proxy in proxies:
            proxy.disable()
        self._http.shutdown()
        self._http.server_close()

    # -- API operations ----------------------------------------------------------------------
    def get(self, name: str) -> _Proxy:
        with self.lock:
            proxy = self.proxies.get(name)
        if proxy is None:
            raise _ApiError(404, "proxy not found")
        return proxy

    def create(self, data: dict[str, Any]) -> _Proxy:
        name, upstream = data.get("name"), data.get("upstream")
        if not name or not upstream:
            raise _ApiError(400, "missing required field: name and upstream")
        with self.lock:
            if name in self.proxies:
                raise _ApiError(409, "proxy already exists")
            proxy = _Proxy(
                self,
                str(name),
                str(data.get("listen") or "127.0.0.1:0"),
                str(upstream),
                bool(data.get("enabled", True)),
            )
            self.proxies[proxy.name] = proxy
        return proxy

    def update(self, name: str, data: dict[str, Any]) -> _Proxy:
        proxy = self.get(name)
        if "upstream" in data:
            proxy.upstream = str(data["upstream"])
        if "enabled" in data:
            if data["enabled"]:
                proxy.enable()
            else:
                proxy.disable()
        return proxy

    def delete(self, name: str) -> None:
        proxy = self.get(name)
        proxy.disable()
        with self.lock:
            self.proxies.pop(name, None)

    def reset(self) -> None:
        with self.lock:
            proxies = list(self.proxies.values())
        for proxy in proxies:
            with proxy.lock:
                proxy.toxics.clear()
            proxy.enable()

    def add_toxic(self, name: str, data: dict[str, Any]) -> _Toxic:
        proxy = self.get(name)
        toxic = _Toxic(data)
        with proxy.lock:
            if toxic.name in proxy.toxics:
                raise _ApiError(409, "toxic already exists")
            proxy.toxics[toxic.name] = toxic
        return toxic

    def get_toxic(self, name: str, toxic_name: str) -> _Toxic:
        proxy = self.get(name)
        with proxy.lock:
            toxic = proxy.toxics.get(toxic_name)
        if toxic is None:
            raise _ApiError(404, "toxic not found")
        return toxic

    def delete_toxic(self, name: str, toxic_name: str) -> None:
        proxy = self.get(name)
        with proxy.lock:
            if proxy.toxics.pop(toxic_name, None) is None:
                raise _ApiError(404, "toxic not found")


def _handler_for(server: EmbeddedToxiproxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any = None) -> None:
            payload = (
                b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            )
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain"
            )
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise _ApiError(400, f"bad request body: {exc.msg}") from None

        def _route(self, method: str) -> None:
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            try:
                status, body = self._dispatch(method, parts)
            except _ApiError as exc:
                status, body = exc.status, {"error": str(exc), "status": exc.status}
            self._reply(status, body)

        def _dispatch(self, method: str, parts: list[str]) -> tuple[int, Any]:
            if parts == ["version"] and method == "GET":
                return 200, VERSION.encode()
            if parts == ["reset"] and method == "POST":
                self._body()
                server.reset()
                return 204, None
            if parts == ["populate"] and method == "POST":
                created = []
                for data in self._body() or []:
                    try:
                        server.delete(data.get("name", ""))
                    except _ApiError:
                        pass
                    created.append(server.create(data).json())
                return 201, {"proxies": created}
            if parts == ["proxies"]:
                if method == "GET":
                    with server.lock:
                        return 200, {n: p.json() for n, p in server.proxies.items()}
                if method == "POST":
                    return 201, server.create(self._body()).json()
            if len(parts) == 2 and parts[0] == "proxies":
                if method == "GET":
                    return 200, server.get(parts[1]).json()
                if method in ("POST", "PATCH"):
                    return 200, server.update(parts[1], self._body()).json()
                if method == "DELETE":
                    server.delete(parts[1])
                    return 204, None
            if len(parts) == 3 and parts[0] == "proxies" and parts[2] == "toxics":
                if method == "GET":
                    return 200, [t.json() for t in server.get(parts[1]).toxic_list()]
                if method == "POST":
                    return 200, server.add_toxic(parts[1], self._body()).json()
            if len(parts) == 4 and parts[0] == "proxies" and parts[2] == "toxics":
                if method == "GET":
                    return 200, server.get_toxic(parts[1], parts[3]).json()
                if method in ("POST", "PATCH"):
                    toxic = server.get_toxic(parts[1], parts[3])
                    data = self._body()
                    toxic.update_attributes(data.get("attributes") or {})
                    if "toxicity" in data:
                        toxic.toxicity = float(data["toxicity"])
                    return 200, toxic.json()
                if method == "DELETE":
                    server.delete_toxic(parts[1], parts[3])
                    return 204, None
            raise _ApiError(404, f"no route for {method} {self.path}")

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler
