"""Executor work on the virtual clock: job threads run on the run's schedule and wait in virtual time."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from faults import FaultPlan, real_monotonic
from harness import run_system, tool

# Each test below would spend at least this long for real if a wait in a thread were not
# virtual; the bounds only catch a real wait (CONTRIBUTING: no speed targets in tests).
REAL_WAIT = 30


def test_sleep_in_a_job_thread_is_virtual_and_parks_the_job() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []

        def slow(name: str, seconds: float) -> str:
            time.sleep(seconds)
            seen.append((name, round(loop.time(), 6)))
            return name

        async def timer() -> None:
            await asyncio.sleep(5)
            seen.append(("timer", round(loop.time(), 6)))

        await asyncio.gather(
            asyncio.to_thread(slow, "long", REAL_WAIT),
            asyncio.to_thread(slow, "short", 10),
            timer(),
        )
        return seen

    started = time.monotonic()
    run = run_system(main)
    assert time.monotonic() - started < REAL_WAIT
    # The parked jobs let the loop's own timer run at 5 s; each job woke at its own virtual time.
    assert run.output == [("timer", 5.0), ("short", 10.0), ("long", 30.0)]
    assert run.log[-1].t == 30.0


def test_jobs_take_turns_in_submission_order_whatever_the_threads_timing() -> None:
    def work(name: str, spin: float, out: list[str]) -> None:
        end = real_monotonic() + spin  # real CPU time, not a wait (time.monotonic is virtual here)
        while real_monotonic() < end:
            pass
        out.append(name)

    async def main() -> list[str]:
        out: list[str] = []
        # The first job takes longest: threads racing freely would finish it last.
        await asyncio.gather(*(asyncio.to_thread(work, f"job{i}", 0.02 * (4 - i), out) for i in range(4)))
        return out

    outputs = {tuple(run_system(main).output) for _ in range(5)}
    assert outputs == {("job0", "job1", "job2", "job3")}


def test_monotonic_in_a_job_thread_reads_virtual_time() -> None:
    async def main() -> float:
        def measure() -> float:
            before = time.monotonic()
            time.sleep(120)
            return time.monotonic() - before

        return await asyncio.to_thread(measure)

    assert run_system(main).output == 120.0


@tool("lookup")
def _lookup(city: str) -> str:
    return city.upper()


def _plan(effect: dict[str, Any]) -> Any:
    fault = {"site": "tool", "target": "lookup", "call": 1, "effect": effect}
    return FaultPlan.from_json(json.dumps({"faults": [fault]})).hooks()


def test_a_sync_tool_in_a_thread_times_out_on_the_virtual_clock() -> None:
    async def main() -> str:
        return await asyncio.to_thread(_lookup, "oslo")

    started = time.monotonic()
    run = run_system(main, hooks=_plan({"kind": "timeout", "after": REAL_WAIT}))
    assert time.monotonic() - started < REAL_WAIT
    assert isinstance(run.error, TimeoutError)
    (call,) = [e for e in run.log if e.kind == "tool_call"]
    assert (call.status, call.t) == ("timeout", float(REAL_WAIT))


def test_a_hang_in_a_thread_ends_at_the_runs_deadline_in_virtual_time() -> None:
    async def main() -> str:
        return await asyncio.to_thread(_lookup, "oslo")

    started = time.monotonic()
    run = run_system(main, hooks=_plan({"kind": "hang"}), deadline=900)
    assert time.monotonic() - started < REAL_WAIT  # 900 virtual seconds, not real ones
    assert run.deadline_passed
    (end,) = [e for e in run.log if e.kind == "run_end"]
    assert (end.status, end.t) == ("cancelled", 900.0)
    (hung,) = [e for e in run.log if e.kind == "tool_call"]
    assert (hung.status, hung.t) == ("cancelled", 900.0)  # the stuck thread is unwound, not left behind


def test_a_job_that_keeps_its_turn_is_let_go_instead_of_blocking_the_loop() -> None:
    # A job that waits for the loop itself (it cannot get the loop while it holds the turn)
    # is let go after TURN_ESCAPE wall seconds, and the run completes.
    async def main() -> str:
        loop = asyncio.get_running_loop()
        ready = threading.Event()

        def waits_for_the_loop() -> str:
            loop.call_soon_threadsafe(ready.set)
            ready.wait(timeout=REAL_WAIT)
            return "done" if ready.is_set() else "stuck"

        return await asyncio.to_thread(waits_for_the_loop)

    assert run_system(main).output == "done"
