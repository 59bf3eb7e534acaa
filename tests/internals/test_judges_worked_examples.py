"""Rubrics with worked examples: sent as a conversation, rationale first, validated, and never
built from the examples the judge is measured on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _support.judge_endpoint import ScriptedEndpoint

from judges import Judge, Rubric, RubricError, WorkedExample
from judges._calibrate import labelled_set
from judges._candidate import candidate_text
from judges._prompt import build_messages, reply_schema

BASE: dict[str, Any] = {
    "name": "refund",
    "pass_threshold": 0.99,
    "criteria": [
        {"name": "right_amount", "description": "Is the refund the paid amount?", "scale": ["no", "yes"]}
    ],
}
EXAMPLES = [
    {
        "context": "Order paid $40.",
        "candidate": {"refund": 40},
        "scores": {"right_amount": 2},
        "rationale": "40 = 40",
    },
    {
        "context": "Order paid $15.",
        "candidate": {"refund": 30},
        "scores": {"right_amount": 1},
        "rationale": "30 > 15",
    },
]
WITH_EXAMPLES = Rubric.from_dict({**BASE, "examples": EXAMPLES})


def _reply(rationale: str, level: int) -> str:
    return json.dumps({"rationale": rationale, "scores": {"right_amount": level}})


def test_examples_are_earlier_turns_and_the_judge_reasons_first() -> None:
    endpoint = ScriptedEndpoint(_reply("refund 25 equals the 25 paid", 2))
    judge = Judge("qwen", base_url="http://judge.test/v1", client=endpoint.client())
    verdict = judge({"refund": 25}, WITH_EXAMPLES, context="Order paid $25.")
    assert verdict.passed is True and verdict.rationale == "refund 25 equals the 25 paid"
    [request] = endpoint.requests
    roles = [m["role"] for m in request["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    system = request["messages"][0]["content"]
    assert "Is the refund the paid amount?" in system and "never instructions" in system
    first_reply = json.loads(request["messages"][2]["content"])
    assert first_reply == {"rationale": "40 = 40", "scores": {"right_amount": 2}}
    assert "Order paid $15." in request["messages"][3]["content"]
    assert '"refund": 25' in request["messages"][-1]["content"]
    # The grammar makes the rationale come first, as the examples show.
    assert list(request["response_format"]["schema"]["properties"]) == ["rationale", "scores"]


def test_everything_before_the_candidate_is_shared_so_a_prompt_cache_reuses_it() -> None:
    for style in ("hardened", "naive"):
        one = build_messages(style, WITH_EXAMPLES, candidate_text({"refund": 1}), "Order paid $1.")
        two = build_messages(style, WITH_EXAMPLES, candidate_text({"refund": 9}), "Order paid $7.")
        assert one[:-1] == two[:-1] and one[-1] != two[-1]


def test_hardened_fences_every_example_and_naive_fences_none() -> None:
    hardened = build_messages("hardened", WITH_EXAMPLES, "x", None)
    naive = build_messages("naive", WITH_EXAMPLES, "x", None)
    for message in hardened[1::2]:
        assert message["role"] == "user" and message["content"].count("=====CANDIDATE-") == 3
    assert not any("=====CANDIDATE-" in m["content"] for m in naive)
    assert "never instructions" not in naive[0]["content"]


def test_a_rubric_without_examples_keeps_its_data_and_prompt() -> None:
    plain = Rubric.from_dict(BASE)
    assert "examples" not in plain.to_dict()  # digests, delimiters and cache keys are unchanged
    assert list(reply_schema(plain)["properties"]) == ["scores", "rationale"]
    assert [m["role"] for m in build_messages("hardened", plain, "x", None)] == ["system", "user"]
    again = Rubric.from_dict(WITH_EXAMPLES.to_dict())
    assert again == WITH_EXAMPLES and isinstance(again.examples[0], WorkedExample)


@pytest.mark.parametrize(
    ("example", "needles"),
    [
        ({"scores": {"other": 2}, "rationale": "r"}, ["examples[0].scores", "right_amount", "one level per"]),
        ({"scores": {"right_amount": 5}, "rationale": "r"}, ["= 5 is not a level", "[1, 2]"]),
        ({"scores": {"right_amount": 2}, "rationale": "  "}, ["rationale is empty", "Fix:"]),
        ({"scores": {"right_amount": 2}}, ["rationale", "required"]),
    ],
)
def test_bad_examples_name_the_field_value_and_fix(example: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(RubricError) as info:
        Rubric.from_dict({**BASE, "examples": [{"candidate": "c", **example}]})
    for needle in needles:
        assert needle in str(info.value)


def test_shipped_examples_are_not_the_measured_ones() -> None:
    """The calibration set measures the judge; its examples must never be shown to it as worked ones."""
    examples, rubrics = labelled_set()
    shown = {(r.name, candidate_text(e.candidate), e.context) for r in rubrics.values() for e in r.examples}
    shown_candidates = {c for _, c, _ in shown}
    shown_contexts = {ctx for _, _, ctx in shown}
    assert all(r.examples for r in rubrics.values())
    assert not [e.id for e in examples if candidate_text(e.candidate) in shown_candidates]
    assert not [e.id for e in examples if e.context in shown_contexts]
    # each rubric shows at least one passing and one failing example
    for rubric in rubrics.values():
        levels = {tuple(e.scores.values()) for e in rubric.examples}
        assert len(levels) >= 2, rubric.name
