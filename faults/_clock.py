"""The virtual clock: latency, timeouts and hangs that cost no wall time.

Asyncio systems run on :class:`VirtualClockLoop`, a selector event loop whose
``time()`` is virtual. When the loop has nothing ready to run and nothing real to
wait for, it jumps straight to the next timer instead of sleeping, so
``await asyncio.sleep(30)`` or ``asyncio.wait_for(..., timeout=30)`` returns at once
while every piece of code in the loop observes 30 s passing.

Real waits stay real: while a socket is registered with the selector (a live LLM
call, a Toxiproxy'd connection, a local service), the loop waits on the wall clock and
virtual time advances by the time that really passed. Replay of recorded LLM traffic
registers no socket, so a fully replayed run never waits and its timestamps are
reproducible.

Work submitted to the loop's executor (``asyncio.to_thread``, ``run_in_executor``: the
OpenAI Agents SDK's sync function tools, LangGraph's sync nodes in an async graph) runs in
threads *on the run's schedule*: one job at a time, handed its turn when the loop is
otherwise idle, in the order the jobs became ready (submission order; for a job that
waited, the virtual time it woke at). Inside a job thread ``time.sleep`` (and so every
injected latency, timeout and hang carried out there) parks the job on virtual time and
gives the turn back, and ``time.monotonic`` reads virtual time, so a 30 s timeout in a
sync tool costs no wall time and two replays of a run with parallel sync work order their
steps the same way. A job that keeps its turn for more than :data:`TURN_ESCAPE` seconds of
wall time (real I/O, a live call, waiting on the loop itself) is let go: it runs on
unscheduled, the loop goes on, and virtual time follows real time while it runs, as with
a socket. Its steps are then ordered by the threads' timing (live runs only, in practice).

Synchronous systems get a logical clock (:class:`LogicalClock`): it starts at 0 and
advances only by ``time.sleep`` calls made in the run's thread and by injected
latencies; ``time.monotonic()`` in that thread reads it. Real I/O in a synchronous
system takes real time that the logical clock does not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

__all__ = [
    "TURN_ESCAPE",
    "LogicalClock",
    "VirtualClockLoop",
    "patched_time",
    "real_monotonic",
    "virtual_now",
]

_real_monotonic = time.monotonic
_real_perf_counter = time.perf_counter


def real_monotonic() -> float:
    """The wall clock's ``time.monotonic``, also inside a run that patches ``time`` to virtual time."""
    return float(_real_monotonic())


_real_sleep = time.sleep

TURN_ESCAPE = 1.0
"""Wall-clock seconds a job thread may keep its turn before the loop lets it run unscheduled."""

_INF = float("inf")
_JOB = threading.local()  # .current: (loop, job) while a thread runs an executor job of a loop


class _Job:
    """One piece of executor work and its place in the run's schedule."""

    __slots__ = ("done", "free", "future", "order", "ready_at", "result")

    def __init__(self, order: int, ready_at: float) -> None:
        self.order = order  # ties between jobs ready at the same virtual time: who got ready first
        self.ready_at = ready_at  # virtual time from which the job may run (inf: running or done)
        self.free = False  # let go by TURN_ESCAPE: runs unscheduled
        self.done = False
        self.future: Future[Any] | None = None
        self.result: asyncio.Future[Any] | None = None


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time (see the module docstring)."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(selectors.DefaultSelector())
        self._virtual_now = float(start)
        # Executor work (asyncio.to_thread, run_in_executor), scheduled one job at a time.
        self._jobs: list[_Job] = []  # not yet handed back to the loop, in submission order
        self._cv = threading.Condition()
        self._turn: _Job | None = None  # the job whose thread may run now (None: the loop's turn)
        self._orders = 0
        self._closing = False
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            ready: list[tuple[selectors.SelectorKey, int]] = real_select(0)
            if ready or timeout == 0:
                return ready
            # The loop is idle. Hand finished jobs' results over first (their waiters may be
            # what the rest is waiting for), then give the next ready job its turn.
            if self._hand_back() or self._run_next_job():
                self._hand_back()
                return real_select(0)  # type: ignore[no-any-return]
            limit = timeout
            wake = min((j.ready_at for j in self._jobs if not j.done and not j.free), default=_INF)
            if wake < _INF:
                limit = wake - self._virtual_now if limit is None else min(limit, wake - self._virtual_now)
            if self._sockets_in_flight() or any(j.free and not j.done for j in self._jobs):
                # Real work is in flight (I/O, or a job thread let go): wait for it on the wall
                # clock and let virtual time follow real time (bounded by the next timer).
                started = _real_monotonic()
                ready = real_select(limit)
                elapsed = _real_monotonic() - started
                self._advance_to(elapsed if ready or limit is None else max(elapsed, limit), wake)
                return ready
            if limit is None:
                # No timers, no I/O, no executor work: nothing can ever wake this loop
                # except another thread. Block for real, as an unmonitored system would.
                return real_select(None)  # type: ignore[no-any-return]
            self._advance_to(limit, wake)
            return []

        selector.select = select

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (used by synchronous latency injected inside the loop)."""
        if seconds > 0:
            self._virtual_now += seconds

    def _advance_to(self, seconds: float, wake: float) -> None:
        target = self._virtual_now + max(seconds, 0.0)
        if wake <= target + 1e-9:
            target = max(target, wake)  # exactly the parked job's wake time, not an ulp before it
        self._virtual_now = target

    def _sockets_in_flight(self) -> bool:
        # The self-pipe is always registered; anything beyond it is real I/O.
        return len(self._selector.get_map()) > 1  # type: ignore[attr-defined]

    # -- executor jobs on the run's schedule ---------------------------------------------------
    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        self._check_closed()  # type: ignore[attr-defined]
        if executor is None:
            executor = self._default_executor  # type: ignore[has-type]
            if executor is None:
                # Roomy: a job parked on virtual time keeps its thread, and a job that cannot
                # get a thread cannot take its turn (it would be let go after TURN_ESCAPE).
                executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="brownout-virtual-clock")
                self._default_executor = executor
        with self._cv:
            self._orders += 1
            job = _Job(self._orders, self._virtual_now)
        job.result = self.create_future()
        job.future = executor.submit(self._work, job, func, *args)
        self._jobs.append(job)
        # Wake the loop when the job ends; the result itself is handed over by the loop.
        job.future.add_done_callback(lambda _: self._wake())
        return job.result

    def _wake(self) -> None:
        with contextlib.suppress(Exception):  # the loop may be closed already
            self._write_to_self()  # type: ignore[attr-defined]

    def _work(self, job: _Job, func: Callable[..., Any], *args: Any) -> Any:
        """The job's thread: wait for the turn, run, give the turn back."""
        _JOB.current = (self, job)
        try:
            with self._cv:
                while self._turn is not job and not job.free and not self._closing:
                    self._cv.wait()
            return func(*args)
        finally:
            _JOB.current = None
            with self._cv:
                job.done = True
                job.ready_at = _INF
                if self._turn is job:
                    self._turn = None
                self._cv.notify_all()

    def park(self, job: _Job, seconds: float) -> None:
        """In ``job``'s thread: wait ``seconds`` of virtual time, giving the turn back meanwhile."""
        with self._cv:
            if self._closing:
                return
            self._orders += 1
            job.order = self._orders
            job.ready_at = self._virtual_now + max(seconds, 0.0)
            job.free = False  # a parked job is back on the schedule
            if self._turn is job:
                self._turn = None
            self._cv.notify_all()
        self._wake()
        with self._cv:
            while self._turn is not job and not self._closing:
                self._cv.wait()
            job.ready_at = _INF

    def _run_next_job(self) -> bool:
        """Give the turn to the job that is ready first; wait until it parks or ends (or is let go)."""
        with self._cv:
            ready = [j for j in self._jobs if not j.done and not j.free and j.ready_at <= self._virtual_now]
            if not ready:
                return False
            job = min(ready, key=lambda j: (j.ready_at, j.order))
            job.ready_at = _INF
            self._turn = job
            self._cv.notify_all()
            let_go = _real_monotonic() + TURN_ESCAPE
            while self._turn is job:
                remaining = let_go - _real_monotonic()
                if remaining <= 0:
                    job.free = True  # real work or a wait on the loop: let it run unscheduled
                    self._turn = None
                    break
                self._cv.wait(remaining)
        return True

    def _hand_back(self) -> bool:
        """Hand every finished job's outcome to its waiter, in submission order."""
        ending = [j.future for j in self._jobs if j.done and j.future is not None]
        if ending:
            futures_wait(ending)  # a job that has ended has its outcome set a moment later
        finished = [j for j in self._jobs if j.done and j.future is not None and j.future.done()]
        if not finished:
            return False
        self._jobs = [j for j in self._jobs if j not in finished]
        for job in finished:
            assert job.future is not None and job.result is not None
            if job.result.cancelled():
                continue
            if job.future.cancelled():
                job.result.cancel()
            elif (exc := job.future.exception()) is not None:
                job.result.set_exception(exc)
            else:
                job.result.set_result(job.future.result())
        return True

    def close(self) -> None:
        with self._cv:
            self._closing = True  # parked or waiting job threads run on, unscheduled
            self._turn = None
            self._cv.notify_all()
        super().close()


def current_job_park() -> Callable[[float], None] | None:
    """In a thread running a :class:`VirtualClockLoop` executor job: its virtual sleep; else ``None``."""
    entry = getattr(_JOB, "current", None)
    if entry is None:
        return None
    loop, job = entry
    return lambda seconds: loop.park(job, seconds)


def _job_clock() -> float | None:
    entry = getattr(_JOB, "current", None)
    return None if entry is None else float(entry[0].time())


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

    ``clock()`` returns virtual seconds or ``None`` (fall back to the real clock). Threads
    running an executor job of a :class:`VirtualClockLoop` read and wait on that loop's
    virtual time (see the module docstring); other threads keep the real functions. Code
    that bound ``from time import monotonic`` before the run sees real time; this is
    documented in docs/faults.md.
    """
    base = _real_monotonic()
    base_perf = _real_perf_counter()

    def now_here() -> float | None:
        if threading.get_ident() == thread_id:
            return clock()
        return _job_clock()  # an executor job of the run's loop: the loop's virtual time

    def monotonic() -> float:
        now = now_here()
        return _real_monotonic() if now is None else base + now

    def perf_counter() -> float:
        now = now_here()
        return _real_perf_counter() if now is None else base_perf + now

    def sleep_(seconds: float) -> None:
        if threading.get_ident() == thread_id:
            if clock() is not None:
                sleep(seconds)
                return
        elif (park := current_job_park()) is not None:
            park(seconds)  # a job thread waits on virtual time, giving the run its turn back
            return
        _real_sleep(seconds)

    saved = time.monotonic, time.perf_counter, time.sleep
    time.monotonic, time.perf_counter, time.sleep = monotonic, perf_counter, sleep_  # type: ignore[assignment]
    try:
        yield
    finally:
        time.monotonic, time.perf_counter, time.sleep = saved  # type: ignore[assignment]
