"""Ensembles, calibration, Cohen's kappa, and judge calls through cassettes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from _support.judge_endpoint import ScriptedEndpoint, reply

from judges import (
    CalibrationError,
    Ensemble,
    Judge,
    JudgeConfigError,
    LabelledExample,
    Rubric,
    calibrate,
    cohen_kappa,
    labelled_set,
)

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


def make(endpoint: ScriptedEndpoint, **kwargs: Any) -> Judge:
    return Judge("smollm2", base_url="http://judge.test/v1", client=endpoint.client(), **kwargs)


def test_median_ensemble_reports_agreement() -> None:
    judges_ = [
        make(ScriptedEndpoint(reply({"correct": 2, "clear": 3}))),
        make(ScriptedEndpoint(reply({"correct": 2, "clear": 1}))),
        make(ScriptedEndpoint(reply({"correct": 1, "clear": 1}))),
    ]
    verdict = Ensemble(judges_)("Paris", RUBRIC)
    assert verdict.status == "scored"
    assert [s.score for s in verdict.scores] == [2.0, 1.0]
    assert [s.agreement for s in verdict.scores] == [pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert verdict.total == 0.5 and verdict.passed is True
    # members: pass (1.0), pass (0.5), fail (0.0): two of three agree with the combined pass
    assert verdict.agreement == pytest.approx(2 / 3)
    assert len(verdict.members) == 3
    assert "agreement 0.67 over 3 members" in verdict.table()


def test_majority_even_split_is_indeterminate() -> None:
    judges_ = [
        make(ScriptedEndpoint(reply({"correct": 2, "clear": 3}))),
        make(ScriptedEndpoint(reply({"correct": 1, "clear": 1}))),
    ]
    verdict = Ensemble(judges_, combine="majority")("Paris", RUBRIC)
    assert verdict.status == "indeterminate" and verdict.passed is None
    assert "split evenly" in (verdict.reason or "")


def test_majority_vote_and_unscored_members() -> None:
    judges_ = [
        make(ScriptedEndpoint(reply({"correct": 2, "clear": 3}))),
        make(ScriptedEndpoint(reply({"correct": 2, "clear": 2}))),
        make(ScriptedEndpoint("garbage")),
    ]
    verdict = Ensemble(judges_, combine="majority")("Paris", RUBRIC)
    assert verdict.passed is True and verdict.agreement == 1.0
    assert verdict.reason == "1 of 3 members unscored"
    assert [s.score for s in verdict.scores] == [2.0, 2.0]  # mode 2 vs 3 tied -> the lower
    all_bad = Ensemble([make(ScriptedEndpoint("x")), make(ScriptedEndpoint("y"))])("Paris", RUBRIC)
    assert all_bad.status == "unscored" and all_bad.passed is None


def test_samples_use_distinct_seeds_and_prompts() -> None:
    endpoint = ScriptedEndpoint(reply({"correct": 2, "clear": 2}))
    ensemble = Ensemble.samples(make(endpoint), n=3)
    verdict = ensemble("Paris", RUBRIC)
    assert verdict.passed is True
    assert [r["seed"] for r in endpoint.requests] == [0, 1, 2]
    assert {r["temperature"] for r in endpoint.requests} == {0.7}
    assert len({json.dumps(r["messages"]) for r in endpoint.requests}) == 3
    rebuilt = ensemble.spec.build()
    assert isinstance(rebuilt, Ensemble) and rebuilt.spec == ensemble.spec
    with pytest.raises(JudgeConfigError, match="n must be an int >= 2"):
        Ensemble.samples(make(endpoint), n=1)
    with pytest.raises(JudgeConfigError, match="at least two members"):
        Ensemble([make(endpoint)])


def test_cohen_kappa_known_values() -> None:
    assert cohen_kappa([True, False, True, False], [True, False, True, False]) == 1.0
    assert cohen_kappa([True, True, False, False], [False, False, True, True]) == -1.0
    # a constant judge has kappa 0 whatever its accuracy
    assert cohen_kappa([True, True, True, False], [True, True, True, True]) == 0.0
    # textbook example: 20/5/10/15 -> p_o 0.7, p_e 0.5, kappa 0.4
    a = [True] * 25 + [False] * 25
    b = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert math.isnan(cohen_kappa([True, True], [True, True]))
    with pytest.raises(CalibrationError, match="2 and 1 items"):
        cohen_kappa([True, False], [True])


def test_calibrate_counts_unscored_as_wrong() -> None:
    def by_candidate(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        if "GOOD" in text:
            return reply({"correct": 2, "clear": 3})
        if "BAD" in text:
            return reply({"correct": 1, "clear": 1})
        return "unparseable"

    examples: list[LabelledExample | dict[str, Any]] = [
        {"id": "a", "candidate": "GOOD one", "label": True},
        {"id": "b", "candidate": "BAD one", "label": False},
        {"id": "c", "candidate": "GOOD but labelled bad", "label": False},
        LabelledExample(id="d", candidate="???", label=True),
    ]
    result = calibrate(examples, make(ScriptedEndpoint(by_candidate)), rubric=RUBRIC)
    assert (result.n, result.scored) == (4, 3)
    assert result.accuracy == 0.5 and result.coverage == 0.75
    assert (result.true_pass, result.false_pass, result.true_fail, result.false_fail) == (1, 1, 1, 0)
    assert result.kappa == pytest.approx(cohen_kappa([True, False, False], [True, False, True]))
    assert [r.status for r in result.rows] == ["scored", "scored", "scored", "unscored"]
    assert "| smollm2 (hardened) | 4 | 3 | 0.500 |" in result.table()


def test_calibrate_rejects_bad_examples() -> None:
    judge = make(ScriptedEndpoint())
    with pytest.raises(CalibrationError, match=r"example 0\b(.|\n)*label: this field is required"):
        calibrate([{"id": "x", "candidate": "y"}], judge, rubric=RUBRIC)
    with pytest.raises(CalibrationError, match="no examples"):
        calibrate([], judge, rubric=RUBRIC)
    with pytest.raises(CalibrationError, match="names rubric 'nope'"):
        calibrate([{"id": "x", "candidate": "y", "label": True, "rubric": "nope"}], judge)


def test_shipped_labelled_set_is_valid_and_balanced() -> None:
    examples, rubrics = labelled_set()
    assert len(examples) >= 20
    assert {e.rubric for e in examples} <= set(rubrics)
    assert {e.system for e in examples} >= {"research", "checkout", "content"}
    labels = [e.label for e in examples]
    assert 0.3 <= sum(labels) / len(labels) <= 0.7
    assert len({e.id for e in examples}) == len(examples)


# -- cassettes ------------------------------------------------------------------------------------
def test_judge_calls_record_and_replay_through_a_cassette(tmp_path: Path) -> None:
    path = tmp_path / "judge.json"
    live = ScriptedEndpoint(reply({"correct": 2, "clear": 3}, "good"))
    with make(live, cassette=path, record_mode="once") as recorder:
        recorded = recorder("Paris", RUBRIC, context="Capital of France?")
    assert recorded.status == "scored" and len(live.requests) == 1
    stored = path.read_text()
    assert "sk-test-secret" not in stored  # the Authorization header is scrubbed
    offline = ScriptedEndpoint(status=500)  # would fail if it were asked
    with make(offline, cassette=path) as replayer:
        replayed = replayer("Paris", RUBRIC, context="Capital of France?")
    assert offline.requests == []
    assert replayed == recorded


def test_unrecorded_judge_call_in_replay_is_a_cassette_miss(tmp_path: Path) -> None:
    from harness import CassetteMiss

    path = tmp_path / "judge.json"
    with make(ScriptedEndpoint(reply({"correct": 2, "clear": 3})), cassette=path, record_mode="once") as j:
        j("Paris", RUBRIC)
    with pytest.raises(CassetteMiss, match="holds no recording"):
        make(ScriptedEndpoint(status=500), cassette=path)("Lyon", RUBRIC)


def test_judge_reply_substituted_by_nearest_policy_is_indeterminate(tmp_path: Path) -> None:
    path = tmp_path / "judge.json"
    with make(ScriptedEndpoint(reply({"correct": 2, "clear": 3})), cassette=path, record_mode="once") as j:
        j("Paris", RUBRIC)
    offline = ScriptedEndpoint(status=500)
    verdict = make(offline, cassette=path, miss="nearest")("Lyon", RUBRIC)
    assert offline.requests == []
    assert verdict.status == "indeterminate" and verdict.passed is None
    assert "judge's own call was answered by substituted content" in (verdict.reason or "")
    assert verdict.raw  # the substituted reply is kept for inspection


def test_output_of_a_run_answered_by_nearest_substitution_is_indeterminate(tmp_path: Path) -> None:
    from harness import run_system
    from harness.cassettes import Cassette
    from harness.events import LLMCall

    system_llm = ScriptedEndpoint("Paris is the capital of France.")
    client = system_llm.client()

    def system(question: str) -> str:
        reply_ = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": question}], temperature=0
        )
        return reply_.choices[0].message.content or ""

    path = tmp_path / "system.json"
    recorder = Cassette(path, record_mode="once")
    run_system(system, ("Capital of France?",), cassette=recorder)
    recorder.close()
    # A fault changed the path: the system asks something never recorded; `nearest` substitutes.
    replayer = Cassette(path, miss="nearest")
    run = run_system(system, ("Capital of France, in one word?",), cassette=replayer)
    assert [c.source for c in run.log.of(LLMCall)] == ["substituted"]
    assert run.output == "Paris is the capital of France."
    grader = ScriptedEndpoint(reply({"correct": 2, "clear": 3}))
    verdict = make(grader)(run, RUBRIC, context="Capital of France?")
    assert verdict.status == "indeterminate" and verdict.passed is None
    assert grader.requests == []
    # the same output from a run that really asked the model is judged normally
    assert make(grader)(run.output, RUBRIC, context="Capital of France?").passed is True
