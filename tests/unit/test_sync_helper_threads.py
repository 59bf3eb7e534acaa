"""A synchronous run's helper threads (a framework's own worker threads that carry the run's context,
as CrewAI's do) sleep on the run's logical clock, like the run's thread."""

from __future__ import annotations

import contextvars
import threading
import time

from harness import run_system


def _in_thread(fn: object, *, with_context: bool) -> None:
    target = contextvars.copy_context().run if with_context else (lambda f: f())
    thread = threading.Thread(target=target, args=(fn,))
    thread.start()
    thread.join()


def test_a_helper_thread_that_carries_the_run_sleeps_on_its_logical_clock() -> None:
    def system() -> str:
        _in_thread(lambda: time.sleep(30), with_context=True)
        return "done"

    started = time.perf_counter()
    run = run_system(system)
    wall = time.perf_counter() - started
    assert run.output == "done" and run.error is None
    assert run.log[-1].t >= 30  # the 30 s went onto the run's clock ...
    assert wall < 10  # ... not the wall clock (a real 30 s sleep would exceed this under any load)


def test_a_thread_without_the_runs_context_keeps_the_real_sleep() -> None:
    waited: list[float] = []

    def sleeper() -> None:
        started = time.perf_counter()
        time.sleep(0.05)
        waited.append(time.perf_counter() - started)

    def system() -> None:
        _in_thread(sleeper, with_context=False)

    run = run_system(system)
    assert run.error is None
    assert waited[0] >= 0.04
    assert run.log[-1].t == 0
