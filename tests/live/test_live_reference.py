"""The live tier: record reference runs from a freshly started real model, then replay them offline.

Opt-in (``pytest tests/live --chaos-live`` or ``BROWNOUT_LIVE=1``); needs the ``llm`` extra.
A recording and its offline replay give the same output and, agent by agent, the same work: the
same model requests and replies, tool calls and results, handoffs and messages sent. What real
time decides in a recording — timestamps, latencies, ``seq``, and how concurrent agents interleave
(the order of joins, whether a receive had to wait, whether a compare-and-set had to retry) — is
compared only between two replays, which must be identical.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness._cli._record_reference import comparable
from scenarios import LocalLLMServer, run_reference
from scenarios import find_reference as find

pytestmark = pytest.mark.live

LIVE_RUNS = [
    "checkout_naive_slow_email",
    "checkout_hardened",
    "research_hardened",
    "content_hardened",
    "negotiation_naive_lost_offer",
    "negotiation_hardened",
]
_REAL_TIME = {"run_id", "t", "latency", "seq", "step_id", "parent_step_id", "source", "start_seq"}
_WORK = {"llm_call", "tool_call", "handoff", "message_send", "agent_start", "agent_end", "run_end"}


def per_agent(log: Any) -> dict[str | None, list[dict[str, Any]]]:
    """Each agent's work in order, without what real time decides."""
    steps: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for event in log:
        if event.kind in _WORK:
            data = {k: v for k, v in event.model_dump(mode="json").items() if k not in _REAL_TIME}
            steps[event.agent].append(data)
    return dict(steps)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("cassettes")
    runs: dict[str, Any] = {}
    mp = pytest.MonkeyPatch()
    try:
        with LocalLLMServer() as server:
            mp.setenv("OPENAI_BASE_URL", server.base_url)
            for name in LIVE_RUNS:
                runs[name] = run_reference(find(name), record_mode="all", directory=directory)
            assert server.running
        assert not server.running
        yield directory, runs
    finally:
        mp.undo()


@pytest.mark.parametrize("name", LIVE_RUNS)
def test_live_recording_replays_identically_offline(recorded: tuple[Path, dict[str, Any]], name: str) -> None:
    directory, runs = recorded
    live = runs[name]
    assert {e.source for e in live.log if e.kind == "llm_call"} <= {"live", "injected"}
    first = run_reference(find(name), directory=directory)  # the server is gone: replay only
    second = run_reference(find(name), directory=directory)
    assert {e.source for e in first.log if e.kind == "llm_call"} <= {"replayed", "injected"}
    assert first.output == live.output
    assert first.status == live.status
    assert per_agent(first.log) == per_agent(live.log)
    assert comparable(first.log) == comparable(second.log)
