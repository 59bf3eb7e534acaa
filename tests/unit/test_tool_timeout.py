"""``@tool(timeout=...)``: a hang means what it would against the real caller, on the virtual clock."""

from __future__ import annotations

import time
from typing import Any

import pytest

from faults import Fault, FaultPlan, Hang, SlowThenSucceed
from harness import ConfigError, agent, run_checks, run_system, tool

CALLS: list[str] = []


@tool("lookup", timeout=5)
def lookup(q: str) -> str:
    CALLS.append(q)
    return f"facts about {q}"


@tool("lookup_forever")
def lookup_forever(q: str) -> str:
    return f"facts about {q}"


@tool("send", side_effect=True, timeout=5)
async def send(to: str) -> str:
    CALLS.append(to)
    return "queued"


def _plan(target: str, effect: Any) -> Any:
    return FaultPlan(faults=(Fault(site="tool", target=target, call=1, effect=effect),)).hooks()


def test_a_hang_at_a_tool_with_a_declared_timeout_is_that_timeout_in_virtual_time() -> None:
    def system() -> str:
        with agent("researcher"):
            try:
                return lookup("tides")
            except TimeoutError as exc:
                return f"unavailable: {exc}"

    started = time.perf_counter()
    run = run_system(system, hooks=_plan("lookup", Hang()))
    assert time.perf_counter() - started < 2  # 5 virtual seconds cost no wall time
    assert run.error is None and not run.deadline_passed
    assert run.output == "unavailable: tool 'lookup' timed out after 5s (its caller's timeout)"
    [call] = [e for e in run.log if e.kind == "tool_call"]
    assert call.status == "timeout"
    assert run.log[-1].t == pytest.approx(5.0)  # the run ended when the caller's timeout fired


def test_a_late_reply_is_lost_to_a_caller_with_a_timeout_after_the_step_ran() -> None:
    CALLS.clear()

    async def system() -> str:
        async with agent("mailer"):
            try:
                return await send("ada")
            except TimeoutError:
                return "timed out"

    run = run_system(system, hooks=_plan("send", SlowThenSucceed(seconds=40)))
    assert run.output == "timed out"
    assert CALLS == ["ada"]  # the side effect happened; the caller never heard back


def test_a_hang_at_a_tool_without_any_timeout_is_one_clear_liveness_finding() -> None:
    def system() -> str:
        with agent("researcher"):
            return lookup_forever("tides")

    run = run_system(system, hooks=_plan("lookup_forever", Hang()), deadline=60)
    assert run.deadline_passed
    [violation] = [v for v in run_checks(run.log) if v.checker == "liveness"]
    assert "tool 'lookup_forever'" in violation.message and "has no timeout" in violation.message
    assert "@tool(timeout=...)" in violation.message


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "30", True])
def test_a_timeout_must_be_a_positive_number(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"tool\(timeout=.*a number > 0"):
        tool("x", timeout=bad)
