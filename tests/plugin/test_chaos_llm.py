"""``pytest --chaos`` on an LLM system: recorded once, then explored offline from the cassette.

The system uses the official openai SDK over real HTTP (a fake OpenAI-compatible server on
127.0.0.1) while recording; under ``--chaos`` it replays from the cassette while LLM faults
are injected, and the SDK's own retries reach the recordings: the server sees no request.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def server() -> Iterator[Any]:
    path = Path(__file__).parents[1] / "_support" / "fake_openai.py"
    spec = importlib.util.spec_from_file_location("brownout_plugin_fake_openai", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fake = module.FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


TEST = """
import json
import os

import openai
import pytest

from harness import agent


async def ask():
    client = openai.AsyncOpenAI(base_url=os.environ["FAKE_URL"], api_key="sk-test", max_retries=2, timeout=20)
    async with agent("planner"):
        try:
            reply = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "plan the trip"}]
            )
        except openai.APIError as exc:
            return f"fallback after {type(exc).__name__}"
        return reply.choices[0].message.content


@pytest.mark.chaos(faults=["llm.rate_limit", "llm.server_error", "llm.timeout"], checks="none", examples=30)
def test_planner(chaos):
    run = chaos.run(ask)
    with open("outputs.txt", "a", encoding="utf-8") as fh:
        sources = [e.source for e in run.log if e.kind == "llm_call"]
        fh.write(json.dumps([str(chaos.plan), run.output, sources]) + "\\n")
    assert run.output.startswith(("reply #", "fallback after"))
"""


def test_llm_faults_explored_offline_from_a_recorded_cassette(
    pytester: pytest.Pytester, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_URL", server.url)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_planner=TEST)
    pytester.runpytest("--chaos-record-mode=once").assert_outcomes(passed=1)
    recorded = len(server.requests)
    assert recorded == 1
    assert list(pytester.path.glob("cassettes/**/*.json"))
    Path(pytester.path, "outputs.txt").unlink()

    # A rate limit on every attempt is an outage: drawn only with --chaos-outages.
    result = pytester.runpytest("--chaos", "--chaos-seed=5", "--chaos-outages")
    result.assert_outcomes(passed=1)
    assert len(server.requests) == recorded  # offline: every reply came from the cassette
    rows = [json.loads(line) for line in Path(pytester.path, "outputs.txt").read_text().splitlines()]
    assert len(rows) == 31 and rows[0][0] == "None"
    outputs = {output for _, output, _ in rows}
    assert any(o.startswith("reply #") for o in outputs)
    assert any(o.startswith("fallback after") for o in outputs)  # e.g. a rate limit on every attempt
    # A fault on the first attempt: the SDK retries, and the retry gets the recorded answer.
    recovered = [
        (plan, out) for plan, out, srcs in rows if srcs[:1] == ["injected"] and srcs[-1] == "replayed"
    ]
    assert recovered and all(out.startswith("reply #") for _, out in recovered)
