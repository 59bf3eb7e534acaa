"""Semantic assertions at handoffs: ``handoff(..., rubric=...)`` and rubrics configured per handoff.

The judge answers in ``goal_drift``: a failing verdict is drift (major, with the verdict's
score and rationale), an unscored one is an *undecided* minor finding, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _support.judge_endpoint import ScriptedEndpoint, reply

from harness import ConfigError, agent, constraint, handoff, run_checks, run_system
from harness.events import Handoff
from judges import Criterion, Judge, JudgeConfigError, Rubric, configure_semantic_checks

QUESTION = "Does this brief still carry the $10,000 threshold?"
BRIEF = "Review every expense report; escalate anything above ten thousand dollars."


def make(endpoint: ScriptedEndpoint) -> Judge:
    return Judge("smollm2", base_url="http://judge.test/v1", client=endpoint.client())


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    configure_semantic_checks()


def _pipeline(brief: str, rubric: Any = QUESTION) -> str:
    with agent("planner"):
        constraint("threshold_usd", 10000, handoffs=False, output=False)
        handoff("reviewer", brief, rubric=rubric)
    with agent("reviewer"):
        return "done"


def _checked(brief: str, endpoint: ScriptedEndpoint, rubric: Any = QUESTION) -> list[Any]:
    run = run_system(_pipeline, (brief,), {"rubric": rubric})
    configure_semantic_checks(make(endpoint))
    return run_checks(run.log, ["goal_drift"])


def test_the_rubric_is_recorded_on_the_handoff_event() -> None:
    run = run_system(_pipeline, (BRIEF,))
    (event,) = run.log.of(Handoff)
    assert event.rubric == QUESTION
    rubric = Rubric(
        name="kept",
        criteria=(Criterion(name="kept", description="kept?", scale={1: "no", 2: "yes"}),),
    )
    run = run_system(_pipeline, (BRIEF,), {"rubric": rubric})
    assert run.log.of(Handoff)[0].rubric == rubric.to_dict()


def test_a_dropped_constraint_is_goal_drift_with_the_verdict_attached() -> None:
    endpoint = ScriptedEndpoint(reply({"holds": 1}, "no words of the payload state a limit"))
    found = _checked("Review every expense report.", endpoint)
    assert [(v.checker, v.severity) for v in found] == [("goal_drift", "major")]
    message = found[0].message
    assert "the judge says it drifted" in message
    assert "Verdict FAILED" in message and "total 0.00 < threshold 1.00" in message
    assert "rationale: no words of the payload state a limit" in message
    assert "10+5 tokens" in message  # the verdict's cost, from the reply's usage
    # The judge saw the payload fenced, the question, and the task's constraint in force there.
    system, user = (m["content"] for m in endpoint.requests[0]["messages"])
    assert "untrusted data" in system
    assert QUESTION in user and "threshold_usd = 10000" in user and "Review every expense report." in user
    assert "'planner'" in user and "'reviewer'" in user


def test_a_kept_constraint_passes_and_the_literal_rule_stays_off() -> None:
    endpoint = ScriptedEndpoint(reply({"holds": 2}, "'above ten thousand dollars' states the limit"))
    assert _checked(BRIEF, endpoint) == []
    assert len(endpoint.requests) == 1


def test_an_unscored_verdict_is_an_undecided_finding_never_a_pass() -> None:
    endpoint = ScriptedEndpoint("not json", "still not json")
    found = _checked(BRIEF, endpoint)
    assert [(v.checker, v.severity) for v in found] == [("goal_drift", "minor")]
    assert found[0].message.startswith("Undecided: ")
    assert "Verdict UNSCORED" in found[0].message
    assert len(endpoint.requests) == 2  # asked once more, then unscored


def test_handoffs_without_an_assertion_ask_no_judge() -> None:
    endpoint = ScriptedEndpoint(reply({"holds": 1}))
    assert _checked(BRIEF, endpoint, rubric=None) == []
    assert endpoint.requests == []


def test_rubrics_configured_per_handoff_for_calls_the_user_cannot_edit() -> None:
    run = run_system(_pipeline, ("Review every expense report.",), {"rubric": None})
    endpoint = ScriptedEndpoint(reply({"holds": 1}, "the limit is gone"))
    configure_semantic_checks(
        make(endpoint),
        handoff_rubrics={"reviewer": "Is the brief polite?", "planner->reviewer": QUESTION},
    )
    found = run_checks(run.log, ["goal_drift"])
    assert [v.checker for v in found] == ["goal_drift"]
    # "source->target" wins over the target's name
    assert QUESTION in endpoint.requests[0]["messages"][1]["content"]
    configure_semantic_checks(make(ScriptedEndpoint(reply({"holds": 2}))), handoff_rubrics={"*": QUESTION})
    assert run_checks(run.log, ["goal_drift"]) == []


def test_a_rubric_given_as_data_is_scored_on_its_own_criteria() -> None:
    rubric = {
        "name": "brief_quality",
        "pass_threshold": 0.5,
        "criteria": [
            {"name": "limit", "description": "States the $10,000 limit?", "scale": ["no", "yes"]},
            {"name": "scope", "description": "Names what to review?", "scale": ["no", "yes"]},
        ],
    }
    endpoint = ScriptedEndpoint(reply({"limit": 1, "scope": 1}, "neither"))
    found = _checked("Do your best.", endpoint, rubric=rubric)
    assert "rubric 'brief_quality'" in found[0].message


def test_bad_rubrics_are_refused_where_they_are_given() -> None:
    with pytest.raises(ConfigError, match="empty rubric"):
        handoff("reviewer", BRIEF, rubric="  ")
    with pytest.raises(ConfigError, match="not a rubric"):
        handoff("reviewer", BRIEF, rubric=42)
    run = run_system(_pipeline, (BRIEF,), {"rubric": 42})
    assert isinstance(run.error, ConfigError)  # inside a run too, as the system's own error
    with pytest.raises(JudgeConfigError, match="not a mapping"):
        configure_semantic_checks(handoff_rubrics=["reviewer"])  # type: ignore[arg-type]
    with pytest.raises(JudgeConfigError, match="not an assertion"):
        configure_semantic_checks(handoff_rubrics={"reviewer": 3})  # type: ignore[dict-item]


def test_without_a_registered_judge_an_assertion_is_an_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness._checkers import _semantic

    monkeypatch.setitem(_semantic._SEMANTIC, "goal_drift.rubric", [])
    run = run_system(_pipeline, (BRIEF,))
    with pytest.raises(ConfigError, match="no judge answers it"):
        run_checks(run.log, ["goal_drift"])
