"""Production recording and ``brownout replay``, end to end through real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _support.fake_openai import FakeOpenAI

from harness import RunLog, record
from harness._run._replay import replay

APP = """
import asyncio
import os
from pathlib import Path

import openai
from harness import agent, tool


@tool
def lookup(topic: str) -> str:
    return f"facts about {topic}"


@tool(side_effect=True)
def publish(text: str) -> str:
    Path(os.environ["PUBLISHED"]).open("a").write(text + "\\n")
    return "published"


async def main(topic: str) -> str:
    client = openai.AsyncOpenAI(
        base_url=os.environ["FAKE_OPENAI_URL"], api_key="sk-test-0123456789abcdefghij", max_retries=0
    )
    async with agent("orchestrator"):
        facts = lookup(topic)
        async with agent("writer"):
            prompt = os.environ.get("PROMPT", "write about")
            reply = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"{prompt} {topic}: {facts}"}]
            )
        text = reply.choices[0].message.content
        publish(text)
        return text
"""

PRODUCTION = """
import asyncio, app
print(asyncio.run(app.main("cats")))
"""


def _brownout() -> str:
    script = Path(sys.executable).parent / "brownout"
    return str(script) if script.exists() else "brownout"


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(cwd), **env},
    )


def test_brownout_record_env_then_replay_exactly_and_report_a_divergence(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "production.py").write_text(PRODUCTION)
    published = tmp_path / "published.txt"
    recordings = tmp_path / "recordings"
    prod = _run(
        [sys.executable, "production.py"],
        tmp_path,
        FAKE_OPENAI_URL=openai_server.url,
        BROWNOUT_RECORD=str(recordings),
        PUBLISHED=str(published),
    )
    assert prod.returncode == 0, prod.stderr
    assert prod.stdout.strip() == "reply #1 to: write about cats: facts about cats"
    (recording,) = recordings.iterdir()
    assert recording.name.split("-")[1] == "orchestrator"
    assert sorted(p.name for p in recording.iterdir()) == ["cassette.json", "run.jsonl"]
    log = RunLog.read(recording / "run.jsonl")
    assert [e.kind for e in log] == [
        "run_start",
        "agent_start",
        "tool_call",
        "agent_start",
        "llm_call",
        "agent_end",
        "tool_call",
        "agent_end",
        "run_end",
    ]
    assert b"sk-test-0123456789abcdefghij" not in (recording / "cassette.json").read_bytes()
    openai_server.stop()
    offline = {"FAKE_OPENAI_URL": "http://127.0.0.1:9/v1", "PUBLISHED": str(published)}

    exact = _run([_brownout(), "replay", str(recording), "--entry", "app:main", "cats"], tmp_path, **offline)
    assert exact.returncode == 0, exact.stdout + exact.stderr
    assert (
        "exact (8 steps compared; 1 LLM calls and 2 tool calls answered from the recording)" in exact.stdout
    )
    assert published.read_text().count("\n") == 1  # the side-effecting tool did not run again

    diverged = _run(
        [_brownout(), "replay", str(recording), "--entry", "app:main", "cats"],
        tmp_path,
        PROMPT="write a poem about",
        **offline,
    )
    assert diverged.returncode == 1, diverged.stdout + diverged.stderr
    llm_step = log.kinds("llm_call")[0].seq
    assert f"replay diverged at step {llm_step} (agent 'writer'): the replay made a different llm call" in (
        diverged.stdout
    )
    assert '-      "content": "write about cats: facts about cats",' in diverged.stdout
    assert '+      "content": "write a poem about cats: facts about cats",' in diverged.stdout
    assert published.read_text().count("\n") == 1


def test_usage_errors_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    missing = _run([_brownout(), "replay", str(tmp_path / "nowhere")], tmp_path)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "harness.record" in missing.stderr


def test_harness_record_and_replay_in_process(
    tmp_path: Path, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", openai_server.url)
    monkeypatch.setenv("PUBLISHED", str(tmp_path / "published.txt"))
    (tmp_path / "recapp.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    import asyncio

    import recapp  # type: ignore[import-not-found]

    with record(tmp_path / "rec", entry="recapp:main", args=("dogs",)) as recording:
        recording.output = asyncio.run(recapp.main("dogs"))
    stored = RunLog.read(recording.log_path)
    assert stored.kinds("run_end")[0].output == "reply #1 to: write about dogs: facts about dogs"
    assert json.loads(recording.cassette_path.read_text())["tools"][1]["name"] == "publish"
    openai_server.stop()

    result = replay(tmp_path / "rec")  # entry and arguments come from the recording
    assert result.exact and result.run.output == recording.output

    # A tool called with other arguments is a divergence at that tool call ...
    lookup = recapp.lookup
    monkeypatch.setattr(recapp, "lookup", lambda topic: lookup(topic.upper()))
    result = replay(tmp_path / "rec")
    assert result.divergence is not None
    assert result.divergence.seq == stored.kinds("tool_call")[0].seq
    assert result.divergence.reason == "the replay made a different tool call"
    assert (
        '-    "topic": "dogs"' in result.divergence.diff and '+    "topic": "DOGS"' in result.divergence.diff
    )
