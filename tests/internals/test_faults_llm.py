"""LLM faults look exactly like a real server's failure to the official openai SDK.

Every test drives the real SDK over real HTTP (a fake OpenAI-compatible server on
127.0.0.1) through brownout's capture path (``harness.run_system``), with the fault plan's
hooks injecting the failure. The differential tests serve the *same* bytes from a real
HTTP server with no fault injection and check the SDK reacts identically.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from _support.fake_openai import FakeOpenAI
from _support.openai_http import STREAM_ERRORS_WRAPPED, http

from faults import (
    ContextLengthExceeded,
    Disconnect,
    EmptyResponse,
    Fault,
    FaultPlan,
    Hang,
    Latency,
    MalformedResponse,
    RateLimit,
    ServerError,
    Timeout,
    TruncatedResponse,
)
from harness import agent, run_system
from harness._log._events import FaultInjected, LLMCall


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


MESSAGES = [{"role": "user", "content": "hello"}]


def _plan(effect: Any, call: int | str = 1, target: str | None = "bot") -> FaultPlan:
    return FaultPlan(faults=[Fault(site="llm", target=target, call=call, effect=effect)])  # type: ignore[arg-type]


def _async_system(url: str, *, retries: int = 0, timeout: float | None = 30.0, stream: bool = False) -> Any:
    async def system() -> Any:
        client = openai.AsyncOpenAI(base_url=url, api_key="sk-test", max_retries=retries, timeout=timeout)
        async with agent("bot"):
            if stream:
                chunks = []
                events = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
                async for chunk in events:
                    if chunk.choices and chunk.choices[0].delta.content:
                        chunks.append(chunk.choices[0].delta.content)
                return "".join(chunks)
            reply = await client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
            return reply.choices[0].message.content

    return system


def _sync_system(url: str, *, retries: int = 0, timeout: float | None = 30.0) -> Any:
    def system() -> Any:
        client = openai.OpenAI(base_url=url, api_key="sk-test", max_retries=retries, timeout=timeout)
        with agent("bot"):
            reply = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
            return reply.choices[0].message.content

    return system


def _faults_then_call(run: Any) -> tuple[FaultInjected, LLMCall]:
    injected = run.log.of(FaultInjected)
    calls = run.log.of(LLMCall)
    assert injected and calls
    assert injected[0].seq < calls[0].seq, "the fault_injected event must come before the call it affects"
    return injected[0], calls[0]


# -- status errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("effect", "error", "status"),
    [
        (RateLimit(retry_after=20), openai.RateLimitError, 429),
        (ServerError(status=500), openai.InternalServerError, 500),
        (ServerError(status=502), openai.InternalServerError, 502),
        (ServerError(status=503), openai.InternalServerError, 503),
        (ContextLengthExceeded(), openai.BadRequestError, 400),
    ],
)
def test_status_faults_raise_the_sdk_error_of_a_real_reply(
    server: Any, effect: Any, error: Any, status: int
) -> None:
    run = run_system(_async_system(server.url), hooks=_plan(effect).hooks())
    assert type(run.error) is error
    assert run.error.status_code == status
    injected, call = _faults_then_call(run)
    assert injected.effect == str(effect) and injected.target == "bot" and injected.call == 1
    assert call.status_code == status and call.source == "injected"


def test_context_length_error_carries_the_provider_code(server: Any) -> None:
    run = run_system(_sync_system(server.url), hooks=_plan(ContextLengthExceeded()).hooks())
    assert isinstance(run.error, openai.BadRequestError)
    assert run.error.code == "context_length_exceeded"
    assert run.error.type == "invalid_request_error"
    assert "maximum context length" in str(run.error)


def test_rate_limit_is_retried_by_the_sdk_honouring_retry_after_in_virtual_time(server: Any) -> None:
    started = time.perf_counter()
    run = run_system(_async_system(server.url, retries=2), hooks=_plan(RateLimit(retry_after=20)).hooks())
    wall = time.perf_counter() - started
    assert run.error is None
    assert run.output.startswith("reply #")
    calls = run.log.of(LLMCall)
    assert [c.status_code for c in calls] == [429, 200]
    assert [c.source for c in calls] == ["injected", "live"]
    assert calls[1].t - calls[0].t == pytest.approx(20.0, abs=0.5)  # the SDK slept retry-after, virtually
    assert wall < 20  # the real 20 s retry-after wait would exceed it; not a speed target


def test_sync_client_sees_the_same_rate_limit(server: Any) -> None:
    run = run_system(_sync_system(server.url), hooks=_plan(RateLimit()).hooks())
    assert type(run.error) is openai.RateLimitError
    assert run.error.code == "rate_limit_exceeded"
    assert run.error.response.headers["retry-after"] == "1"


# -- bodies -------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_malformed_body_fails_to_decode_like_a_broken_server(server: Any, stream: bool) -> None:
    run = run_system(_async_system(server.url, stream=stream), hooks=_plan(MalformedResponse()).hooks())
    assert isinstance(run.error, json.JSONDecodeError)


@pytest.mark.parametrize("stream", [False, True])
def test_empty_reply_is_a_well_formed_empty_answer(server: Any, stream: bool) -> None:
    run = run_system(_async_system(server.url, stream=stream), hooks=_plan(EmptyResponse()).hooks())
    assert run.error is None
    assert run.output in ("", None)
    _, call = _faults_then_call(run)
    assert call.status_code == 200 and call.source == "injected"


def test_truncated_stream_cuts_the_connection_mid_answer(server: Any) -> None:
    run = run_system(
        _async_system(server.url, stream=True), hooks=_plan(TruncatedResponse(after_chunks=2)).hooks()
    )
    # openai 3.x wraps a stream that dies mid-way in APIConnectionError, caused by its transport's
    # error; 2.x raises the transport's error itself.
    if STREAM_ERRORS_WRAPPED:
        assert type(run.error) is openai.APIConnectionError
        cut = run.error.__cause__
    else:
        cut = run.error
    assert isinstance(cut, http.RemoteProtocolError)
    assert "incomplete chunked read" in str(cut)
    # The server really answered: the request reached it before the connection was cut.
    assert any(r.path.endswith("/chat/completions") for r in server.requests)


def test_truncated_body_without_streaming_is_a_connection_error(server: Any) -> None:
    run = run_system(_async_system(server.url), hooks=_plan(TruncatedResponse()).hooks())
    assert type(run.error) is openai.APIConnectionError
    assert isinstance(run.error.__cause__, http.RemoteProtocolError)


def test_disconnect_is_a_connection_error(server: Any) -> None:
    run = run_system(_sync_system(server.url), hooks=_plan(Disconnect()).hooks())
    assert type(run.error) is openai.APIConnectionError


# -- time ---------------------------------------------------------------------------------
def test_timeout_fires_at_the_clients_own_timeout_in_virtual_time(server: Any) -> None:
    started = time.perf_counter()
    run = run_system(_async_system(server.url, timeout=30.0), hooks=_plan(Timeout()).hooks())
    wall = time.perf_counter() - started
    assert type(run.error) is openai.APITimeoutError
    assert isinstance(run.error.__cause__, http.ReadTimeout)
    _, call = _faults_then_call(run)
    assert call.latency == pytest.approx(30.0)
    assert wall < 25  # a real 30 s wait would exceed it whatever the load; not a speed target


def test_sync_timeout_uses_the_logical_clock(server: Any) -> None:
    run = run_system(_sync_system(server.url, timeout=12.0), hooks=_plan(Timeout()).hooks())
    assert type(run.error) is openai.APITimeoutError
    assert run.log[-1].t == pytest.approx(12.0)


def test_timeout_is_retried_by_the_sdk(server: Any) -> None:
    run = run_system(_async_system(server.url, retries=1, timeout=10.0), hooks=_plan(Timeout()).hooks())
    assert run.error is None
    assert [c.source for c in run.log.of(LLMCall)] == ["injected", "live"]


def test_hang_without_a_client_timeout_blocks_until_cancelled(server: Any) -> None:
    inner = _async_system(server.url, timeout=None)

    async def system() -> Any:
        return await asyncio.wait_for(inner(), 45)

    run = run_system(system, hooks=_plan(Hang()).hooks())
    assert isinstance(run.error, TimeoutError)
    assert run.log[-1].t == pytest.approx(45.0)


def test_hang_with_a_client_timeout_times_out_like_a_real_stuck_server(server: Any) -> None:
    run = run_system(_async_system(server.url, timeout=7.0), hooks=_plan(Hang()).hooks())
    assert type(run.error) is openai.APITimeoutError
    assert run.log[-1].t == pytest.approx(7.0)


def test_latency_delays_then_answers(server: Any) -> None:
    run = run_system(_async_system(server.url), hooks=_plan(Latency(seconds=3)).hooks())
    assert run.error is None and run.output.startswith("reply #")
    _, call = _faults_then_call(run)
    assert call.latency >= 3.0 and call.source == "live"


def test_call_numbers_count_each_http_attempt(server: Any) -> None:
    # The second attempt (the SDK's retry) is call 2: a fault there leaves the first alone.
    run = run_system(_async_system(server.url, retries=1), hooks=_plan(ServerError(), call=2).hooks())
    assert run.error is None
    assert [c.status_code for c in run.log.of(LLMCall)] == [200]


# -- differential: the same bytes from a real server -----------------------------------------
class _Replay(BaseHTTPRequestHandler):
    reply: tuple[int, dict[str, str], bytes] = (200, {}, b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, headers, body = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize(
    "effect",
    [
        RateLimit(retry_after=3),
        ServerError(status=500),
        ServerError(status=503),
        ServerError(status=502),
        ContextLengthExceeded(),
        MalformedResponse(),
        EmptyResponse(),
    ],
    ids=str,
)
def test_injected_failure_equals_the_same_reply_from_a_real_server(server: Any, effect: Any) -> None:
    request = http.Request(
        "POST", "http://127.0.0.1/v1/chat/completions", json={"model": "m", "messages": MESSAGES}
    )
    synthetic = effect.reply(request, 1)
    real_server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    real_server.reply = (synthetic.status_code, dict(synthetic.headers), synthetic.content)  # type: ignore[attr-defined]
    thread = threading.Thread(target=real_server.serve_forever, daemon=True)
    thread.start()
    try:
        real_url = f"http://127.0.0.1:{real_server.server_address[1]}/v1"
        real = run_system(_async_system(real_url))
        injected = run_system(_async_system(server.url), hooks=_plan(effect).hooks())
    finally:
        real_server.shutdown()
        real_server.server_close()
    assert type(injected.error) is type(real.error)
    if real.error is None:
        assert injected.output == real.output
    else:
        assert str(injected.error) == str(real.error)
        for attr in ("status_code", "code", "type", "param", "body"):
            assert getattr(injected.error, attr, None) == getattr(real.error, attr, None)
