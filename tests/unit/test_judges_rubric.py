"""Rubrics as data, and verdicts that fail readably."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judges import Criterion, CriterionScore, JudgeSpec, Rubric, RubricError, Verdict, VerdictFailed

YAML = """
name: refund_answer
description: Is a refund answer right and polite?
pass_threshold: 0.75
criteria:
  - name: correct
    description: Is the refund amount the one the policy gives?
    weight: 2
    scale:
      1: the amount is wrong or missing
      2: the amount is right
  - name: polite
    description: Is the tone polite?
    scale: [rude, neutral, polite]
"""


def test_yaml_json_and_python_give_the_same_rubric(tmp_path: Path) -> None:
    from_yaml = Rubric.from_yaml(YAML)
    built = Rubric(
        name="refund_answer",
        description="Is a refund answer right and polite?",
        pass_threshold=0.75,
        criteria=[
            Criterion(
                name="correct",
                description="Is the refund amount the one the policy gives?",
                weight=2,
                scale={1: "the amount is wrong or missing", 2: "the amount is right"},
            ),
            Criterion(
                name="polite",
                description="Is the tone polite?",
                scale=["rude", "neutral", "polite"],  # type: ignore[arg-type]  # a list is levels 1..n
            ),
        ],
    )
    assert from_yaml == built
    path = tmp_path / "r.json"
    path.write_text(json.dumps(built.to_dict()))
    assert Rubric.load(path) == built
    yaml_path = tmp_path / "r.yaml"
    yaml_path.write_text(YAML)
    assert Rubric.load(yaml_path) == built
    assert built.criterion("polite").scale == {1: "rude", 2: "neutral", 3: "polite"}


def test_weighted_total_is_normalised() -> None:
    rubric = Rubric.from_yaml(YAML)
    assert rubric.total({"correct": 2, "polite": 3}) == 1.0
    assert rubric.total({"correct": 1, "polite": 1}) == 0.0
    # correct at top (weight 2 -> 2/3 of the total) and polite at its middle (0.5 * 1/3)
    assert rubric.total({"correct": 2, "polite": 2}) == pytest.approx(2 / 3 + 1 / 6)
    assert rubric.passes(0.75) and not rubric.passes(0.74)


@pytest.mark.parametrize(
    ("patch", "needles"),
    [
        ({"pass_threshold": 1.5}, ["pass_threshold = 1.5", "outside [0, 1]", "Fix"]),
        ({"criteria": []}, ["criteria", "at least one criterion"]),
        ({"colour": "red"}, ["colour", "unknown field"]),
        (
            {"criteria": [{"name": "bad name", "description": "d", "scale": ["a", "b"]}]},
            ["criteria[0].name", "'bad name'", "identifier", "'bad_name'"],
        ),
        (
            {"criteria": [{"name": "a", "description": "d", "scale": ["only one"]}]},
            ["criteria[0].scale", "at least two levels"],
        ),
        (
            {"criteria": [{"name": "a", "description": "d", "scale": {1: "x", 3: "y"}}]},
            ["not consecutive", "renumber"],
        ),
        ({"criteria": [{"name": "a", "description": "d", "scale": ["x", " "]}]}, ["no anchor sentence"]),
        (
            {"criteria": [{"name": "a", "description": "d", "scale": ["x", "y"], "weight": 0}]},
            ["criteria[0].weight = 0", "> 0"],
        ),
        ({"criteria": [{"name": "a", "description": "d", "scale": ["x", "y"]}] * 2}, ["appears twice"]),
        ({"criteria": [{"name": "a", "scale": ["x", "y"]}]}, ["criteria[0].description", "required"]),
    ],
)
def test_invalid_rubrics_name_field_value_rule_and_fix(patch: dict[str, object], needles: list[str]) -> None:
    data: dict[str, object] = {
        "name": "r",
        "criteria": [{"name": "a", "description": "d", "scale": ["x", "y"]}],
    }
    data.update(patch)
    with pytest.raises(RubricError) as info:
        Rubric.from_dict(data, source="my.yaml")
    message = str(info.value)
    assert message.startswith("my.yaml: invalid rubric")
    for needle in needles:
        assert needle in message
    assert isinstance(info.value, ValueError)


def test_unparseable_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="not valid YAML"):
        Rubric.from_yaml("name: [unclosed")
    with pytest.raises(RubricError, match=r"line 1, column"):
        Rubric.from_json("{nope", source="r.json")
    with pytest.raises(RubricError, match="no such rubric file"):
        Rubric.load(tmp_path / "missing.yaml")
    with pytest.raises(RubricError, match="top level is a list"):
        Rubric.from_yaml("- a\n- b\n")


def _verdict(
    passed: bool | None, status: str = "scored", scores: tuple[int | None, int | None] = (1, 2)
) -> Verdict:
    rubric = Rubric.from_yaml(YAML)
    total = None if scores[0] is None else rubric.total({"correct": scores[0], "polite": scores[1]})  # type: ignore[dict-item]
    return Verdict(
        rubric=rubric,
        status=status,  # type: ignore[arg-type]
        passed=passed,
        total=total,
        scores=(
            CriterionScore(
                criterion="correct",
                score=scores[0],
                low=1,
                high=2,
                weight=2.0,
                anchor=None if scores[0] is None else rubric.criteria[0].scale[scores[0]],
            ),
            CriterionScore(
                criterion="polite",
                score=scores[1],
                low=1,
                high=3,
                weight=1.0,
                anchor=None if scores[1] is None else rubric.criteria[1].scale[scores[1]],
            ),
        ),
        rationale="the amount is off by ten",
        reason=None if status == "scored" else "the reply was malformed twice",
        raw=("not json", "still not json") if status == "unscored" else (),
        judge=JudgeSpec(name="openai", args={"model": "smollm2"}),
        candidate="Your refund is $90.",
    )


def test_verdict_refuses_truthiness() -> None:
    verdict = _verdict(True, scores=(2, 3))
    with pytest.raises(TypeError, match=r"assert verdict\.passed"):
        bool(verdict)


def test_failed_verdict_table_names_each_criterion() -> None:
    verdict = _verdict(False)
    table = verdict.table()
    assert table.splitlines()[0] == (
        "Verdict FAILED: rubric 'refund_answer', total 0.17 < threshold 0.75, judge smollm2"
    )
    assert "correct    2       1/2    the amount is wrong or missing" in table
    assert "polite     1       2/3    neutral" in table
    assert "rationale: the amount is off by ten" in table
    with pytest.raises(VerdictFailed) as info:
        verdict.assert_passed()
    assert str(info.value) == table
    assert isinstance(info.value, AssertionError)


def test_unscored_verdict_never_passes_and_shows_raw_replies() -> None:
    verdict = _verdict(None, status="unscored", scores=(None, None))
    with pytest.raises(VerdictFailed) as info:
        verdict.assert_passed()
    text = str(info.value)
    assert text.startswith("Verdict UNSCORED: rubric 'refund_answer', no total (threshold 0.75)")
    assert "raw reply 1: 'not json'" in text and "raw reply 2: 'still not json'" in text
    assert "reason: the reply was malformed twice" in text


def test_passed_verdict_returns_itself_and_round_trips_json() -> None:
    verdict = _verdict(True, scores=(2, 3))
    assert verdict.assert_passed() is verdict
    again = Verdict.model_validate_json(verdict.model_dump_json())
    assert again == verdict
    assert again.score_of("polite") == 3
    with pytest.raises(KeyError, match="no criterion 'tone'"):
        again.score_of("tone")
