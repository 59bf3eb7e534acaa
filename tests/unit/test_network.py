"""Network faults: the Toxiproxy API through toxiproxy-python, toxics on real TCP connections.

Runs against the embedded Toxiproxy-compatible server, or against a real Toxiproxy when
``TOXIPROXY_URL`` is set (the same tests, unchanged).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import toxiproxy.exceptions

from faults import (
    Bandwidth,
    Down,
    Fault,
    FaultPlan,
    Latency,
    LimitData,
    NetworkFaultError,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    network,
)
from harness import run_system
from harness.events import FaultInjected


class EchoServer:
    """A TCP echo server on 127.0.0.1; ``greeting`` is sent first on each connection if set."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.greeting:
                conn.sendall(self.greeting)
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[Any]:
    created = network.proxy("echo", echo.address)
    yield created
    network.reset()


@pytest.fixture(scope="module", autouse=True)
def _shutdown() -> Iterator[None]:
    yield
    network.shutdown()


def connect(proxy: Any) -> socket.socket:
    host, _, port = proxy.listen.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=3)


def roundtrip(proxy: Any, payload: bytes = b"hello") -> tuple[bytes, float, int]:
    """Send ``payload``, read until it is back or the connection ends: (data, seconds, recv calls)."""
    sock = connect(proxy)
    started = time.perf_counter()
    sock.sendall(payload)
    data, reads = b"", 0
    try:
        while len(data) < len(payload):
            chunk = sock.recv(65536)
            reads += 1
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return data, time.perf_counter() - started, reads


def add(fault_effect: Any) -> list[Any]:
    return network.arm(Fault(site="network", target="echo", call="every", effect=fault_effect))


# -- the API, through toxiproxy-python --------------------------------------------------------
def test_api_crud_through_toxiproxy_python(proxy: Any, echo: EchoServer) -> None:
    client = network.client()
    assert client.running()
    assert client.version()
    assert "echo" in client.proxies()
    assert client.get_proxy("echo").upstream == echo.address
    proxy.add_toxic(type="latency", name="slow", attributes={"latency": 10, "jitter": 0})
    toxics = proxy.toxics()
    assert toxics["slow"].type == "latency" and toxics["slow"].attributes["latency"] == 10
    assert toxics["slow"].stream == "downstream" and toxics["slow"].toxicity == 1.0
    with pytest.raises(toxiproxy.exceptions.ProxyExists):
        client.create(upstream=echo.address, name="echo")
    with pytest.raises(toxiproxy.exceptions.NotFound):
        proxy.destroy_toxic("nope")
    with pytest.raises(toxiproxy.exceptions.InvalidToxic):
        proxy.add_toxic(type="explode")
    proxy.destroy_toxic("slow")
    assert proxy.toxics() == {}
    proxy.add_toxic(type="bandwidth", attributes={"rate": 1})
    client.reset()
    assert proxy.toxics() == {}


def test_a_clean_proxy_forwards_bytes(proxy: Any) -> None:
    data, _, _ = roundtrip(proxy, b"x" * 10_000)
    assert data == b"x" * 10_000


# -- toxics on real sockets -------------------------------------------------------------------
def test_latency_delays_the_reply(proxy: Any) -> None:
    add(Latency(seconds=0.15))
    data, seconds, _ = roundtrip(proxy)
    assert data == b"hello" and seconds >= 0.14


def test_upstream_latency_and_toxicity_zero(proxy: Any) -> None:
    add(Latency(seconds=0.15, stream="upstream"))
    _, seconds, _ = roundtrip(proxy)
    assert seconds >= 0.14
    network.reset()
    add(Latency(seconds=1.0, toxicity=0.000001))  # applies to (almost) no connection
    _, seconds, _ = roundtrip(proxy)
    assert seconds < 0.5


def test_bandwidth_limits_throughput(proxy: Any) -> None:
    add(Bandwidth(rate=50))  # 50 KB/s: 10 KB take about 0.2 s
    data, seconds, _ = roundtrip(proxy, b"y" * 10_000)
    assert data == b"y" * 10_000 and seconds >= 0.15


def test_slicer_cuts_data_into_small_packets(proxy: Any) -> None:
    add(Slicer(average_size=4, delay=0.002))
    data, _, reads = roundtrip(proxy, b"z" * 64)
    assert data == b"z" * 64 and reads >= 4


def test_limit_data_closes_the_connection_mid_transfer(proxy: Any) -> None:
    add(LimitData(bytes=3))
    data, _, _ = roundtrip(proxy, b"hello")
    assert data == b"hel"


def test_reset_peer_resets_the_connection(proxy: Any) -> None:
    add(ResetPeer())
    with pytest.raises(ConnectionResetError):
        sock = connect(proxy)
        sock.sendall(b"hello")
        while sock.recv(1024):
            pass


def test_timeout_drops_data_then_closes(proxy: Any) -> None:
    add(Timeout(after=0.2))
    sock = connect(proxy)
    started = time.perf_counter()
    sock.sendall(b"hello")
    assert sock.recv(1024) == b""  # nothing came back; the proxy closed after the timeout
    assert time.perf_counter() - started >= 0.15
    sock.close()


def test_slow_close_delays_the_close(proxy: Any) -> None:
    add(SlowClose(delay=0.2))
    sock = connect(proxy)
    sock.sendall(b"bye")
    assert sock.recv(1024) == b"bye"
    sock.shutdown(socket.SHUT_WR)
    started = time.perf_counter()
    assert sock.recv(1024) == b""
    assert time.perf_counter() - started >= 0.15
    sock.close()


def test_down_refuses_connections_and_comes_back(proxy: Any) -> None:
    live = connect(proxy)
    live.sendall(b"ping")
    assert live.recv(1024) == b"ping"  # the proxy holds this connection before the fault is armed
    handles = add(Down())
    with pytest.raises(OSError):
        connect(proxy)
    assert live.recv(1024) == b""  # open connections are cut too
    network.disarm(handles)
    assert roundtrip(proxy)[0] == b"hello"


# -- network faults in a fault plan -------------------------------------------------------------
class TinyHTTP:
    """An HTTP server answering ``ok`` (the 'local service' a system calls through a proxy)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_plan_arms_network_faults_for_the_run_and_disarms_them_after() -> None:
    service = TinyHTTP()
    try:
        search = network.proxy("search", service.address)
        url = f"http://{search.listen}/"

        def system() -> str:
            with httpx2.Client(timeout=2) as client:
                return client.get(url).text

        assert run_system(system).output == "ok"
        plan = FaultPlan(faults=(Fault(site="network", target="search", call="every", effect=Down()),))
        run = run_system(system, hooks=plan.hooks())
        assert isinstance(run.error, httpx2.ConnectError)  # what a down service looks like to a client
        (injected,) = run.log.of(FaultInjected)
        assert injected.site == "network" and injected.target == "search" and injected.effect == "down"
        assert run_system(system).output == "ok"  # disarmed when the run ended
        assert network.client().get_proxy("search").enabled

        slow = FaultPlan(
            faults=(Fault(site="network", target="search", call="every", effect=Latency(seconds=0.2)),)
        )
        started = time.perf_counter()
        assert run_system(system, hooks=slow.hooks()).output == "ok"
        assert time.perf_counter() - started >= 0.2
        assert network.client().get_proxy("search").toxics() == {}
    finally:
        service.close()


def test_unknown_proxy_is_a_clear_error() -> None:
    plan = FaultPlan(faults=(Fault(site="network", target="nowhere", call="every", effect=Down()),))
    with pytest.raises(NetworkFaultError, match=r"no proxy named 'nowhere'.*faults\.network\.proxy"):
        run_system(lambda: None, hooks=plan.hooks())


def test_bad_proxy_arguments_are_clear_errors() -> None:
    with pytest.raises(NetworkFaultError, match="expected HOST:PORT"):
        network.proxy("x", "localhost")


@pytest.mark.skipif(bool(os.environ.get("TOXIPROXY_URL")), reason="checks the embedded server's URL handling")
def test_toxiproxy_url_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = network.api_url()
    monkeypatch.setenv("TOXIPROXY_URL", embedded)  # the embedded server is a Toxiproxy too
    assert network.api_url() == embedded
    monkeypatch.setenv("TOXIPROXY_URL", "not a url")
    with pytest.raises(NetworkFaultError, match="TOXIPROXY_URL='not a url'"):
        network.api_url()
