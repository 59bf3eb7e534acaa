"""Plausible-but-wrong answers: a valid-looking wrong value, drawn by exploration only when named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from _support.fake_openai import FakeOpenAI

from faults import (
    EFFECTS,
    AlteredField,
    DroppedItem,
    Fault,
    FaultPlan,
    PerturbedValue,
    StaleResult,
)
from faults._effects import alter_field, alter_text, drop_item, perturb_number
from harness import agent, run_system, tool
from harness._log._events import ToolCall
from scenarios import parse_kinds

STOCK = {"n": 0}


@tool("invoice")
def invoice(invoice_id: str) -> dict[str, Any]:
    STOCK["n"] += 1
    return {"invoice_id": invoice_id, "version": STOCK["n"], "lines": [10, 20, 30], "total": 60.0}


def _system() -> list[dict[str, Any]]:
    STOCK["n"] = 0
    with agent("accountant"):
        return [invoice("inv-7"), invoice("inv-7")]


def _run(effect: Any, call: int = 2) -> list[dict[str, Any]]:
    plan = FaultPlan(faults=[Fault(site="tool", target="invoice", call=call, effect=effect)])
    run = run_system(_system, hooks=plan.hooks())
    assert run.error is None
    calls = run.log.of(ToolCall)
    assert calls[call - 1].result == run.output[call - 1]  # the log records what the caller got
    return run.output  # type: ignore[no-any-return]


def test_transforms_keep_the_shape_and_change_one_thing() -> None:
    value = {"id": "inv-7", "flag": True, "lines": [10, 20, 30], "total": 60.0}
    assert perturb_number(value) == {**value, "lines": [11, 20, 30]}
    assert perturb_number(60.0, 0.5) == 90.0 and perturb_number(0) == 1 and perturb_number("x") == "x"
    assert drop_item(value) == {**value, "lines": [10, 20]}
    assert drop_item((1, 2, 3), 0) == (2, 3) and drop_item("text") == "text"
    assert alter_field(value) == {**value, "id": "inv-8"}
    assert alter_field(value, "total") == {**value, "total": 66.0}
    assert alter_field([{"a": None, "b": False}]) == [{"a": None, "b": True}]
    assert alter_text("ada@example.com") == "ada@example.con"
    assert alter_text("Z9") == "Z0" and alter_text("--") == "--x"


def test_tool_answers_are_plausible_and_wrong() -> None:
    right = {"invoice_id": "inv-7", "version": 2, "lines": [10, 20, 30], "total": 60.0}
    assert _run(PerturbedValue())[1] == {**right, "version": 3}
    assert _run(DroppedItem())[1] == {**right, "lines": [10, 20]}
    assert _run(AlteredField())[1] == {**right, "invoice_id": "inv-8"}
    assert _run(AlteredField(field="total"))[1] == {**right, "total": 66.0}


def test_stale_result_serves_the_earlier_answer_of_the_same_call() -> None:
    first, second = _run(StaleResult())
    assert first["version"] == 1 and second == first  # the tool ran (version 2), the caller got version 1
    assert STOCK["n"] == 2
    first, _ = _run(StaleResult(), call=1)  # nothing earlier: the first call gets its own answer
    assert first["version"] == 1


def test_stale_result_falls_back_to_another_key_of_the_same_tool() -> None:
    def system() -> list[dict[str, Any]]:
        STOCK["n"] = 0
        return [invoice("inv-1"), invoice("inv-2")]

    plan = FaultPlan(faults=[Fault(site="tool", target="invoice", call=2, effect=StaleResult())])
    run = run_system(system, hooks=plan.hooks())
    assert run.output[1]["invoice_id"] == "inv-1"  # a cache keyed on the wrong fields


def test_wrong_answers_are_drawn_only_when_named() -> None:
    wrong = {"perturbed_value", "dropped_item", "altered_field", "stale_result"}
    assert all(EFFECTS[k].opt_in for k in wrong)
    assert wrong.isdisjoint(parse_kinds([])["tool"]) and wrong.isdisjoint(parse_kinds(["tool"])["tool"])
    assert parse_kinds(["tool.stale_result"]) == {"tool": ["stale_result"]}
    assert "perturbed_value" in parse_kinds(["llm.perturbed_value"])["llm"]


# -- LLM: a JSON answer with one field altered ------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def _llm_system(url: str) -> Any:
    async def system() -> Any:
        client = openai.AsyncOpenAI(base_url=url, api_key="sk-test", max_retries=0)
        async with agent("bot"):
            reply = await client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "order 17"}],
                tools=TOOLS,  # type: ignore[arg-type]
            )
            message = reply.choices[0].message
            calls = message.tool_calls or []
            return message.content, [json.loads(c.function.arguments) for c in calls]  # type: ignore[union-attr]

    return system


@pytest.mark.parametrize(
    ("effect", "expected"),
    [(AlteredField(), {"query": "order 18"}), (PerturbedValue(), {"query": "order 17"})],
)
def test_llm_json_answer_altered(server: Any, effect: Any, expected: dict[str, Any]) -> None:
    plan = FaultPlan(faults=[Fault(site="llm", target="bot", call=1, effect=effect)])
    run = run_system(_llm_system(server.url), hooks=plan.hooks())
    assert run.error is None
    assert run.output == (None, [expected])  # a JSON answer with no number is passed on as is


def test_llm_text_answer_passes_unchanged(server: Any) -> None:
    async def system() -> Any:
        client = openai.AsyncOpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
        async with agent("bot"):
            messages = [{"role": "user", "content": "hi"}]
            reply = await client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
            return reply.choices[0].message.content

    plan = FaultPlan(faults=[Fault(site="llm", target="bot", call=1, effect=DroppedItem())])
    run = run_system(system, hooks=plan.hooks())
    assert run.error is None and run.output.endswith("to: hi")
