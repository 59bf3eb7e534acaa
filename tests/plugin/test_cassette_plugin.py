"""Cassettes end to end through pytest: record, replay offline, misses, pytest-xdist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _support.fake_openai import FakeOpenAI

pytest_plugins = ["pytester"]

TEST_FILE = """
import os
import openai
from harness import agent

async def answer(question):
    client = openai.AsyncOpenAI(
        base_url=os.environ["FAKE_OPENAI_URL"], api_key="sk-test-0123456789abcdefghij", max_retries=0
    )
    async with agent("answerer"):
        reply = await client.chat.completions.create(
            model="m", messages=[{{"role": "user", "content": question}}]
        )
        return reply.choices[0].message.content

def test_{name}(chaos):
    run = chaos.run(answer, "{question}")
    assert run.output == "reply #1 to: {question}"
"""


def _test_file(name: str, question: str) -> str:
    return TEST_FILE.format(name=name, question=question)


def test_record_once_then_replay_offline(
    pytester: pytest.Pytester,
    openai_server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    socket_guard_factory: object,
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", openai_server.url)
    pytester.makepyfile(test_sdk=_test_file("answer", "what is brownout"))
    pytester.runpytest("--chaos-record-mode=once").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_sdk" / "test_answer.json"
    stored = json.loads(cassette.read_text())
    assert [i["agent"] for i in stored["interactions"]] == ["answerer"]
    assert b"sk-test-0123456789abcdefghij" not in cassette.read_bytes()

    openai_server.stop()
    guard = socket_guard_factory()  # type: ignore[operator]
    pytester.runpytest().assert_outcomes(passed=1)  # plain pytest replays
    assert guard.attempts == []


def test_a_miss_fails_the_test_with_the_nearest_request_the_diff_and_the_command(
    pytester: pytest.Pytester, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", openai_server.url)
    pytester.makepyfile(test_sdk=_test_file("answer", "what is brownout"))
    pytester.runpytest("--chaos-record-mode=once").assert_outcomes(passed=1)
    openai_server.stop()
    pytester.makepyfile(test_sdk=_test_file("answer", "what is a brownout"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "CassetteMiss" in out
    assert "Nearest recorded request: agent 'answerer', its LLM call #1" in out
    assert '-        "content": "what is brownout",' in out
    assert '+        "content": "what is a brownout",' in out
    assert "To record it: pytest test_sdk.py::test_answer --chaos-record-mode=new_episodes" in out


def test_two_xdist_workers_record_two_valid_cassettes(
    pytester: pytest.Pytester, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", openai_server.url)
    # Load only the plugins this needs: each worker process then skips assertion-rewriting
    # every installed plugin's package (slow where bytecode is not cached).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = ("-p", "xdist.plugin", "-p", "harness._pytest._plugin")
    pytester.makepyfile(
        test_first=_test_file("first", "first question"), test_second=_test_file("second", "second question")
    )
    result = pytester.runpytest_subprocess(*plugins, "-n", "2", "--chaos-record-mode=once")
    result.assert_outcomes(passed=2)
    assert "2 workers" in result.stdout.str()
    cassettes = sorted((pytester.path / "cassettes").rglob("*.json"))
    assert [p.relative_to(pytester.path).as_posix() for p in cassettes] == [
        "cassettes/test_first/test_first.json",
        "cassettes/test_second/test_second.json",
    ]
    for path, question in zip(cassettes, ["first question", "second question"], strict=True):
        stored = json.loads(path.read_text())
        assert stored["format"] == "brownout-cassette"
        (interaction,) = stored["interactions"]
        assert interaction["request"]["body"]["messages"][0]["content"] == question
    assert not [p for p in Path(pytester.path / "cassettes").rglob("*") if p.name.endswith(".tmp")]


def test_a_cassette_whose_agent_was_renamed_gets_a_stale_warning(
    pytester: pytest.Pytester, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", openai_server.url)
    pytester.makepyfile(test_sdk=_test_file("answer", "what is brownout"))
    pytester.runpytest("--chaos-record-mode=once").assert_outcomes(passed=1)
    openai_server.stop()
    # The agent was renamed and its prompt reworded since the recording: every request misses.
    renamed = (
        _test_file("answer", "what is a brownout")
        .replace('agent("answerer")', 'agent("responder")')
        .replace('assert run.output == "reply #1 to: what is a brownout"', "assert run.output")
    )
    pytester.makepyfile(test_sdk=renamed)
    result = pytester.runpytest("--chaos-miss=nearest", "-p", "no:randomly")
    result.assert_outcomes(passed=1)  # substituted from the closest recording, marked as such
    out = result.stdout.str()
    assert "StaleCassetteWarning" in out and "holds recordings of agents answerer" in out
    assert "--chaos-record-mode=all" in out


def test_a_cassette_that_matches_gets_no_stale_warning(
    pytester: pytest.Pytester, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", openai_server.url)
    pytester.makepyfile(test_sdk=_test_file("answer", "what is brownout"))
    pytester.runpytest("--chaos-record-mode=once").assert_outcomes(passed=1)
    openai_server.stop()
    result = pytester.runpytest("--chaos-miss=nearest", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "StaleCassetteWarning" not in result.stdout.str()
