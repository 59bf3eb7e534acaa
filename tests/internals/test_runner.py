"""The runner: virtual time, determinism, orphan cleanup, deadlines, harness errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness import agent, current_run, run_system
from harness.events import AgentEnd, RunEnd


async def _system(n: int) -> int:
    async with agent("orchestrator"):

        async def leg(i: int) -> int:
            async with agent(f"leg{i}"):
                await asyncio.sleep(10 * (i + 1))
                return i

        return sum(await asyncio.gather(*(leg(i) for i in range(n))))


def test_virtual_time_costs_no_wall_time() -> None:
    started = time.perf_counter()
    run = run_system(_system, (3,))
    wall = time.perf_counter() - started
    assert run.output == 3
    assert run.log[-1].t == 30.0
    # Not a speed target (docs/benchmarks.md has those): 30 seconds spent for real would exceed
    # this bound whatever the machine's load, so it only fails if the wait was not virtual.
    assert wall < 25


def test_two_runs_are_identical_apart_from_run_id() -> None:
    a = run_system(_system, (4,))
    b = run_system(_system, (4,))
    assert a.run_id != b.run_id
    assert a.log.without_run_id() == b.log.without_run_id()


def test_time_monotonic_and_loop_time_are_virtual_inside_the_run() -> None:
    async def system() -> tuple[float, float]:
        t0, l0 = time.monotonic(), asyncio.get_running_loop().time()
        await asyncio.sleep(3600)
        return time.monotonic() - t0, asyncio.get_running_loop().time() - l0

    run = run_system(system, deadline=7200)
    assert run.output == pytest.approx((3600.0, 3600.0))


def test_sync_systems_get_a_logical_clock() -> None:
    def system() -> float:
        t0 = time.monotonic()
        time.sleep(45)
        return time.monotonic() - t0

    started = time.perf_counter()
    run = run_system(system)
    assert run.output == 45.0
    assert time.perf_counter() - started < 40  # a real 45 s sleep would exceed it; not a speed target
    assert run.log[-1].t == 45.0


def test_a_hung_system_hits_the_virtual_deadline() -> None:
    async def system() -> None:
        async with agent("waiter"):
            await asyncio.Event().wait()

    run = run_system(system, deadline=120)
    end = run.log.of(RunEnd)[0]
    assert run.deadline_passed
    assert end.error_type == "DeadlineExceeded" and "120" in (end.error or "")
    assert run.log.of(AgentEnd)[0].status == "cancelled"


def test_orphaned_tasks_are_cancelled_after_run_end() -> None:
    async def system() -> str:
        async def background() -> None:
            async with agent("forgotten"):
                await asyncio.sleep(1000)

        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(1)
        return "returned early"

    run = run_system(system)
    kinds = [e.kind for e in run.log]
    end_index = kinds.index("run_end")
    forgotten_end = run.log.of(AgentEnd)[0]
    assert forgotten_end.seq > end_index and forgotten_end.status == "cancelled"


def test_harness_errors_are_raised_even_if_the_system_swallows_them() -> None:
    from harness import HarnessError

    def system() -> str:
        ctx = current_run()
        assert ctx is not None
        try:
            err = HarnessError("cassette miss")
            ctx.fail(err)
            raise err
        except Exception:
            return "swallowed"

    try:
        run_system(system)
    except HarnessError as exc:
        assert str(exc) == "cassette miss"
        assert exc.run.output == "swallowed"  # type: ignore[attr-defined]
    else:  # pragma: no cover
        raise AssertionError("the harness error was lost")


def test_outputs_are_recorded_scrubbed() -> None:
    def system() -> dict[str, str]:
        return {"api_key": "sk-abcdefghijklmnopqrstuvwxyz", "answer": "42"}

    run = run_system(system)
    end = run.log.of(RunEnd)[0]
    assert end.output == {"api_key": "[REDACTED]", "answer": "42"}


def test_executor_results_reach_the_run_in_submission_order() -> None:
    """Thread timing must not reorder a run: the slower job submitted first still resumes first."""
    from faults._clock import _real_sleep

    async def system() -> list[str]:
        order: list[str] = []

        async def job(name: str, seconds: float) -> None:
            async with agent(name):
                await asyncio.to_thread(_real_sleep, seconds)
                order.append(name)

        await asyncio.gather(job("slow_first", 0.05), job("fast_second", 0.0))
        return order

    runs = [run_system(system) for _ in range(3)]
    assert all(run.output == ["slow_first", "fast_second"] for run in runs)
    assert runs[0].log.without_run_id() == runs[1].log.without_run_id() == runs[2].log.without_run_id()
    assert runs[0].log[-1].t == 0.0  # executor work costs no virtual time
