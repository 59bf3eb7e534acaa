"""Cassettes with the real openai SDK against the fake server: record, stop the server, replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from _support.fake_openai import FakeOpenAI
from _support.guards import API_KEY, SocketGuard
from _support.openai_http import SEND_ERRORS_WRAPPED

from harness import CassetteError, CassetteMiss, ConfigError, agent, run_system, tool
from harness.cassettes import Cassette
from harness.events import LLMCall, ToolCall

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def every_kind_of_call(url: str) -> Any:
    """Sync, async, stream=True, the .stream() helper, tool calls, embeddings and 5 concurrent calls."""

    async def system() -> dict[str, Any]:
        sync = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        client = openai.AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        out: dict[str, Any] = {}
        async with agent("planner"):
            out["sync"] = (
                sync.chat.completions.create(model="m", messages=_user("plan")).choices[0].message.content
            )
            reply = await client.chat.completions.create(model="m", messages=_user("refine"), temperature=0)
            out["async"] = reply.choices[0].message.content
            stream = await client.chat.completions.create(
                model="m", messages=_user("stream it"), stream=True, stream_options={"include_usage": True}
            )
            out["stream"] = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            async with client.chat.completions.stream(model="m", messages=_user("helper")) as helper:
                async for _ in helper:
                    pass
                final = await helper.get_final_completion()
            out["helper"] = final.choices[0].message.content
            call = await client.chat.completions.create(
                model="m", messages=_user("weather in Oslo"), tools=[WEATHER_TOOL]
            )  # type: ignore[list-item]
            tool_call = call.choices[0].message.tool_calls[0]  # type: ignore[index]
            out["tool_call"] = [tool_call.function.name, json.loads(tool_call.function.arguments)]  # type: ignore[union-attr]
            embedded = await client.embeddings.create(model="e", input="vector me")
            out["embedding"] = embedded.data[0].embedding

        async def worker(i: int) -> str:
            async with agent(f"worker{i}"):
                r = await client.chat.completions.create(model="m", messages=_user(f"task {i}"))
                return r.choices[0].message.content or ""

        out["concurrent"] = await asyncio.gather(*(worker(i) for i in range(5)))
        return out

    return system


def _llm_view(run: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (
            e.agent,
            e.request_digest,
            e.occurrence,
            e.response_text,
            json.dumps(e.tool_calls, sort_keys=True),
            e.stream,
            e.prompt_tokens,
            e.completion_tokens,
            e.finish_reason,
        )
        for e in run.log.of(LLMCall)
    )


def test_record_then_replay_with_the_server_stopped_opens_no_socket(
    tmp_path: Path, openai_server: FakeOpenAI, socket_guard_factory: Any
) -> None:
    path = tmp_path / "c.json"
    system = every_kind_of_call(openai_server.url)
    recording = Cassette(path, record_mode="once", nodeid="t::x")
    recorded = run_system(system, cassette=recording)
    recording.close()
    assert recorded.error is None, recorded.error
    out = recorded.output
    assert out["sync"] == "reply #1 to: plan"
    assert out["stream"] == "reply #1 to: stream it"
    assert out["helper"] == "reply #1 to: helper"
    assert out["tool_call"] == ["get_weather", {"query": "weather in Oslo"}]
    assert sorted(out["concurrent"]) == [f"reply #1 to: task {i}" for i in range(5)]
    events = recorded.log.of(LLMCall)
    assert len(events) == 11 and {e.source for e in events} == {"live"}
    stream_event = next(e for e in events if e.messages == _user("stream it"))
    assert stream_event.stream and stream_event.response_text == "reply #1 to: stream it"
    assert stream_event.prompt_tokens == 11 and stream_event.finish_reason == "stop"
    tool_event = next(e for e in events if e.tools)
    assert tool_event.tools == ["get_weather"] and tool_event.finish_reason == "tool_calls"
    assert tool_event.tool_calls[0]["function"]["name"] == "get_weather"
    assert {e.agent for e in events} == {"planner", *(f"worker{i}" for i in range(5))}
    assert len(json.loads(path.read_text())["interactions"]) == 11

    openai_server.stop()
    guard: SocketGuard = socket_guard_factory()
    replaying = Cassette(path, record_mode="none", nodeid="t::x")
    replayed = run_system(system, cassette=replaying)
    assert replayed.error is None, replayed.error
    assert replayed.output == recorded.output
    assert guard.attempts == []
    assert {e.source for e in replayed.log.of(LLMCall)} == {"replayed"}
    assert _llm_view(replayed) == _llm_view(recorded)


def test_the_socket_guard_catches_a_real_connection(
    openai_server: FakeOpenAI, socket_guard_factory: Any
) -> None:
    guard: SocketGuard = socket_guard_factory()
    client = openai.OpenAI(base_url=openai_server.url, api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=_user("hello"))
    assert len(guard.attempts) >= 1


def test_three_identical_requests_replay_in_recorded_order(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    url = openai_server.url

    def system() -> list[str]:
        client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        with agent("asker"):
            return [
                client.chat.completions.create(model="m", messages=_user("same")).choices[0].message.content
                or ""
                for _ in range(3)
            ]

    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="new_episodes")
    first = run_system(system, cassette=cassette)
    cassette.close()
    assert first.output == ["reply #1 to: same", "reply #2 to: same", "reply #3 to: same"]
    openai_server.stop()
    replay = Cassette(path)
    for _ in range(2):  # every run replays from the first recording again
        again = run_system(system, cassette=replay)
        assert again.output == first.output
        assert [e.occurrence for e in again.log.of(LLMCall)] == [1, 2, 3]

    def four_times() -> list[str]:
        return [*system(), *system()[:1]]

    with pytest.raises(CassetteMiss) as info:
        run_system(four_times, cassette=replay)
    assert "holds this exact request 3 time(s); this run sent it a 4th time" in str(info.value)


@pytest.mark.parametrize(
    ("record_mode", "miss", "before", "concurrent"),
    [
        ("once", "strict", 0, 2),  # a fresh cassette
        ("new_episodes", "strict", 1, 3),  # one recording exists: replayed, the rest recorded
        ("all", "strict", 2, 5),  # two recordings exist: all five re-recorded
        ("none", "live", 1, 4),  # the miss policy appends
    ],
)
def test_identical_concurrent_requests_each_get_their_own_recording(
    tmp_path: Path,
    openai_server: FakeOpenAI,
    socket_guard_factory: Any,
    record_mode: str,
    miss: str,
    before: int,
    concurrent: int,
) -> None:
    """The n-th identical request *sent* in a run gets the n-th recording, also when they overlap.

    The server answers the overlapping requests last-arrived-first, so the recordings
    complete in the opposite order to the one they were sent in.
    """
    url = openai_server.url

    def system(n: int) -> Any:
        async def run() -> list[str]:
            async with openai.AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0) as client:

                async def sub_agent(i: int) -> str:
                    async with agent(f"researcher{i}"):
                        r = await client.chat.completions.create(model="m", messages=_user("same question"))
                        return r.choices[0].message.content or ""

                return list(await asyncio.gather(*(sub_agent(i) for i in range(n))))

        return run

    path = tmp_path / "c.json"
    if before:
        earlier = Cassette(path, record_mode="once")
        assert run_system(system(before), cassette=earlier).error is None
        earlier.close()
    # Requests a recording answers never reach the server: it waits only for the others.
    openai_server.answer_in_reverse(concurrent - (before if record_mode in ("new_episodes", "none") else 0))
    recording = Cassette(path, record_mode=record_mode, miss=miss)
    recorded = run_system(system(concurrent), cassette=recording)
    recording.close()
    assert recorded.error is None, recorded.error
    assert len(set(recorded.output)) == concurrent, recorded.output
    stored = json.loads(path.read_text())["interactions"]
    assert sorted(i["occurrence"] for i in stored) == list(range(1, concurrent + 1))

    openai_server.stop()
    guard: SocketGuard = socket_guard_factory()
    for _ in range(2):
        replayed = run_system(system(concurrent), cassette=Cassette(path))
        assert replayed.error is None, replayed.error
        assert replayed.output == recorded.output  # request i (in sending order) gets reply i
        assert [e.source for e in replayed.log.of(LLMCall)] == ["replayed"] * concurrent
    assert guard.attempts == []


def test_an_api_key_in_header_query_and_body_is_nowhere_in_the_cassette(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    url = openai_server.url

    @tool
    def call_partner(endpoint: str, api_key: str) -> str:
        return f"called {endpoint}"

    def system() -> str:
        client = openai.OpenAI(
            base_url=url,
            api_key=API_KEY,
            max_retries=0,
            default_query={"api-key": API_KEY},
            default_headers={"x-api-key": API_KEY},
        )
        with agent("leaky"):
            call_partner("https://partner.example", api_key=API_KEY)
            reply = client.chat.completions.create(
                model="m", messages=_user("hi"), extra_body={"api_key": API_KEY}
            )
            return reply.choices[0].message.content or ""

    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="all")
    run = run_system(system, cassette=cassette)
    cassette.close()
    assert run.error is None
    sent = openai_server.requests[-1]
    # The key really went over the wire in all three places ...
    assert sent.headers["authorization"] == f"Bearer {API_KEY}" and sent.headers["x-api-key"] == API_KEY
    assert sent.query["api-key"] == API_KEY and sent.body["api_key"] == API_KEY
    # ... and is nowhere in what brownout wrote.
    data = path.read_bytes()
    assert API_KEY.encode() not in data
    assert API_KEY[8:].encode() not in data
    assert API_KEY not in run.log.dumps()
    stored = json.loads(data)
    request = stored["interactions"][0]["request"]
    assert request["headers"]["authorization"] == "[REDACTED]"
    assert request["body"]["api_key"] == "[REDACTED]"
    assert "api-key=%5BREDACTED%5D" in request["uri"] or "api-key=[REDACTED]" in request["uri"]
    assert stored["tools"][0]["args"]["api_key"] == "[REDACTED]"


def _one_call(url: str, text: str, *, swallow: bool = False) -> Any:
    def system() -> str:
        client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        with agent("writer"):
            try:
                return (
                    client.chat.completions.create(model="m", messages=_user(text)).choices[0].message.content
                    or ""
                )
            except Exception as exc:  # a system that swallows errors
                if swallow:
                    return f"fallback after {type(exc).__name__}"
                raise

    return system


def test_a_miss_names_the_cassette_the_nearest_request_the_diff_and_the_command(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once", nodeid="tests/test_x.py::test_write")
    run_system(_one_call(openai_server.url, "write about cats"), cassette=cassette)
    cassette.close()
    openai_server.stop()
    replay = Cassette(path, nodeid="tests/test_x.py::test_write")
    # The system swallows the exception; the harness still raises it after the run.
    with pytest.raises(CassetteMiss) as info:
        run_system(_one_call(openai_server.url, "write about dogs", swallow=True), cassette=replay)
    message = str(info.value)
    assert str(path) in message
    assert "Nearest recorded request: agent 'writer', its LLM call #1" in message
    assert '-        "content": "write about cats",' in message
    assert '+        "content": "write about dogs",' in message
    assert "To record it: pytest tests/test_x.py::test_write --chaos-record-mode=new_episodes" in message
    run = info.value.run  # type: ignore[attr-defined]
    # What the system caught: the miss itself, or (openai 2.x) the SDK's connection error around it.
    seen = "APIConnectionError" if SEND_ERRORS_WRAPPED else "CassetteMiss"
    assert run.output == f"fallback after {seen}"
    event = run.log.of(LLMCall)[0]
    assert event.error_type == "CassetteMiss" and event.status_code is None


def test_nearest_substitutes_the_same_agents_recording_and_marks_it(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once")
    run_system(_one_call(openai_server.url, "write about cats"), cassette=cassette)
    cassette.close()
    openai_server.stop()
    run = run_system(
        _one_call(openai_server.url, "write about dogs"), cassette=Cassette(path, miss="nearest")
    )
    assert run.output == "reply #1 to: write about cats"
    assert run.log.of(LLMCall)[0].source == "substituted"


def test_nearest_falls_back_to_the_closest_request_by_content_when_the_agent_has_none(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once")
    run_system(_one_call(openai_server.url, "write about cats"), cassette=cassette)
    run_system(_one_call(openai_server.url, "summarise the quarterly report"), cassette=cassette)
    cassette.close()
    openai_server.stop()

    def renamed() -> str:  # the agent was renamed since the recording: no recording of "editor"
        client = openai.OpenAI(base_url=openai_server.url, api_key=API_KEY, max_retries=0)
        with agent("editor"):
            reply = client.chat.completions.create(model="m", messages=_user("summarise the annual report"))
            return reply.choices[0].message.content or ""

    run = run_system(renamed, cassette=Cassette(path, miss="nearest"))
    assert run.error is None, run.error
    assert run.output == "reply #1 to: summarise the quarterly report"  # the closest by content
    assert run.log.of(LLMCall)[0].source == "substituted"


def test_a_request_a_fault_answered_uses_up_no_recording(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    """Only requests handed to the transport are numbered: the SDK's retry after an injected 429
    replays the first recording, not a second one that was never made."""
    import httpx2

    from harness import RunHooks

    class FirstAttemptThrottled(RunHooks):
        def __init__(self) -> None:
            self.attempts = 0

        def llm_request(self, ctx: Any, site: Any, proceed: Any) -> httpx2.Response:
            self.attempts += 1
            if self.attempts == 1:
                return httpx2.Response(429, json={"error": {"message": "slow down"}}, request=site.request)
            return proceed()  # type: ignore[no-any-return]

    url = openai_server.url

    def system() -> str:
        client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=2)
        with agent("writer"):
            return (
                client.chat.completions.create(model="m", messages=_user("again")).choices[0].message.content
                or ""
            )

    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once")
    assert run_system(system, cassette=cassette).output == "reply #1 to: again"
    cassette.close()
    openai_server.stop()
    run = run_system(system, cassette=Cassette(path), hooks=FirstAttemptThrottled())
    assert run.error is None, run.error
    assert run.output == "reply #1 to: again"
    assert [(e.source, e.occurrence) for e in run.log.of(LLMCall)] == [("injected", 1), ("replayed", 2)]


def test_replay_takes_the_capture_layers_digest_and_builds_no_vcr_request(
    tmp_path: Path, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-call work of a replay: no vcrpy Request, the request body parsed at most once."""
    import vcr.request

    from harness._capture import _llm_request as _llm

    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once")
    system = _one_call(openai_server.url, "write about cats")
    run_system(system, cassette=cassette)
    cassette.close()
    openai_server.stop()
    built: list[object] = []
    described: list[object] = []
    real_init, real_describe = vcr.request.Request.__init__, _llm.describe_request

    def init(*args: Any, **kwargs: Any) -> None:
        built.append(args)
        real_init(*args, **kwargs)

    def describe(*args: Any) -> Any:
        described.append(args)
        return real_describe(*args)

    monkeypatch.setattr(vcr.request.Request, "__init__", init)
    monkeypatch.setattr(_llm, "describe_request", describe)
    _llm._KEYS.clear()
    replay = Cassette(path)
    for _ in range(3):
        run = run_system(system, cassette=replay)
        assert run.output == "reply #1 to: write about cats"
        assert run.log.of(LLMCall)[0].source == "replayed"
    assert built == []
    assert len(described) == 1  # memoised across runs


def test_live_miss_policy_calls_the_endpoint_and_appends(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    path = tmp_path / "c.json"
    first = Cassette(path, record_mode="once")
    run_system(_one_call(openai_server.url, "one"), cassette=first)
    first.close()
    live = Cassette(path, miss="live")
    run = run_system(_one_call(openai_server.url, "two"), cassette=live)
    live.close()
    assert run.output == "reply #1 to: two" and run.log.of(LLMCall)[0].source == "live"
    assert len(Cassette(path)) == 2


def test_record_modes(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    url = openai_server.url
    path = tmp_path / "c.json"
    none = Cassette(path, record_mode="none")
    with pytest.raises(CassetteMiss, match="does not exist yet"):
        run_system(_one_call(url, "a"), cassette=none)
    none.close()
    assert not path.exists()

    once = Cassette(path, record_mode="once")
    run_system(_one_call(url, "a"), cassette=once)
    once.close()
    again = Cassette(path, record_mode="once")  # the file exists now: no more recording
    with pytest.raises(CassetteMiss):
        run_system(_one_call(url, "b"), cassette=again)

    episodes = Cassette(path, record_mode="new_episodes")
    assert run_system(_one_call(url, "a"), cassette=episodes).log.of(LLMCall)[0].source == "replayed"
    assert run_system(_one_call(url, "b"), cassette=episodes).log.of(LLMCall)[0].source == "live"
    episodes.close()
    assert len(Cassette(path)) == 2

    everything = Cassette(path, record_mode="all")  # re-records, replacing the old answer to "a"
    rerun = run_system(_one_call(url, "a"), cassette=everything)
    everything.close()
    assert rerun.output == "reply #2 to: a" and rerun.log.of(LLMCall)[0].source == "live"
    answers = [i["response"]["body"]["choices"][0]["message"]["content"] for i in Cassette(path).interactions]
    assert sorted(answers) == ["reply #1 to: b", "reply #2 to: a"]


def test_a_fresh_cassette_replaces_the_file_without_bringing_old_recordings_back(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    url = openai_server.url
    path = tmp_path / "c.json"
    old = Cassette(path, record_mode="all")
    run_system(_one_call(url, "stale"), cassette=old)
    old.close()

    fresh = Cassette(path, record_mode="all", fresh=True)
    assert len(fresh) == 0
    run_system(_one_call(url, "current"), cassette=fresh)
    fresh.close()

    prompts = [i["request"]["body"]["messages"][0]["content"] for i in Cassette(path).interactions]
    assert prompts == ["current"]


def test_tools_are_recorded_and_replayed_when_asked(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    calls: list[str] = []

    @tool(side_effect=True)
    def charge(amount: int) -> str:
        calls.append("charge")
        if amount > 100:
            raise ValueError(f"limit exceeded: {amount}")
        return f"charged {amount}"

    def system() -> list[str]:
        out = [charge(5)]
        try:
            charge(500)
        except Exception as exc:
            out.append(f"{type(exc).__name__}: {exc}")
        return out

    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once")
    first = run_system(system, cassette=cassette)
    cassette.close()
    assert first.output == ["charged 5", "ValueError: limit exceeded: 500"] and calls == ["charge", "charge"]
    stored = json.loads(path.read_text())["tools"]
    assert [t.get("result") for t in stored] == ["charged 5", None]
    assert stored[1]["error_type"] == "ValueError"

    replayed = run_system(system, cassette=Cassette(path), replay_tools=True)
    assert calls == ["charge", "charge"]  # nothing ran again
    assert replayed.output == ["charged 5", "RecordedToolError: limit exceeded: 500"]
    events = replayed.log.of(ToolCall)
    assert [e.replayed for e in events] == [True, True] and events[1].error_type == "ValueError"


def test_unreadable_cassettes_are_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "brownout-cassette", "version": 1, "interactions": [')
    with pytest.raises(CassetteError, match=r"broken\.json: is not a brownout cassette: not valid JSON"):
        Cassette(broken, nodeid="t.py::test_a")
    other = tmp_path / "other.json"
    other.write_text('{"interactions": []}')
    with pytest.raises(CassetteError, match="is not a brownout cassette"):
        Cassette(other)
    newer = tmp_path / "newer.json"
    newer.write_text('{"format": "brownout-cassette", "version": 99}')
    with pytest.raises(CassetteError, match="version 99 was written by a newer brownout") as info:
        Cassette(newer)
    assert "Upgrade brownout" in str(info.value) and "re-record with" not in str(info.value)
    with pytest.raises(ConfigError, match="Accepted: none, once, new_episodes, all"):
        Cassette(tmp_path / "x.json", record_mode="sometimes")
    with pytest.raises(ConfigError, match="Accepted: strict, nearest, live"):
        Cassette(tmp_path / "x.json", miss="ignore")


def test_nothing_is_written_when_nothing_was_recorded(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    path = tmp_path / "c.json"
    cassette = Cassette(path, record_mode="once")
    run_system(_one_call(openai_server.url, "a"), cassette=cassette)
    cassette.close()
    before = path.stat().st_mtime_ns
    replay = Cassette(path, record_mode="new_episodes")
    run_system(_one_call(openai_server.url, "a"), cassette=replay)
    replay.close()
    assert path.stat().st_mtime_ns == before
