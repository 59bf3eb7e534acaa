"""``harness.spawn`` and ``harness.handoff``: the events the orphan, goal-drift and contract checkers read."""

from __future__ import annotations

import asyncio

import pydantic
import pytest

import harness
from harness import ConfigError


class Brief(pydantic.BaseModel):
    topic: str
    constraints: list[str]


def test_spawn_records_spawn_and_join_with_outcomes() -> None:
    async def ok() -> int:
        await asyncio.sleep(1)
        return 1

    async def slow() -> int:
        await asyncio.sleep(100)
        return 2

    async def system() -> int:
        async with harness.agent("orchestrator"):
            a = harness.spawn(ok(), name="a")
            b = harness.spawn(slow(), name="b")
            done, _ = await asyncio.wait({a, b}, timeout=5)
            assert done == {a}
            return a.result()

    run = harness.run_system(system)
    spawns = [e for e in run.log if e.kind == "spawn"]
    joins = [e for e in run.log if e.kind == "join"]
    assert [(e.task, e.agent) for e in spawns] == [("a", "orchestrator"), ("b", "orchestrator")]
    # "b" was still running when the run ended: no join (orphaned work).
    assert [(e.task, e.outcome) for e in joins] == [("a", "ok")]


def test_spawn_join_outcome_for_cancelled_and_failed_tasks() -> None:
    async def boom() -> None:
        raise ValueError("no")

    async def system() -> None:
        a = harness.spawn(asyncio.sleep(50), name="sleeper")
        b = harness.spawn(boom(), name="boom")
        await asyncio.sleep(1)
        a.cancel()
        await asyncio.gather(a, b, return_exceptions=True)

    run = harness.run_system(system)
    joins = {(e.task, e.outcome) for e in run.log if e.kind == "join"}
    assert joins == {("sleeper", "cancelled"), ("boom", "error")}


def test_spawn_outside_a_run_is_a_plain_task_and_rejects_empty_names() -> None:
    async def main() -> int:
        task = harness.spawn(asyncio.sleep(0, result=7), name="x")
        with pytest.raises(ConfigError, match="non-empty string"):
            harness.spawn(asyncio.sleep(0), name="")
        return await task

    assert asyncio.run(main()) == 7


def test_handoff_validates_against_schema_and_records_constraints() -> None:
    def system() -> tuple[Brief, str]:
        with harness.agent("researcher"):
            brief = harness.handoff(
                "writer",
                {"topic": "offsite", "constraints": ["flag > $10,000"]},
                schema=Brief,
                constraints=["flag > $10,000"],
            )
            text = harness.handoff("editor", "write about the offsite", constraints=["flag > $10,000"])
            with pytest.raises(pydantic.ValidationError):
                harness.handoff("editor", {"topic": 3}, schema=Brief)
        return brief, text

    run = harness.run_system(system)
    assert isinstance(run.output[0], Brief)
    events = [e for e in run.log if e.kind == "handoff"]
    assert [(e.source, e.target, e.schema_name, e.valid) for e in events] == [
        ("researcher", "writer", "Brief", True),
        ("researcher", "editor", None, None),
        ("researcher", "editor", "Brief", False),
    ]
    assert events[0].constraints == ["flag > $10,000"]
    assert any(err.startswith("constraints:") for err in events[2].errors)
    assert any(err.startswith("topic:") for err in events[2].errors)


def test_handoff_rejects_a_schema_that_is_not_a_model() -> None:
    with pytest.raises(ConfigError, match="pydantic model class"):
        harness.handoff("writer", {}, schema=dict)
