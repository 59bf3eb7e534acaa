"""Crash and restart in one run: kill points, incarnations, what a dead incarnation may still do."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import faults
from harness import ConfigError, ProcessCrashed, StateStore, agent, run_dir, run_system, spawn, tool
from harness.events import Restart, ToolCall

WORLD: list[str] = []


@pytest.fixture(autouse=True)
def _fresh_world() -> None:
    WORLD.clear()


@tool("charge", side_effect=True)
def charge(order: str) -> str:
    WORLD.append(f"charge {order}")
    return f"ch-{len(WORLD)}"


@tool("upload", side_effect=True)
async def upload(parts: int) -> int:
    for part in range(parts):
        await asyncio.sleep(1)  # a long call: one part a virtual second
        WORLD.append(f"part {part}")
    return parts


def _plan(*faults_: dict[str, Any]) -> faults.FaultPlan:
    return faults.FaultPlan.model_validate({"faults": list(faults_)})


def _crash(
    kind: str, site: str = "tool", target: str = "charge", call: Any = 1, **params: Any
) -> dict[str, Any]:
    return {"site": site, "target": target, "call": call, "effect": {"kind": kind, **params}}


def checkpointed(order: str) -> dict[str, Any]:
    store = StateStore("steps", path=Path(run_dir()) / "steps.db")
    try:
        with agent("orchestrator"):
            if store.read("charge").value is None:
                store.write("charge", charge(order))
            return {"charge": store.read("charge").value}
    finally:
        store.close()


def test_after_effect_the_effect_happened_and_the_restarted_system_resumes_from_its_store() -> None:
    run = run_system(
        checkpointed, ("o-1",), hooks=_plan(_crash("crash_after_effect")).hooks(), resume=checkpointed
    )
    assert WORLD == ["charge o-1", "charge o-1"]  # the charge took effect before the crash, then again
    assert run.status == "ok" and run.output == {"charge": "ch-2"} and run.restarts == 1
    restart = run.log.of(Restart)[0]
    assert (restart.point, restart.crashed, restart.incarnation) == ("after_effect", 0, 1)
    assert restart.site == "tool 'charge' call 1"
    killed = run.log[restart.crash_seq]
    assert isinstance(killed, ToolCall) and killed.status == "killed" and killed.executed
    assert all(e.incarnation == (0 if e.seq < restart.seq else 1) for e in run.log)
    lines = [json.loads(line) for line in run.log.dumps().splitlines()[1:]]
    assert {line["incarnation"] for line in lines} == {0, 1}  # the run log keeps both
    assert "incarnation" in run.log.frame().columns


def test_before_effect_nothing_happened_and_after_checkpoint_nothing_is_redone() -> None:
    before = run_system(
        checkpointed, ("o-1",), hooks=_plan(_crash("crash_before_effect")).hooks(), resume=checkpointed
    )
    assert WORLD == ["charge o-1"] and before.output == {"charge": "ch-1"}
    WORLD.clear()
    write = _crash("crash_after_checkpoint", site="state", target="steps")
    after = run_system(checkpointed, ("o-1",), hooks=_plan(write).hooks(), resume=checkpointed)
    assert WORLD == ["charge o-1"] and after.output == {"charge": "ch-1"}  # the checkpoint was durable
    assert after.log.of(Restart)[0].point == "after_checkpoint"


def test_without_resume_a_crash_ends_the_run_killed() -> None:
    run = run_system(checkpointed, ("o-1",), hooks=_plan(_crash("crash_after_effect")).hooks())
    assert run.status == "killed" and isinstance(run.error, ProcessCrashed) and run.restarts == 0
    assert run.error.point == "after_effect"


def test_a_system_that_crashes_every_time_stops_after_ten_restarts() -> None:
    run = run_system(
        checkpointed,
        ("o-1",),
        hooks=_plan(_crash("crash_before_effect", call="every")).hooks(),
        resume=checkpointed,
    )
    assert run.status == "killed" and run.restarts == 10


async def spawning(order: str) -> str:
    async def side() -> None:
        async with agent("helper"):
            await asyncio.sleep(5)
            charge("from the helper")  # never: the process died first

    async with agent("orchestrator"):
        task = spawn(side(), name="helper")
        await asyncio.sleep(1)
        charge(order)
        await task
        return "done"


async def resumed(order: str) -> str:
    return "resumed"


def test_the_dead_incarnation_s_tasks_are_cancelled_and_start_nothing() -> None:
    run = run_system(spawning, ("o-1",), hooks=_plan(_crash("crash_after_effect")).hooks(), resume=resumed)
    assert run.output == "resumed" and WORLD == ["charge o-1"]
    restart = run.log.of(Restart)[0]
    after_crash = [
        e for e in run.log if restart.crash_seq is not None and restart.crash_seq < e.seq < restart.seq
    ]
    assert after_crash == []  # no agent_end, join or wait of the dead incarnation was recorded


def test_a_dead_incarnation_refuses_every_step_it_tries() -> None:
    seen: list[str] = []

    def stubborn(order: str) -> str:
        with agent("orchestrator"):
            try:
                charge(order)
            except BaseException:
                for step in (lambda: charge("again"), lambda: StateStore("s").write("k", 1)):
                    try:
                        step()
                    except ProcessCrashed:
                        seen.append("refused")
            return "caught it"

    run = run_system(
        stubborn, ("o-1",), hooks=_plan(_crash("crash_after_effect")).hooks(), resume=lambda o: "resumed"
    )
    assert seen == ["refused", "refused"] and WORLD == ["charge o-1"] and run.output == "resumed"


async def uploader() -> int:
    async with agent("orchestrator"):
        return await upload(5)


def test_mid_call_cuts_a_long_async_call_off_part_way() -> None:
    plan = _plan(_crash("crash_mid_call", target="upload", after=2.5))

    async def resume() -> int:
        return -1

    run = run_system(uploader, hooks=plan.hooks(), resume=resume)
    assert WORLD == ["part 0", "part 1"] and run.output == -1  # two parts done, the rest never
    call = run.log.of(ToolCall)[0]
    assert call.status == "killed" and call.executed and call.latency == 2.5


def test_a_kill_point_is_recorded_as_a_fault_and_named_in_the_plan() -> None:
    assert str(_plan(_crash("crash_mid_call", target="upload"))) == "tool[upload]#1: crash_mid_call(1s)"
    assert faults.KILL_POINTS["after_effect"] == "crash_after_effect"
    assert faults.EFFECTS["crash_mid_stream"].restart and not faults.EFFECTS["latency"].restart


def test_resume_must_be_callable() -> None:
    with pytest.raises(ConfigError, match="resume=3 is not callable"):
        run_system(checkpointed, ("o-1",), resume=3)  # type: ignore[arg-type]
