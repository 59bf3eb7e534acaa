"""agent() and @tool: scopes, nesting, attribution, sync and async, no-op outside a run."""

from __future__ import annotations

import asyncio

import pytest

from harness import ConfigError, RunHooks, WorkerKilled, agent, run_system, tool
from harness.events import AgentEnd, AgentStart, Compensation, ToolCall


@tool(side_effect=True, compensate="refund")
def charge(amount: int, *, idempotency_key: str | None = None, api_key: str = "") -> dict[str, int]:
    return {"charged": amount}


@tool
def refund(amount: int) -> str:
    return "refunded"


@tool(name="lookup")
async def async_lookup(q: str) -> list[str]:
    await asyncio.sleep(1)
    return [q.upper()]


@tool
def boom() -> None:
    raise ValueError("card declined")


def test_outside_a_run_everything_is_a_plain_call() -> None:
    assert charge(5) == {"charged": 5}
    with agent("x"):
        assert refund(1) == "refunded"
    assert asyncio.run(async_lookup("q")) == ["Q"]

    @agent("decorated")
    def f(x: int) -> int:
        return x + 1

    assert f(1) == 2


def test_sync_agents_nest_and_tools_are_attributed() -> None:
    def system() -> str:
        with agent("orchestrator"):
            with agent("payments"):
                charge(10, idempotency_key="k1", api_key="sk-verysecretvalue1234567890")
                charge(10, idempotency_key="k1")
            refund(10)
        return "done"

    run = run_system(system)
    starts = run.log.of(AgentStart)
    assert [(s.name, s.spawned_by) for s in starts] == [("orchestrator", None), ("payments", "orchestrator")]
    calls = run.log.of(ToolCall)
    assert [c.name for c in calls] == ["charge", "charge", "refund"]
    first, second, third = calls
    assert first.agent == "payments" and first.parent_step_id == starts[1].step_id
    assert first.idempotency_key == "k1" and first.side_effect and first.compensate == "refund"
    assert (first.attempt, second.attempt) == (1, 1)  # different args (api_key present vs not)
    assert first.args["api_key"] == "[REDACTED]"
    assert third.agent == "orchestrator" and third.compensates == "charge"
    assert [c.for_tool for c in run.log.of(Compensation)] == ["charge"]
    assert run.output == "done" and run.status == "ok"


def test_attempt_counts_identical_calls() -> None:
    def system() -> None:
        with agent("a"):
            for _ in range(3):
                charge(7)

    run = run_system(system)
    assert [c.attempt for c in run.log.of(ToolCall)] == [1, 2, 3]


def test_async_tools_and_agents_on_virtual_time() -> None:
    @agent("worker")
    async def worker(i: int) -> list[str]:
        return await async_lookup(str(i))

    async def system() -> list[list[str]]:
        async with agent("orchestrator"):
            return await asyncio.gather(worker(1), worker(2))

    run = run_system(system)
    assert run.output == [["1"], ["2"]]
    calls = run.log.of(ToolCall)
    assert {c.agent for c in calls} == {"worker"}
    assert all(c.latency == 1.0 for c in calls)
    assert run.log[-1].t == 1.0


def test_errors_statuses_are_recorded_and_reraised() -> None:
    def system() -> None:
        with agent("a"):
            boom()

    run = run_system(system)
    assert isinstance(run.error, ValueError)
    call = run.log.of(ToolCall)[0]
    assert (call.status, call.error_type, call.error) == ("error", "ValueError", "card declined")
    end = run.log.of(AgentEnd)[0]
    assert end.status == "error"
    assert run.status == "error"


def test_timeouts_cancellation_and_kills_get_their_own_status() -> None:
    async def slow() -> None:
        async with agent("slow"):
            await asyncio.sleep(100)

    async def killed() -> None:
        async with agent("victim"):
            raise WorkerKilled("crash-stop")

    async def system() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), 5)
        try:
            await killed()
        except Exception:  # pragma: no cover - a kill is not an Exception
            raise AssertionError("WorkerKilled must not be caught by except Exception") from None

    run = run_system(system)
    statuses = {e.name: e.status for e in run.log.of(AgentEnd)}
    assert statuses == {"slow": "cancelled", "victim": "killed"}
    assert isinstance(run.error, WorkerKilled)
    assert run.status == "killed"


def test_hooks_see_call_numbers_and_can_replace_results() -> None:
    seen = []

    class Hooks(RunHooks):
        def tool_call(self, ctx, site, proceed):  # type: ignore[no-untyped-def]
            seen.append((site.name, site.call, site.attempt, site.agent))
            if site.call == 2:
                return {"charged": -1}
            return proceed()

    def system() -> list[dict[str, int]]:
        with agent("a"):
            return [charge(1), charge(1)]

    run = run_system(system, hooks=Hooks())
    assert seen == [("charge", 1, 1, "a"), ("charge", 2, 2, "a")]
    assert run.output == [{"charged": 1}, {"charged": -1}]
    assert [c.executed for c in run.log.of(ToolCall)] == [True, False]


def test_bad_declarations_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="non-empty string"):
        agent("")
    with pytest.raises(ConfigError, match="compensate names the tool"):
        tool(compensate="")
