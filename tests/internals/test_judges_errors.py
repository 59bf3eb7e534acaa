"""One error contract: every public constructor and loader in judges raises the package's error.

Each message names what happened, the offending value, the rule and the fix; pydantic's
``ValidationError`` (and its documentation URLs) never leaks out, and no bare
``ValueError``/``KeyError``/``TypeError`` comes from the public API.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support.judge_endpoint import ScriptedEndpoint, reply
from pydantic import ValidationError

import judges
from judges import (
    CalibrationError,
    Criterion,
    CriterionScore,
    Ensemble,
    Judge,
    JudgeConfigError,
    JudgeError,
    JudgeSpec,
    LabelledExample,
    Rubric,
    RubricError,
    Verdict,
    VerdictCache,
    VerdictFailed,
    calibrate,
    cohen_kappa,
    configure_semantic_checks,
    constraint_check,
    judge,
    register_judge,
)

CRITERION: dict[str, Any] = {"name": "correct", "description": "Is it right?", "scale": ["wrong", "right"]}
RUBRIC = Rubric(name="answer", criteria=[Criterion(**CRITERION)], pass_threshold=1.0)


def expect(error: type[JudgeError], call: Callable[[], object], *needles: str) -> str:
    """``call()`` raises ``error`` whose message holds every needle, a fix, and no pydantic noise."""
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, JudgeError)
    assert not isinstance(info.value, ValidationError)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert "Fix" in message, message
    assert "errors.pydantic.dev" not in message and "For further information" not in message
    return message


def make(**kwargs: Any) -> Judge:
    endpoint = ScriptedEndpoint(reply({"correct": 2}))
    return Judge("smollm2", base_url="http://judge.test/v1", client=endpoint.client(), **kwargs)


# -- the tree -------------------------------------------------------------------------------------
def test_every_error_class_is_a_judge_error_drawn_in_the_tree() -> None:
    import judges._errors as errors

    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException)]
    assert len(classes) >= 6
    for cls in classes:
        assert issubclass(cls, JudgeError), cls
        assert re.search(rf"\b{cls.__name__}\b", errors.__doc__ or ""), f"{cls.__name__} not in the tree"
    assert issubclass(VerdictFailed, AssertionError) and issubclass(RubricError, ValueError)


# -- rubrics ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda: Criterion(**{**CRITERION, "name": "bad name"}), ["name = 'bad name'", "'bad_name'"]),
        (lambda: Criterion(**{**CRITERION, "weight": -1}), ["weight = -1", "> 0"]),
        (lambda: Criterion(**{**CRITERION, "scale": ["only"]}), ["scale", "at least two levels"]),
        (lambda: Criterion(**{**CRITERION, "weight": "heavy"}), ["weight = 'heavy'", "expected type"]),
        (lambda: Rubric(name="r", criteria=[]), ["criteria = []", "at least one criterion"]),
        (lambda: Rubric(name="r", criteria=[CRITERION], pass_threshold=2), ["pass_threshold = 2", "[0, 1]"]),
        (
            lambda: Rubric(name="r", criteria=[{**CRITERION, "scale": {1: "a", 3: "b"}}]),
            ["criteria[0].scale", "not consecutive"],
        ),
        (lambda: Rubric(name="r", criteria=[CRITERION], colour="red"), ["colour = 'red'", "unknown field"]),
        (lambda: Rubric.from_dict([1, 2], source="r.yaml"), ["r.yaml", "list", "mapping"]),
        (lambda: Rubric.from_json("{nope", source="r.json"), ["r.json", "line 1"]),
        (lambda: Rubric.from_json(b"{}"), ["bytes", "str"]),  # type: ignore[arg-type]
        (lambda: Rubric.from_yaml("name: [unclosed", source="r.yaml"), ["r.yaml", "not valid YAML"]),
        (lambda: Rubric.load("no/such/rubric.yaml"), ["no/such/rubric.yaml", "no such rubric file"]),
        (lambda: Rubric.load(42), ["path=42"]),  # type: ignore[arg-type]
        (lambda: RUBRIC.criterion("tone"), ["'tone'", "['correct']"]),
        (lambda: RUBRIC.total({"tone": 1}), ["'tone'", "['correct']"]),
    ],
)
def test_bad_rubrics_raise_rubric_error(call: Callable[[], object], needles: list[str]) -> None:
    expect(RubricError, call, *needles)


def test_a_missing_criterion_is_still_a_key_error() -> None:
    with pytest.raises(KeyError, match="no criterion 'tone'"):
        RUBRIC.criterion("tone")


def test_a_judge_given_something_that_is_not_a_rubric() -> None:
    expect(RubricError, lambda: make()("Paris", 42), "rubric=int", "Rubric.load")  # type: ignore[arg-type]


# -- judges ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "needles"),
    [
        ({"prompt": "fancy"}, ["prompt='fancy'", "hardened"]),
        ({"temperature": 5}, ["temperature=5", "[0, 2]"]),
        ({"temperature": True}, ["temperature=True"]),
        ({"max_tokens": 4}, ["max_tokens=4", ">= 16"]),
        ({"seed": "1"}, ["seed='1'"]),
        ({"sample": -1}, ["sample=-1"]),
        ({"constrain": "yes"}, ["constrain='yes'"]),
        ({"timeout": 0}, ["timeout=0", "> 0"]),
        ({"cache": {}}, ["cache={}", "VerdictCache"]),
        ({"cassette": 42}, ["cassette=42"]),
        ({"record_mode": "sometimes"}, ["record_mode='sometimes'", "new_episodes"]),
        ({"miss": "maybe"}, ["miss='maybe'", "nearest"]),
        ({"base_url": 8000}, ["base_url=8000"]),
    ],
)
def test_bad_judge_arguments_raise_judge_config_error(kwargs: dict[str, Any], needles: list[str]) -> None:
    expect(JudgeConfigError, lambda: Judge("smollm2", **kwargs), *needles)


def test_a_judge_without_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROWNOUT_JUDGE_MODEL", raising=False)
    expect(JudgeConfigError, lambda: Judge(), "model=None", "BROWNOUT_JUDGE_MODEL")


def test_a_judge_without_a_cassette_cannot_open_one() -> None:
    expect(JudgeConfigError, lambda: make().open_cassette(), "cassette=None")


def test_judge_function_and_provenance() -> None:
    expect(JudgeConfigError, lambda: judge("Paris", RUBRIC, using=42), "using=42")  # type: ignore[arg-type]
    expect(JudgeConfigError, lambda: make()("Paris", RUBRIC, run="run-1"), "run=str", "run=run")


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda: Ensemble([make()]), ["<1 judge(s)>", "at least two"]),
        (lambda: Ensemble([make(), "smollm2"]), ["members[1]='smollm2'", "Judge(model='smollm2')"]),
        (lambda: Ensemble([make(), make()], combine="mean"), ["combine='mean'", "median"]),
        (lambda: Ensemble(make()), ["members=Judge(", "sequence"]),  # type: ignore[arg-type]
        (lambda: Ensemble.samples(make(), n=1), ["n=1", ">= 2"]),
        (lambda: Ensemble.samples("smollm2"), ["judge='smollm2'"]),  # type: ignore[arg-type]
    ],
)
def test_bad_ensembles_raise_judge_config_error(call: Callable[[], object], needles: list[str]) -> None:
    expect(JudgeConfigError, call, *needles)


def test_bad_verdict_caches_raise_judge_config_error(tmp_path: Path) -> None:
    expect(JudgeConfigError, lambda: VerdictCache(42), "directory=42")  # type: ignore[arg-type]
    afile = tmp_path / "cache.json"
    afile.write_text("{}")
    expect(JudgeConfigError, lambda: VerdictCache(afile), str(afile), "existing file")


# -- specs, the registry, verdicts ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda: JudgeSpec(name=3), ["name = 3", "expected type"]),  # type: ignore[arg-type]
        (lambda: JudgeSpec(name="nope").build(), ["name='nope'", "register_judge"]),
        (lambda: JudgeSpec(name="openai", args={"modle": "x"}).build(), ["'modle'", "judge.spec"]),
        (lambda: register_judge("", Judge), ["name=''"]),
        (lambda: register_judge("mine", 3), ["factory=3", "callable"]),  # type: ignore[arg-type]
        (lambda: Verdict(rubric=RUBRIC, status="scored"), ["passed", "judge", "required"]),  # type: ignore[call-arg]
        (
            lambda: CriterionScore(criterion="c", score="high", low=1, high=2, weight=1),  # type: ignore[arg-type]
            ["score = 'high'"],
        ),
    ],
)
def test_bad_specs_and_verdicts_raise_judge_config_error(
    call: Callable[[], object], needles: list[str]
) -> None:
    expect(JudgeConfigError, call, *needles)


def test_verdict_readers_raise_the_package_errors() -> None:
    verdict = make()("Paris", RUBRIC)
    expect(RubricError, lambda: verdict.score_of("tone"), "'tone'", "['correct']")
    expect(JudgeConfigError, lambda: verdict.rescore(42), "judge=42")  # type: ignore[arg-type]
    with pytest.raises(TypeError) as info:
        bool(verdict)
    assert isinstance(info.value, JudgeError) and "Fix" in str(info.value)


def test_stored_verdicts_that_are_unreadable(tmp_path: Path) -> None:
    from judges._reference import load_verdicts  # the loader behind python -m judges.reference

    expect(JudgeError, lambda: load_verdicts(tmp_path / "none.json"), "none.json", "--record")
    bad = tmp_path / "bad.json"
    bad.write_text('{"naive": {"status": "scored"}}')
    expect(JudgeConfigError, lambda: load_verdicts(bad), "bad.json: naive", "rubric", "required")


# -- calibration ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda: LabelledExample(id="x", candidate="y", label="maybe"), ["label = 'maybe'"]),  # type: ignore[arg-type]
        (lambda: LabelledExample(id="x", candidate="y", label=True, score=3), ["score = 3", "unknown field"]),  # type: ignore[call-arg]
        (lambda: calibrate([{"id": "x", "candidate": "y"}], make(), rubric=RUBRIC), ["example 0", "label"]),
        (lambda: calibrate("examples.yaml", make(), rubric=RUBRIC), ["examples='examples.yaml'"]),  # type: ignore[arg-type]
        (lambda: calibrate([], make(), rubric=RUBRIC), ["no examples", "labelled_set()"]),
        (
            lambda: calibrate([{"id": "x", "candidate": "y", "label": True}], make(), rubrics=[RUBRIC]),  # type: ignore[arg-type]
            ["rubrics=", "list", "mapping"],
        ),
        (
            lambda: calibrate([{"id": "x", "candidate": "y", "label": True, "rubric": "nope"}], make()),
            ["'nope'", "rubrics="],
        ),
        (lambda: cohen_kappa([True], [True, False]), ["1 and 2"]),
        (lambda: cohen_kappa("ab", "ab"), ["a='ab'"]),
    ],
)
def test_bad_calibration_input_raises_calibration_error(
    call: Callable[[], object], needles: list[str]
) -> None:
    expect(CalibrationError, call, *needles)


# -- semantic checks ------------------------------------------------------------------------------
def test_bad_semantic_configuration() -> None:
    try:
        expect(JudgeConfigError, lambda: configure_semantic_checks(judge="smollm2"), "judge='smollm2'")  # type: ignore[arg-type]
        expect(
            JudgeConfigError,
            lambda: configure_semantic_checks(postconditions={"writer": "article.yaml"}),  # type: ignore[dict-item]
            "'writer'",
            "str",
        )
        expect(JudgeConfigError, lambda: configure_semantic_checks(postconditions=["writer"]), "['writer']")  # type: ignore[arg-type]
        expect(RubricError, lambda: configure_semantic_checks(constraint_rubric="r.yaml"), "'r.yaml'")  # type: ignore[arg-type]
        expect(JudgeConfigError, lambda: constraint_check(judge=42), "judge=42")  # type: ignore[arg-type]
        expect(RubricError, lambda: constraint_check(rubric="r.yaml"), "rubric='r.yaml'")  # type: ignore[arg-type]
    finally:
        configure_semantic_checks()


def test_no_public_name_is_missing_from_this_contract() -> None:
    # A new public constructor or loader should get a case above.
    assert set(judges.__all__) >= {
        "Rubric",
        "Criterion",
        "Judge",
        "Ensemble",
        "VerdictCache",
        "LabelledExample",
    }
