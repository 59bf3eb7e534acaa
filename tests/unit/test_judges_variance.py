"""Judge variance (ensemble spread), token cost per verdict, and the async API replaying the sync one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from _support.judge_endpoint import ScriptedEndpoint, reply

from judges import Ensemble, Judge, Rubric, ScoreSpread

RUBRIC = Rubric.from_dict(
    {
        "name": "answer",
        "pass_threshold": 0.5,
        "criteria": [
            {"name": "correct", "description": "Is it right?", "scale": ["wrong", "right"]},
            {"name": "clear", "description": "Is it clear?", "scale": ["muddled", "ok", "clear"]},
        ],
    }
)
OFFLINE = (
    "http://judge.test/v1"  # the recorded endpoint; with no client given, a replay that asked it would fail
)


def make(endpoint: ScriptedEndpoint, **kwargs: Any) -> Judge:
    return Judge(
        "smollm2",
        base_url="http://judge.test/v1",
        client=endpoint.client(),
        async_client=endpoint.async_client(),
        **kwargs,
    )


def by_seed(scores: dict[int, dict[str, int]]) -> Any:
    """A reply that depends on the request's seed, as a sampled model's would."""

    def answer(body: dict[str, Any]) -> str:
        return reply(scores[int(body["seed"])], f"seed {body['seed']}")

    return answer


def test_ensemble_of_samples_reports_the_spread_of_member_scores() -> None:
    # member totals: (2-1)/1*0.5 + (3-1)/2*0.5 = 1.0; 0.5 + 0.25 = 0.75; 0 + 0 = 0.0
    endpoint = ScriptedEndpoint(
        by_seed({0: {"correct": 2, "clear": 3}, 1: {"correct": 2, "clear": 2}, 2: {"correct": 1, "clear": 1}})
    )
    ensemble = Ensemble.samples(make(endpoint), n=3, temperature=0.8)
    verdict = ensemble("Paris", RUBRIC)
    assert [r["seed"] for r in endpoint.requests] == [0, 1, 2]
    assert {r["temperature"] for r in endpoint.requests} == {0.8}
    spread = verdict.spread
    assert isinstance(spread, ScoreSpread)
    assert (spread.n, spread.low, spread.high) == (3, 0.0, 1.0)
    assert spread.mean == pytest.approx(0.583333, abs=1e-6)
    assert spread.stdev == pytest.approx(0.520416, abs=1e-6)  # sample standard deviation
    assert spread.majority == pytest.approx(2 / 3, abs=1e-6)
    assert verdict.agreement == pytest.approx(2 / 3, abs=1e-6)
    assert "spread: totals 0.00..1.00 (mean 0.58, sd 0.52) over 3 scored members, 67% with the majority" in (
        verdict.table()
    )
    assert verdict.detail()["spread"]["stdev"] == spread.stdev


def test_unanimous_ensemble_has_no_spread() -> None:
    endpoint = ScriptedEndpoint(reply({"correct": 2, "clear": 3}))
    verdict = Ensemble.samples(make(endpoint), n=2)("Paris", RUBRIC)
    assert verdict.spread is not None and verdict.spread.stdev == 0.0 and verdict.spread.majority == 1.0


def test_token_cost_per_verdict_counts_every_attempt_and_every_member() -> None:
    single = make(ScriptedEndpoint(reply({"correct": 2, "clear": 3})))("Paris", RUBRIC)
    assert (single.prompt_tokens, single.completion_tokens) == (10, 5)  # the reply's usage
    retried = make(ScriptedEndpoint("garbage", reply({"correct": 2, "clear": 3})))("Paris", RUBRIC)
    assert retried.status == "scored" and (retried.prompt_tokens, retried.completion_tokens) == (20, 10)
    ensemble = Ensemble.samples(make(ScriptedEndpoint(reply({"correct": 2, "clear": 3}))), n=3)(
        "Paris", RUBRIC
    )
    assert (ensemble.prompt_tokens, ensemble.completion_tokens) == (30, 15)
    assert "30+15 tokens" in ensemble.table().splitlines()[0]
    assert ensemble.detail()["prompt_tokens"] == 30


def test_aevaluate_asks_through_the_async_client() -> None:
    endpoint = ScriptedEndpoint(reply({"correct": 2, "clear": 3}, "right and clear"))
    judge = Judge("smollm2", base_url="http://judge.test/v1", async_client=endpoint.async_client())
    verdict = asyncio.run(judge.aevaluate("Paris", RUBRIC, context="Capital of France?"))
    assert verdict.passed is True and verdict.rationale == "right and clear"
    assert len(endpoint.requests) == 1 and verdict.prompt_tokens == 10


def test_aevaluate_replays_the_verdict_the_sync_call_recorded(tmp_path: Path) -> None:
    path = tmp_path / "judge.json"
    live = ScriptedEndpoint(reply({"correct": 2, "clear": 2}, "right, a bit terse"))
    with make(live, cassette=path, record_mode="once") as recorder:
        recorded = recorder("Paris", RUBRIC, context="Capital of France?")
    assert len(live.requests) == 1
    # Replay offline: no client given, so the async call builds a real openai.AsyncOpenAI client,
    # and the cassette answers it (nothing serves OFFLINE).
    with Judge("smollm2", base_url=OFFLINE, cassette=path) as offline:
        replayed_sync = offline("Paris", RUBRIC, context="Capital of France?")
        replayed_async = asyncio.run(offline.aevaluate("Paris", RUBRIC, context="Capital of France?"))
    assert replayed_sync == recorded
    assert replayed_async == recorded
    assert (replayed_async.prompt_tokens, replayed_async.completion_tokens) == (10, 5)


def test_ensemble_aevaluate_replays_the_sync_ensemble(tmp_path: Path) -> None:
    path = tmp_path / "ensemble.json"
    endpoint = ScriptedEndpoint(
        by_seed({0: {"correct": 2, "clear": 3}, 1: {"correct": 1, "clear": 2}, 2: {"correct": 2, "clear": 1}})
    )
    with make(endpoint, cassette=path, record_mode="once") as base:
        recorded = Ensemble.samples(base, n=3)("Paris", RUBRIC)
    stored = json.loads(path.read_text())
    assert stored  # the three samples were recorded
    with Judge("smollm2", base_url=OFFLINE, cassette=path) as offline:
        ensemble = Ensemble.samples(offline, n=3)
        replayed = asyncio.run(ensemble.aevaluate("Paris", RUBRIC))
    assert replayed == recorded
    assert replayed.spread == recorded.spread and replayed.spread is not None and replayed.spread.n == 3


def test_aevaluate_inside_a_run_is_captured_by_the_run() -> None:
    from harness import run_system
    from harness.events import LLMCall
    from harness.events import Verdict as VerdictEvent

    endpoint = ScriptedEndpoint(reply({"correct": 2, "clear": 3}, "right"))
    judge = Judge("smollm2", base_url="http://judge.test/v1", async_client=endpoint.async_client())

    async def system() -> str:
        verdict = await judge.aevaluate("Paris", RUBRIC, context="Capital of France?")
        return verdict.outcome

    run = run_system(system)
    assert run.output == "PASSED"
    (call,) = run.log.of(LLMCall)
    assert (call.prompt_tokens, call.completion_tokens) == (10, 5)
    (event,) = run.log.of(VerdictEvent)
    assert event.passed is True and event.detail["prompt_tokens"] == 10
