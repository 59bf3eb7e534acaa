"""A semantic assertion on a LangGraph edge the user cannot edit: configured per handoff, judged by Qwen.

The LangGraph example (examples/langgraph) has no brownout code; its adapter records each edge
as a handoff. ``configure_semantic_checks(handoff_rubrics={"budget->synthesizer": ...})``
asks the judge whether the budget node's handoff still states the trip's cost, and
``goal_drift`` answers it. The verdict replays from ``cassettes/judges/handoff_langgraph.json``,
recorded from the Qwen judge model (``HANDOFF_JUDGE_BASE_URL=... HANDOFF_JUDGE_RECORD_MODE=new_episodes``
re-records it against a running Qwen server).

The recorded verdict is **wrong**: the budget node's payload says "about 360 EUR for 3 days",
and Qwen2.5-Coder-1.5B answered "no" twice, to two phrasings of the question ("...the trip's
estimated cost in EUR?", "...the trip's cost as an amount in EUR?"). The test pins the
mechanics (the assertion is asked at that edge only, with that payload, and a failing verdict
is a goal_drift finding at that step carrying the rationale) and this measured false drift,
which is why an assertion at a handoff needs a judge calibrated for it (docs/judges.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph", reason="LangGraph is not installed: pip install 'brownout[langgraph]'")
pytest.importorskip("langchain_openai", reason="langchain-openai is not installed")

from adapter_examples import cassette_of, load_example

from harness import run_checks, run_system
from harness.cassettes import Cassette
from harness.events import Handoff
from judges import Judge, configure_semantic_checks

JUDGE_CASSETTE = Path(__file__).resolve().parents[2] / "cassettes" / "judges" / "handoff_langgraph.json"
QUESTION = "Does this handoff state the trip's cost as an amount in EUR?"


@pytest.fixture
def judge() -> Iterator[Judge]:
    with Judge(
        "qwen",
        base_url=os.environ.get("HANDOFF_JUDGE_BASE_URL", "http://127.0.0.1:9/v1"),
        cassette=JUDGE_CASSETTE,
        record_mode=os.environ.get("HANDOFF_JUDGE_RECORD_MODE", "none"),  # type: ignore[arg-type]
        timeout=900,
    ) as chosen:
        yield chosen
    configure_semantic_checks()


def _run() -> Any:
    app = load_example("langgraph", "trip_app")
    cassette = Cassette(cassette_of("langgraph", "test_app", "test_plan_trip"), record_mode="none")
    return run_system(app.plan_trip, ("lisbon", 3), cassette=cassette)


def test_a_rubric_configured_for_a_framework_edge_is_judged_there(judge: Judge) -> None:
    run = _run()
    edge = [h for h in run.log.of(Handoff) if (h.source, h.target) == ("budget", "synthesizer")]
    assert len(edge) == 1 and edge[0].rubric is None  # the app makes no brownout call
    asked: list[Any] = []
    judge.on_verdict.append(asked.append)
    configure_semantic_checks(judge=judge, handoff_rubrics={"budget->synthesizer": QUESTION})
    found = run_checks(run.log, ["goal_drift"])
    (verdict,) = asked  # only the configured edge was judged
    assert "360 EUR" in verdict.candidate
    assert (verdict.prompt_tokens, verdict.completion_tokens) == (484, 53)
    # The small judge's false drift, as recorded: the payload does state the cost.
    assert verdict.passed is False and verdict.status == "scored"
    assert [(v.checker, v.severity, v.steps) for v in found] == [("goal_drift", "major", [edge[0].seq])]
    assert "trip's cost is 360 EUR" in found[0].message  # the judge's rationale, contradicting itself
