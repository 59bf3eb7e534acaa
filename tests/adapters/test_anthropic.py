"""The Anthropic SDK (``anthropic``, Messages API): calls become ``llm_call`` events of the current
agent, are recorded and replayed by the cassette, and are LLM fault sites whose synthetic failures
have Anthropic's shapes. There is no Anthropic-compatible local model server, so the real SDK talks
over real HTTP to a fake Messages API server on 127.0.0.1 (tests/_support/fake_anthropic.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "anthropic", reason="the Anthropic SDK is not installed: pip install 'brownout[anthropic]'"
)

import anthropic
from _support.fake_anthropic import FakeAnthropic

from faults import FaultPlan
from harness import agent, run_system
from harness.cassettes import Cassette

KEY = "sk-ant-api03-" + "Q" * 40  # key-shaped: it must not reach any file
LOOKUP = {
    "name": "lookup",
    "description": "Look a fact up.",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    try:
        yield fake
    finally:
        fake.stop()


def _client(server: FakeAnthropic, **kwargs: Any) -> Any:
    return anthropic.Anthropic(base_url=server.url, api_key=KEY, **kwargs)


def _calls(run: Any) -> list[Any]:
    return [e for e in run.log if e.kind == "llm_call"]


# -- capture ------------------------------------------------------------------------------------
def test_a_call_is_an_llm_call_of_the_current_agent(server: FakeAnthropic) -> None:
    def app() -> str:
        client = _client(server)
        with agent("writer"):
            reply = client.messages.create(
                model="claude-test",
                max_tokens=64,
                system="Be brief.",
                messages=[{"role": "user", "content": "hello there"}],
            )
        return str(reply.content[0].text)

    run = run_system(app)
    assert run.error is None and run.output == "reply #1 to: hello there"
    (call,) = _calls(run)
    assert (call.agent, call.path, call.model, call.source, call.stream) == (
        "writer",
        "/v1/messages",
        "claude-test",
        "live",
        False,
    )
    assert call.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert (call.response_text, call.finish_reason) == ("reply #1 to: hello there", "end_turn")
    assert (call.prompt_tokens, call.completion_tokens, call.status_code) == (11, 7, 200)


def test_tool_use_and_tool_result_read_like_chat_tool_calls(server: FakeAnthropic) -> None:
    def app() -> str:
        client = _client(server)
        with agent("researcher"):
            question = [{"role": "user", "content": "capital of Peru"}]
            asked = client.messages.create(model="c", max_tokens=64, tools=[LOOKUP], messages=question)
            use = asked.content[0]
            answered = client.messages.create(
                model="c",
                max_tokens=64,
                tools=[LOOKUP],
                messages=[
                    *question,
                    {"role": "assistant", "content": [use.model_dump()]},
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Lima"}],
                    },
                ],
            )
        return str(answered.content[0].text)

    run = run_system(app)
    assert run.output == "tool said: Lima"
    first, second = _calls(run)
    call = {
        "id": "toolu_0001",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"query":"capital of Peru"}'},
    }
    assert (first.tools, first.tool_calls, first.finish_reason) == (["lookup"], [call], "tool_use")
    assert second.messages == [
        {"role": "user", "content": "capital of Peru"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_0001", "content": "Lima"},
    ]
    assert second.response_text == "tool said: Lima"


def test_streamed_text_and_tool_input_are_reassembled(server: FakeAnthropic) -> None:
    def app() -> tuple[str, Any]:
        client = _client(server)
        with agent("streamer"):
            with client.messages.stream(
                model="c", max_tokens=64, messages=[{"role": "user", "content": "tell me"}]
            ) as stream:
                text = stream.get_final_text()
            with client.messages.stream(
                model="c", max_tokens=64, tools=[LOOKUP], messages=[{"role": "user", "content": "look"}]
            ) as stream:
                message = stream.get_final_message()
        return text, message.content[0].input

    run = run_system(app)
    assert run.output == ("reply #1 to: tell me", {"query": "look"})
    text, tool = _calls(run)
    assert (text.stream, text.response_text, text.finish_reason) == (True, "reply #1 to: tell me", "end_turn")
    assert (text.prompt_tokens, text.completion_tokens) == (11, 7)
    assert [c["function"]["name"] for c in tool.tool_calls] == ["lookup"]
    assert json.loads(tool.tool_calls[0]["function"]["arguments"]) == {"query": "look"}
    assert tool.finish_reason == "tool_use"


def test_async_client_in_gathered_agents_is_attributed_to_each(server: FakeAnthropic) -> None:
    async def ask(name: str) -> str:
        client = anthropic.AsyncAnthropic(base_url=server.url, api_key=KEY)
        async with agent(name):
            reply = await client.messages.create(
                model="c", max_tokens=32, messages=[{"role": "user", "content": f"from {name}"}]
            )
            await client.close()
        return str(reply.content[0].text)

    async def app() -> list[str]:
        return list(await asyncio.gather(ask("north"), ask("south")))

    run = run_system(app)
    assert run.output == ["reply #1 to: from north", "reply #1 to: from south"]
    assert {(c.agent, c.response_text) for c in _calls(run)} == {
        ("north", "reply #1 to: from north"),
        ("south", "reply #1 to: from south"),
    }


# -- cassettes ----------------------------------------------------------------------------------
def _ask_twice(server_url: str) -> Any:
    def app() -> list[str]:
        client = anthropic.Anthropic(base_url=server_url, api_key=KEY)
        out = []
        with agent("writer"):
            for _ in range(2):  # identical requests: the n-th gets the n-th recording
                reply = client.messages.create(
                    model="c", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
                )
                out.append(str(reply.content[0].text))
            with client.messages.stream(
                model="c", max_tokens=32, messages=[{"role": "user", "content": "s"}]
            ) as s:
                out.append(s.get_final_text())
        return out

    return app


def test_recorded_then_replayed_offline_identically(
    server: FakeAnthropic, tmp_path: Path, socket_guard_factory: Any
) -> None:
    path = tmp_path / "anthropic.json"
    recorder = Cassette(path, record_mode="once")
    recorded = run_system(_ask_twice(server.url), cassette=recorder)
    recorder.close()
    expected = ["reply #1 to: hi", "reply #2 to: hi", "reply #1 to: s"]
    assert recorded.output == expected and len(server.requests) == 3
    stored = path.read_text()
    assert "/v1/messages" in stored and "message_start" in stored
    assert "Q" * 40 not in stored  # the x-api-key header is scrubbed
    url = server.url
    server.stop()
    guard = socket_guard_factory()
    replays = [run_system(_ask_twice(url), cassette=Cassette(path, record_mode="none")) for _ in range(3)]
    assert [r.output for r in replays] == [expected] * 3
    assert {c.source for r in replays for c in _calls(r)} == {"replayed"}
    logs = [[e.model_dump(exclude={"run_id"}) for e in r.log] for r in replays]
    assert logs[0] == logs[1] == logs[2]
    assert guard.attempts == []


# -- faults -------------------------------------------------------------------------------------
def _plan(effect: dict[str, Any]) -> Any:
    fault = {"site": "llm", "target": "writer", "call": 1, "effect": effect}
    return FaultPlan.from_json(json.dumps({"faults": [fault]})).hooks()


def _one_call(server: FakeAnthropic, stream: bool) -> Any:
    def app() -> Any:
        client = _client(server, max_retries=0)
        with agent("writer"):
            messages = [{"role": "user", "content": "hi"}]
            if stream:
                with client.messages.stream(model="c", max_tokens=32, messages=messages) as s:
                    return s.get_final_message()
            return client.messages.create(model="c", max_tokens=32, messages=messages)

    return app


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(
    ("effect", "error", "error_type"),
    [
        ({"kind": "rate_limit", "retry_after": 3}, "RateLimitError", "rate_limit_error"),
        ({"kind": "server_error", "status": 500}, "InternalServerError", "api_error"),
        ({"kind": "server_error", "status": 503}, "ServiceUnavailableError", "overloaded_error"),
        ({"kind": "server_error", "status": 504}, "GatewayTimeoutError", "timeout_error"),
        ({"kind": "context_length"}, "BadRequestError", "invalid_request_error"),
    ],
)
def test_status_faults_are_anthropic_errors(
    server: FakeAnthropic, stream: bool, effect: dict[str, Any], error: str, error_type: str
) -> None:
    run = run_system(_one_call(server, stream), hooks=_plan(effect))
    assert type(run.error).__name__ == error
    assert isinstance(run.error, anthropic.APIStatusError)
    assert run.error.body["error"]["type"] == error_type  # parsed from Anthropic's error shape
    assert run.error.request_id and run.error.request_id.startswith("req_brownout")
    (call,) = _calls(run)
    assert (call.source, call.status_code, call.agent) == ("injected", run.error.status_code, "writer")
    assert call.error and call.error == run.error.body["error"]["message"]
    assert server.requests == []  # answered by the fault, never sent


def test_rate_limit_retry_after_is_honoured_on_the_virtual_clock(server: FakeAnthropic) -> None:
    def app() -> str:
        client = _client(server, max_retries=2)
        with agent("writer"):
            return str(
                client.messages.create(model="c", max_tokens=8, messages=[{"role": "user", "content": "x"}])
                .content[0]
                .text
            )

    run = run_system(app, hooks=_plan({"kind": "rate_limit", "retry_after": 20}))
    assert run.output == "reply #1 to: x"
    limited, served = _calls(run)
    assert (limited.status_code, limited.source, served.source) == (429, "injected", "live")
    assert served.t - limited.t >= 20  # the SDK waited retry-after, in virtual time


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_an_empty_reply_is_a_valid_message_with_no_content(server: FakeAnthropic, stream: bool) -> None:
    run = run_system(_one_call(server, stream), hooks=_plan({"kind": "empty"}))
    assert run.error is None
    assert isinstance(run.output, anthropic.types.Message)
    assert (run.output.content, run.output.stop_reason) == ([], "end_turn")
    (call,) = _calls(run)
    assert (call.source, call.response_text, call.finish_reason) == ("injected", None, "end_turn")


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_a_malformed_reply_cannot_be_decoded(server: FakeAnthropic, stream: bool) -> None:
    run = run_system(_one_call(server, stream), hooks=_plan({"kind": "malformed"}))
    assert isinstance(run.error, ValueError)  # the SDK's JSON decoding fails, as on a real broken body
    (call,) = _calls(run)
    assert (call.source, call.status_code) == ("injected", 200)


@pytest.mark.parametrize(
    ("effect", "error"),
    [({"kind": "timeout", "after": 30}, "APITimeoutError"), ({"kind": "disconnect"}, "APIConnectionError")],
)
def test_transport_faults_are_the_sdk_connection_errors(
    server: FakeAnthropic, effect: dict[str, Any], error: str
) -> None:
    run = run_system(_one_call(server, False), hooks=_plan(effect))
    assert type(run.error).__name__ == error
    (call,) = _calls(run)
    assert call.source == "injected" and call.error_type in ("ReadTimeout", "RemoteProtocolError")


def test_a_cut_stream_keeps_the_text_that_arrived(server: FakeAnthropic) -> None:
    run = run_system(_one_call(server, True), hooks=_plan({"kind": "truncated", "after_chunks": 4}))
    assert run.error is not None and "incomplete" in str(run.error)
    (call,) = _calls(run)
    assert call.response_text == "reply"  # message_start, ping, block start, the first word
    assert call.source == "injected"


def test_wrong_value_faults_rewrite_the_tool_input(server: FakeAnthropic) -> None:
    def app() -> Any:
        client = _client(server)
        with agent("writer"):
            reply = client.messages.create(
                model="c", max_tokens=32, tools=[LOOKUP], messages=[{"role": "user", "content": "inv-7"}]
            )
        return reply.content[0].input

    run = run_system(app, hooks=_plan({"kind": "altered_field"}))
    assert run.output == {"query": "inv-8"}
    (call,) = _calls(run)
    assert json.loads(call.tool_calls[0]["function"]["arguments"]) == {"query": "inv-8"}


# -- end to end through pytest ------------------------------------------------------------------
APP = """
import anthropic

from harness import agent


def summarize(text):
    client = anthropic.Anthropic(max_retries=1)  # ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY
    with agent("summarizer"):
        reply = client.messages.create(
            model="claude-test", max_tokens=64, messages=[{"role": "user", "content": text}]
        )
    return reply.content[0].text


def careful_summary(text):
    client = anthropic.Anthropic(max_retries=1, timeout=30)  # a hung call gives up after 30 s
    with agent("summarizer"):
        try:
            reply = client.messages.create(
                model="claude-test", max_tokens=64, messages=[{"role": "user", "content": text}]
            )
        except (anthropic.APIError, ValueError) as exc:  # ValueError: a body that is not JSON
            return f"no summary (the model failed: {type(exc).__name__})"
    texts = [block.text for block in reply.content if block.type == "text"]
    return texts[0] if texts else "no summary (the model said nothing)"
"""

TEST = """
import pytest

from app import careful_summary, summarize


@pytest.mark.chaos(faults=["llm"], checks="default", examples=20)
def test_summary(chaos):
    run = chaos.run(summarize, "the quarterly report")
    assert run.output.startswith("reply #")


@pytest.mark.chaos(faults=["llm"], checks="default", examples=20)
def test_careful_summary(chaos):
    run = chaos.run(careful_summary, "the quarterly report")
    assert run.output.startswith(("reply #", "no summary"))
"""


def test_pytest_records_replays_and_explores_anthropic_calls(
    pytester: pytest.Pytester, server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    pytester.makepyfile(app=APP, test_app=TEST)
    pytester.runpytest_subprocess("--chaos-record-mode=once").assert_outcomes(passed=2)
    assert len(server.requests) == 2
    (cassette,) = pytester.path.glob("cassettes/**/test_summary.json")
    assert "Q" * 40 not in cassette.read_text()
    server.stop()  # from here on, everything is offline

    pytester.runpytest_subprocess().assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess("--chaos", "--chaos-seed=3", "--chaos-report=out")
    # The naive summary crashes on a failed or empty reply; the careful one degrades honestly.
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "test_app.py::test_summary" in text and "reproduce: pytest test_app.py::test_summary" in text
    assert "llm[summarizer]#1" in text
    assert "FAILED test_app.py::test_careful_summary" not in text


# -- any other client: harness.llm_call ---------------------------------------------------------
def test_a_client_brownout_does_not_capture_records_its_calls_with_llm_call(server: FakeAnthropic) -> None:
    import urllib.request

    from harness import llm_call

    def app() -> str:
        body = {"model": "c", "max_tokens": 16, "messages": [{"role": "user", "content": "plain http"}]}
        request = urllib.request.Request(
            f"{server.url}/v1/messages",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json", "x-api-key": KEY},
        )
        with agent("legacy"):
            with urllib.request.urlopen(request, timeout=10) as response:  # not an httpx client
                reply = json.loads(response.read())
            text = reply["content"][0]["text"]
            llm_call(
                model=body["model"],
                messages=body["messages"],
                reply=text,
                prompt_tokens=reply["usage"]["input_tokens"],
                completion_tokens=reply["usage"]["output_tokens"],
            )
        return str(text)

    run = run_system(app)
    assert run.output == "reply #1 to: plain http"
    (call,) = _calls(run)
    assert (call.agent, call.source, call.model, call.response_text) == (
        "legacy",
        "external",
        "c",
        "reply #1 to: plain http",
    )
    assert (call.prompt_tokens, call.completion_tokens) == (11, 7)
    assert call.messages == [{"role": "user", "content": "plain http"}]
