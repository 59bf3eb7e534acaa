"""The virtual clock: latency, timeouts and hangs that cost no wall time.

Asyncio systems run on :class:`VirtualClockLoop`, a selector event loop whose
``time()`` is virtual. When the loop has nothing ready to run and nothing real to
wait for, it jumps straight to the next timer instead of sleeping, so
``await asyncio.sleep(30)`` or ``asyncio.wait_for(..., timeout=30)`` returns at once
while every piece of code in the loop observes 30 s passing.

Real waits stay real: while a socket is registered with the selector (a live LLM
call, a Toxiproxy'd connection, a local service), the loop waits on the wall clock and
virtual time advances by the time that really passed. Work running in the loop's
executor (``asyncio.to_thread``, ``run_in_executor``) is waited for on the wall clock
too, but costs no virtual time unless it outlasts the next timer, and its results reach
the loop in submission order, one at a time, only when the loop is otherwise idle: which
thread happens to finish first never reorders a run's steps, so two replays of the same
run do not differ (the openai SDK probes the platform in a thread on a fresh client's
first request). Replay of recorded LLM
traffic registers no socket, so a fully replayed run never waits and its timestamps are
reproducible.

Synchronous systems get a logical clock (:class:`LogicalClock`): it starts at 0 and
advances only by ``time.sleep`` calls made in the run's thread and by injected
latencies; ``time.monotonic()`` in that thread reads it. Real I/O in a synchronous
system takes real time that the logical clock does not count.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import selectors
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

__all__ = ["LogicalClock", "VirtualClockLoop", "patched_time", "real_monotonic", "virtual_now"]

_real_monotonic = time.monotonic
_real_perf_counter = time.perf_counter


def real_monotonic() -> float:
    """The wall clock's ``time.monotonic``, also inside a run that patches ``time`` to virtual time."""
    return float(_real_monotonic())


_real_sleep = time.sleep


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time (see the module docstring)."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(selectors.DefaultSelector())
        self._virtual_now = float(start)
        # Executor work (asyncio.to_thread, run_in_executor) in submission order: results are
        # handed back to the loop in that order, one at a time and only when the loop is
        # otherwise idle, so thread timing never reorders a run's steps.
        self._jobs: collections.deque[tuple[Future[Any], asyncio.Future[Any]]] = collections.deque()
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            ready: list[tuple[selectors.SelectorKey, int]] = real_select(0)
            if ready or timeout == 0:
                return ready
            if self._jobs and self._jobs[0][0].done():
                # The loop is idle and the oldest executor job has finished: hand its result
                # over now, before waiting on anything else (sockets in flight may be waiting
                # for exactly this result, e.g. a client's platform probe before its request).
                self._release_first_job()
                return real_select(0)  # type: ignore[no-any-return]
            if self._sockets_in_flight():
                # Real I/O is in flight: wait for it on the wall clock and let virtual
                # time follow real time (bounded by the next timer).
                started = _real_monotonic()
                ready = real_select(timeout)
                elapsed = _real_monotonic() - started
                self._virtual_now += elapsed if ready or timeout is None else max(elapsed, timeout)
                self._release_first_job()
                return ready
            if self._jobs:
                # Only executor work: wait for the oldest job for real; it costs no virtual
                # time unless it outlasts the next timer, and its result reaches the loop now,
                # before any later job's (e.g. a client's platform probe in a thread).
                first = self._jobs[0][0]
                finished = futures_wait([first], timeout=timeout)[0]
                if not finished and timeout is not None:
                    self._virtual_now += timeout
                self._release_first_job()
                return real_select(0)  # type: ignore[no-any-return]
            if timeout is None:
                # No timers, no I/O, no executor work: nothing can ever wake this loop
                # except another thread. Block for real, as an unmonitored system would.
                return real_select(None)  # type: ignore[no-any-return]
            self._virtual_now += timeout
            return []

        selector.select = select

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (used by synchronous latency injected inside the loop)."""
        if seconds > 0:
            self._virtual_now += seconds

    def _sockets_in_flight(self) -> bool:
        # The self-pipe is always registered; anything beyond it is real I/O.
        return len(self._selector.get_map()) > 1  # type: ignore[attr-defined]

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        self._check_closed()  # type: ignore[attr-defined]
        if executor is None:
            executor = self._default_executor  # type: ignore[has-type]
            if executor is None:
                executor = ThreadPoolExecutor(thread_name_prefix="brownout-virtual-clock")
                self._default_executor = executor
        job: Future[Any] = executor.submit(func, *args)
        result: asyncio.Future[Any] = self.create_future()
        self._jobs.append((job, result))
        # Wake the loop when the job ends; the result itself is handed over in order.
        job.add_done_callback(lambda _: self._write_to_self())  # type: ignore[attr-defined]
        return result

    def _release_first_job(self) -> None:
        """Hand the oldest executor job's outcome to its waiter, if it has finished."""
        if not self._jobs or not self._jobs[0][0].done():
            return
        job, result = self._jobs.popleft()
        if result.cancelled():
            return
        if job.cancelled():
            result.cancel()
        elif (exc := job.exception()) is not None:
            result.set_exception(exc)
        else:
            result.set_result(job.result())

    def _waiting_on_real_work(self) -> bool:
        return self._sockets_in_flight() or bool(self._jobs)


class LogicalClock:
    """The clock of a synchronous run: advances only by sleeps and injected latency."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.now += seconds


def virtual_now() -> float | None:
    """Virtual seconds on the running :class:`VirtualClockLoop`, or ``None`` if there is none."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    if isinstance(loop, VirtualClockLoop):
        return loop.time()
    return None


@contextlib.contextmanager
def patched_time(
    thread_id: int, clock: Callable[[], float | None], sleep: Callable[[float], None]
) -> Iterator[None]:
    """Make ``time.monotonic``/``time.perf_counter``/``time.sleep`` virtual in one thread.

    ``clock()`` returns virtual seconds or ``None`` (fall back to the real clock).
    Other threads keep the real functions. Code that bound ``from time import
    monotonic`` before the run sees real time; this is documented in docs/faults.md.
    """
    base = _real_monotonic()
    base_perf = _real_perf_counter()

    def monotonic() -> float:
        if threading.get_ident() == thread_id:
            now = clock()
            if now is not None:
                return base + now
        return _real_monotonic()

    def perf_counter() -> float:
        if threading.get_ident() == thread_id:
            now = clock()
            if now is not None:
                return base_perf + now
        return _real_perf_counter()

    def sleep_(seconds: float) -> None:
        if threading.get_ident() == thread_id and clock() is not None:
            sleep(seconds)
            return
        _real_sleep(seconds)

    saved = time.monotonic, time.perf_counter, time.sleep
    time.monotonic, time.perf_counter, time.sleep = monotonic, perf_counter, sleep_  # type: ignore[assignment]
    try:
        yield
    finally:
        time.monotonic, time.perf_counter, time.sleep = saved  # type: ignore[assignment]
