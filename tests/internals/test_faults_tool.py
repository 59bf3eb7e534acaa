"""Tool and worker faults: what the system sees, what really ran, what the log says."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from faults import (
    AckLost,
    DeadlineCancelled,
    EmptyResult,
    Fault,
    FaultPlan,
    Hang,
    Kill,
    Latency,
    LostAck,
    MalformedResult,
    SlowThenSucceed,
    Timeout,
    ToolError,
)
from harness import WorkerKilled, agent, run_system, tool
from harness._log._events import AgentEnd, FaultInjected, ToolCall

EFFECTS: list[str] = []


@tool("charge", side_effect=True)
async def charge(amount: int) -> dict[str, Any]:
    EFFECTS.append(f"charge {amount}")
    return {"ok": True, "amount": amount}


@tool("lookup")
def lookup(key: str) -> str:
    EFFECTS.append(f"lookup {key}")
    return f"value-of-{key}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    EFFECTS.clear()


def plan(*faults: Fault) -> Any:
    return FaultPlan(faults=faults).hooks()


async def pay_once() -> Any:
    async with agent("payer"):
        return await asyncio.wait_for(charge(10), 30)


async def pay_with_retry() -> Any:
    async with agent("payer"):
        for _ in range(3):
            try:
                return await asyncio.wait_for(charge(10), 30)
            except TimeoutError:
                continue
        return None


def sync_lookup() -> Any:
    with agent("reader"):
        return lookup("k")


def f(effect: Any, target: str | None = "charge", call: int | str = 1, site: str = "tool") -> Fault:
    return Fault(site=site, target=target, call=call, effect=effect)  # type: ignore[arg-type]


def test_no_plan_no_fault() -> None:
    run = run_system(pay_once, hooks=plan())
    assert run.output == {"ok": True, "amount": 10} and EFFECTS == ["charge 10"]
    assert not run.log.of(FaultInjected)


def test_error_raises_the_named_exception_without_running_the_tool() -> None:
    run = run_system(pay_once, hooks=plan(f(ToolError(error_type="PermissionError", message="denied"))))
    assert type(run.error) is PermissionError and str(run.error) == "denied"
    assert EFFECTS == []
    call = run.log.of(ToolCall)[0]
    assert call.status == "error" and call.executed is False and call.error_type == "PermissionError"
    assert run.log.of(FaultInjected)[0].seq < call.seq


def test_timeout_fires_after_virtual_seconds_and_the_tool_never_ran() -> None:
    started = time.perf_counter()
    run = run_system(pay_once, hooks=plan(f(Timeout(after=30))))
    wall = time.perf_counter() - started
    assert isinstance(run.error, TimeoutError)
    assert EFFECTS == []
    assert run.log[-1].t == pytest.approx(30.0)
    assert wall < 25  # a real 30 s wait would exceed it whatever the load; the cost is in the benchmark


def test_latency_delays_then_runs() -> None:
    run = run_system(pay_once, hooks=plan(f(Latency(seconds=5))))
    assert run.output["ok"] and EFFECTS == ["charge 10"]
    assert run.log.of(ToolCall)[0].latency == pytest.approx(5.0)


def test_slow_then_succeed_runs_but_replies_after_the_caller_gave_up() -> None:
    run = run_system(pay_with_retry, hooks=plan(f(SlowThenSucceed(seconds=40))))
    assert run.output == {"ok": True, "amount": 10}
    assert EFFECTS == ["charge 10", "charge 10"]  # the duplicate side effect a retry causes
    first, second = run.log.of(ToolCall)
    assert first.status == "cancelled" and first.executed is True
    assert second.status == "ok" and second.attempt == 2


def test_lost_ack_runs_then_the_caller_times_out() -> None:
    run = run_system(pay_with_retry, hooks=plan(f(LostAck(after=60))))
    # The ack is lost after 60 s, but the caller's own 30 s timeout fires first: a retry.
    assert EFFECTS == ["charge 10", "charge 10"]
    assert run.log.of(ToolCall)[0].executed is True


def test_lost_ack_without_a_caller_timeout_is_recorded_as_lost_ack() -> None:
    async def system() -> Any:
        async with agent("payer"):
            return await charge(5)

    run = run_system(system, hooks=plan(f(LostAck(after=15))))
    assert isinstance(run.error, AckLost) and isinstance(run.error, TimeoutError)
    assert EFFECTS == ["charge 5"]
    call = run.log.of(ToolCall)[0]
    assert call.status == "lost_ack" and call.executed is True and call.t == pytest.approx(15.0)


def test_malformed_and_empty_results() -> None:
    run = run_system(pay_once, hooks=plan(f(MalformedResult())))
    assert isinstance(run.output, str) and run.output.startswith('{"ok": true')
    assert EFFECTS == ["charge 10"]
    run = run_system(pay_once, hooks=plan(f(EmptyResult())))
    assert run.output == {}
    run = run_system(sync_lookup, hooks=plan(f(EmptyResult(), target="lookup")))
    assert run.output == ""


def test_sync_tool_faults_use_the_logical_clock() -> None:
    run = run_system(sync_lookup, hooks=plan(f(SlowThenSucceed(seconds=12), target="lookup")))
    assert run.output == "value-of-k"
    assert run.log[-1].t == pytest.approx(12.0)
    run = run_system(sync_lookup, hooks=plan(f(Timeout(after=9), target="lookup")))
    assert isinstance(run.error, TimeoutError) and run.log[-1].t == pytest.approx(9.0)


def test_tool_hang_blocks_until_the_callers_timeout() -> None:
    run = run_system(pay_once, hooks=plan(f(Hang())))
    assert isinstance(run.error, TimeoutError)
    assert run.log[-1].t == pytest.approx(30.0)
    assert run.log.of(ToolCall)[0].status == "cancelled"


def test_sync_hang_ends_at_the_runs_deadline() -> None:
    run = run_system(sync_lookup, hooks=plan(f(Hang(), target="lookup")), deadline=120)
    assert isinstance(run.error, DeadlineCancelled)
    assert run.deadline_passed and run.status == "cancelled"
    assert run.log[-1].t == pytest.approx(120.0)


def test_call_numbers_select_the_nth_call_of_that_tool() -> None:
    async def system() -> list[Any]:
        out = []
        async with agent("payer"):
            for amount in (1, 2, 3):
                try:
                    out.append((await charge(amount))["amount"])
                except ConnectionError:
                    out.append("failed")
        return out

    run = run_system(system, hooks=plan(f(ToolError(), call=2)))
    assert run.output == [1, "failed", 3]
    injected = run.log.of(FaultInjected)
    assert [(e.site, e.target, e.call) for e in injected] == [("tool", "charge", 2)]


# -- workers --------------------------------------------------------------------------------
async def two_workers() -> Any:
    async def work(name: str) -> str:
        async with agent(name):
            await charge(1)
            await charge(2)
            return name

    async with agent("boss"):
        results = await asyncio.gather(work("w1"), work("w2"), return_exceptions=True)
        return [r if isinstance(r, str) else type(r).__name__ for r in results]


def test_kill_on_entry_is_a_crash_that_except_exception_cannot_catch() -> None:
    async def system() -> str:
        try:
            async with agent("w1"):
                return "survived"
        except Exception:  # a real crash is not catchable like this, nor is the injected one
            return "caught"

    run = run_system(system, hooks=plan(f(Kill(), target="w1", site="worker")))
    assert isinstance(run.error, WorkerKilled) and not isinstance(run.error, Exception)
    end = run.log.of(AgentEnd)[0]
    assert end.name == "w1" and end.status == "killed"


def test_kill_after_calls_crashes_after_the_side_effect() -> None:
    run = run_system(two_workers, hooks=plan(f(Kill(after_calls=1), target="w2", site="worker")))
    assert run.output == ["w1", "WorkerKilled"]
    assert EFFECTS.count("charge 1") == 2 and EFFECTS.count("charge 2") == 1  # w2 charged once, then died
    killed_call = [c for c in run.log.of(ToolCall) if c.agent == "w2"]
    assert len(killed_call) == 1 and killed_call[0].status == "killed" and killed_call[0].executed
    assert {e.name: e.status for e in run.log.of(AgentEnd)}["w2"] == "killed"


def test_worker_hang_blocks_until_cancelled() -> None:
    async def system() -> str:
        async with agent("boss"):
            try:
                return await asyncio.wait_for(two_workers(), 50)
            except TimeoutError:
                return "gave up"

    run = run_system(system, hooks=plan(f(Hang(), target="w1", site="worker")))
    assert run.output == "gave up"
    assert run.log[-1].t == pytest.approx(50.0)
    assert {e.name: e.status for e in run.log.of(AgentEnd)}["w1"] == "cancelled"


def test_first_matching_fault_wins_and_every_injection_is_recorded_first() -> None:
    run = run_system(
        pay_once,
        hooks=plan(f(ToolError(error_type="ValueError")), f(ToolError(error_type="OSError"), call="every")),
    )
    assert type(run.error) is ValueError
    (injected,) = run.log.of(FaultInjected)
    assert injected.effect == "error(ValueError)" and injected.fault["call"] == 1


def test_same_plan_same_log() -> None:
    hooks = plan(f(SlowThenSucceed()), f(Kill(after_calls=1), target="w2", site="worker"))
    a = run_system(pay_with_retry, hooks=hooks)
    b = run_system(pay_with_retry, hooks=hooks)  # one hooks object may serve several runs
    assert a.log.without_run_id() == b.log.without_run_id()
