"""End to end: a semantic assertion at a handoff, answered by the Qwen judge's recorded verdicts.

The trip planner (tests/_support/handoff_app.py) hands the booker a brief that keeps the
$10,000 limit in words ("under ten thousand US dollars") or drops it. The literal goal_drift
rule is off for the brief (``handoffs=False``), so only the judge can tell; its two verdicts
replay offline from ``cassettes/judges/handoff_rubric.json``, recorded from the real local
Qwen2.5-Coder-1.5B judge.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from _support.handoff_app import APP, CASSETTE, CONFTEST, CONFTEST_ENSEMBLE, ENSEMBLE_CASSETTE, TESTS

pytest_plugins = ["pytester"]


def _recorded_rationales() -> list[str]:
    """The rationales the judge model gave, as recorded."""
    out = []
    for interaction in json.loads(CASSETTE.read_text(encoding="utf-8"))["interactions"]:
        content = interaction["response"]["body"]["choices"][0]["message"]["content"]
        out.append(json.loads(content)["rationale"])
    return out


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_trip=TESTS)
    shutil.copyfile(CASSETTE, pytester.path / "handoff_rubric.json")
    return pytester


def test_dropped_limit_fails_with_goal_drift_and_the_judges_rationale(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:randomly", "-k", "drops")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "[goal_drift, major]" in out
    assert "the judge says it drifted from the task" in out
    assert "Verdict FAILED: rubric 'handoff_assertion', total 0.00 < threshold 1.00, judge qwen" in out
    dropped = next(r for r in _recorded_rationales() if "does not meet" in r)
    assert f"rationale: {' '.join(dropped.split())[:120]}" in " ".join(out.split())
    assert re.search(r"judge qwen, \d+\+\d+ tokens", out)  # the verdict's cost, from the recorded usage


def test_kept_limit_passes(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:randomly", "-k", "keeps")
    result.assert_outcomes(passed=1)
    assert "goal_drift" not in result.stdout.str()


def test_both_replay_offline_and_nothing_is_recorded(project: pytest.Pytester) -> None:
    before = (project.path / "handoff_rubric.json").read_bytes()
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    assert (project.path / "handoff_rubric.json").read_bytes() == before


def test_an_ensemble_judge_shows_its_variance_at_the_handoff(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP, conftest=CONFTEST_ENSEMBLE, test_trip=TESTS)
    shutil.copyfile(ENSEMBLE_CASSETTE, pytester.path / "handoff_ensemble.json")
    result = pytester.runpytest("-p", "no:randomly", "-k", "drops")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "[goal_drift, major]" in out and "judge ensemble" in out and "over 3 members" in out
    # Three samples (seeds 0, 1, 2 at temperature 0.7), recorded from the Qwen judge and replayed:
    # seed 1 wrongly said the brief keeps the limit, so the verdict shows how close it was.
    assert "agreement 0.67 over 3 members, 1329+155 tokens" in out
    assert (
        "spread: totals 0.00..1.00 (mean 0.33, sd 0.58) over 3 scored members, 67% with the majority" in out
    )
