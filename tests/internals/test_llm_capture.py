"""LLM capture through the openai SDK over an in-process transport (httpx2.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import openai
import pytest

from harness import RunHooks, agent, run_system
from harness._capture._llm import capture, describe_request, parse_sse
from harness.events import LLMCall
from harness.hooks import LLMSite, RunContext

SSE = (
    'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
    'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n'
    'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\n'
    "data: [DONE]\n\n"
)


def _reply(request: httpx2.Request) -> httpx2.Response:
    if not request.url.path.endswith("/chat/completions"):
        return httpx2.Response(200, json={"ok": True})
    body = json.loads(request.content)
    if body.get("stream"):
        return httpx2.Response(200, content=SSE.encode(), headers={"content-type": "text/event-stream"})
    text = body["messages"][-1]["content"]
    return httpx2.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"echo {text}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    )


def _client(**kw: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://llm.test/v1",
        api_key="k",
        max_retries=kw.pop("max_retries", 0),
        http_client=httpx2.Client(transport=httpx2.MockTransport(_reply)),
        **kw,
    )


def _aclient() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://llm.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_reply)),
    )


def test_sync_call_becomes_one_event_attributed_to_the_agent() -> None:
    def system() -> str:
        with agent("planner"):
            return (
                _client()
                .chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], temperature=0
                )
                .choices[0]
                .message.content
                or ""
            )

    run = run_system(system)
    assert run.output == "echo hi"
    (event,) = run.log.of(LLMCall)
    assert event.agent == "planner" and event.parent_step_id == "s1"
    assert event.model == "m" and event.path == "/v1/chat/completions" and event.status_code == 200
    assert event.messages == [{"role": "user", "content": "hi"}]
    assert event.response_text == "echo hi" and event.finish_reason == "stop"
    assert (event.prompt_tokens, event.completion_tokens) == (3, 2)
    assert event.source == "live" and event.occurrence == 1 and not event.stream


def test_streams_are_emitted_once_consumed_with_the_parsed_text() -> None:
    async def system() -> str:
        client = _aclient()
        async with agent("streamer"):
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "s"}], stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    run = run_system(system)
    assert run.output == "Hello"
    (event,) = run.log.of(LLMCall)
    assert event.stream and event.response_text == "Hello" and event.finish_reason == "stop"
    assert (event.prompt_tokens, event.completion_tokens) == (4, 2)


def test_a_stream_closed_early_is_still_emitted() -> None:
    def system() -> str:
        stream = _client().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "s"}], stream=True
        )
        first = next(iter(stream))
        stream.close()
        return first.choices[0].delta.role or ""

    run = run_system(system)
    assert run.output == "assistant"
    assert len(run.log.of(LLMCall)) == 1


def test_identical_requests_count_occurrences_and_agents_count_calls() -> None:
    async def system() -> None:
        client = _aclient()

        async def leg(name: str) -> None:
            async with agent(name):
                for _ in range(2):
                    await client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": "x"}]
                    )

        await asyncio.gather(leg("a"), leg("b"))

    run = run_system(system)
    events = run.log.of(LLMCall)
    assert sorted(e.occurrence for e in events) == [1, 2, 3, 4]
    assert len({e.request_digest for e in events}) == 1


class _FlakyHooks(RunHooks):
    """Answers the first attempt with a 429 itself; lets the retry through."""

    def __init__(self) -> None:
        self.sites: list[LLMSite] = []

    def llm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], httpx2.Response]
    ) -> httpx2.Response:
        self.sites.append(site)
        if len(self.sites) == 1:
            return httpx2.Response(
                429,
                json={"error": {"message": "slow down"}},
                headers={"retry-after": "0"},
                request=site.request,
            )
        return proceed()


def test_hooks_see_each_attempt_and_an_injected_reply_is_marked() -> None:
    hooks = _FlakyHooks()

    def system() -> str:
        with agent("writer"):
            return (
                _client(max_retries=2)
                .chat.completions.create(model="m", messages=[{"role": "user", "content": "retry me"}])
                .choices[0]
                .message.content
                or ""
            )

    run = run_system(system, hooks=hooks)
    assert run.output == "echo retry me"  # the SDK's own retry went through
    assert [s.call for s in hooks.sites] == [1, 2] and hooks.sites[0].agent == "writer"
    assert hooks.sites[0].digest == hooks.sites[1].digest and hooks.sites[0].request is not None
    first, second = run.log.of(LLMCall)
    assert (first.source, first.status_code, first.error) == ("injected", 429, "slow down")
    assert (second.source, second.status_code) == ("live", 200)


class _TimeoutHooks(RunHooks):
    async def allm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], Awaitable[httpx2.Response]]
    ) -> httpx2.Response:
        raise httpx2.ReadTimeout("injected timeout", request=site.request)


def test_an_injected_exception_is_recorded_as_the_calls_error() -> None:
    async def system() -> str:
        try:
            await _aclient().chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        except openai.APITimeoutError:
            return "timed out"
        return "answered"

    run = run_system(system, hooks=_TimeoutHooks())
    assert run.output == "timed out"
    (event,) = run.log.of(LLMCall)
    assert event.source == "injected" and event.error_type == "ReadTimeout" and event.status_code is None


def test_non_llm_traffic_and_calls_outside_a_run_are_untouched() -> None:
    def system() -> Any:
        with httpx2.Client(transport=httpx2.MockTransport(_reply)) as http:
            return http.get("http://service.test/health").json()

    run = run_system(system)
    assert run.output == {"ok": True} and run.log.of(LLMCall) == []
    original = httpx2.Client.send
    with capture():
        with capture():
            assert httpx2.Client.send is not original
        reply = _client().chat.completions.create(model="m", messages=[{"role": "user", "content": "out"}])
        assert reply.choices[0].message.content == "echo out"  # outside a run: passed straight through
    assert httpx2.Client.send is original


def test_the_digest_ignores_volatile_fields_and_secrets_but_not_sampling() -> None:
    def key(body: dict[str, Any], query: str = "") -> str:
        return describe_request("POST", "/v1/chat/completions", query, json.dumps(body).encode()).digest

    base = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    assert key(base) == key({**base, "user": "u-1", "metadata": {"trace": "t"}})
    # A different key value does not change the digest: secrets are replaced before hashing.
    assert key({**base, "api_key": "sk-abcdefghijklmnopqrstuvwx"}) == key(
        {**base, "api_key": "sk-zyxwvutsrqponmlkjih"}
    )
    assert key(base, "api-key=one") == key(base, "api-key=two")
    assert key(base) != key({**base, "temperature": 0.7})
    assert key(base) != key({**base, "model": "m2"})
    assert key(base) != key({**base, "tools": [{"type": "function", "function": {"name": "f"}}]})


def test_parse_sse_merges_tool_call_deltas() -> None:
    text = (
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function",'
        '"function":{"name":"look","arguments":""}}]}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
        '"function":{"arguments":"{\\"q\\":"}}]}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},'
        '"finish_reason":"tool_calls"}]}\n\n'
        "data: [DONE]\n\n"
    )
    parsed = parse_sse(text)
    assert parsed["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "look", "arguments": '{"q":1}'}}
    ]
    assert parsed["finish_reason"] == "tool_calls" and "response_text" not in parsed


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/completions", "/v1/responses"])
def test_other_llm_endpoints_are_captured(path: str) -> None:
    def system() -> int:
        with httpx2.Client(transport=httpx2.MockTransport(_reply)) as http:
            return http.post(f"http://llm.test{path}", json={"model": "m", "input": "x"}).status_code

    run = run_system(system)
    assert run.output == 200
    (event,) = run.log.of(LLMCall)
    assert event.path == path and event.messages == [{"role": "user", "content": "x"}]
