"""The runner: execute a system once, as one run, and hand back its :class:`Run`.

An async entry point runs on a fresh :class:`faults.VirtualClockLoop` (virtual time,
see ``faults/_clock.py``); a sync one runs in the calling thread on a logical clock.
Everything observable becomes an event in the run's :class:`RunLog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from faults import LogicalClock, VirtualClockLoop, patched_time
from harness._adapters import activate as activate_adapters
from harness._capture._context import _FRAME, _RUN, RunContext, RunHooks
from harness._capture._instrument import _error_text, status_of
from harness._errors import ConfigError
from harness._log._events import RunEnd, RunStart
from harness._log._jsonable import jsonable
from harness._log._runlog import RunLog
from harness._log._secrets import scrub

__all__ = ["MAX_RESTARTS", "Run", "entry_name", "run_system"]

# A system that crashes again every time it is restarted (a kill point on every call) ends its
# run after this many restarts, killed, instead of restarting forever.
MAX_RESTARTS = 10


@dataclass
class Run:
    """One execution of a system under test.

    Attributes:
        output: What the entry point returned (``None`` if it raised).
        log: The run's history.
        violations: What the checkers found (filled by the checker layer).
        run_id: The run's id (also on every event).
        error: The exception the system raised, if any.
        plan: The fault plan the run was under (``None`` for a baseline run).
        log_path: Where the run log was written, once it was.
    """

    output: Any
    log: RunLog
    violations: list[Any] = field(default_factory=list)
    run_id: str = ""
    error: BaseException | None = None
    plan: Any = None
    log_path: str | None = None
    deadline_passed: bool = False

    @property
    def restarts(self) -> int:
        """How many times the system crash-stopped and was started again in this run."""
        return sum(1 for event in self.log if event.kind == "restart")

    @property
    def status(self) -> str:
        end = self.log[-1] if len(self.log) else None
        for event in reversed(self.log):
            if event.kind == "run_end":
                end = event
                break
        return getattr(end, "status", "unknown")


def entry_name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}:{qual}"


@contextlib.contextmanager
def _activated(ctx: RunContext) -> Iterator[None]:
    run_token = _RUN.set(ctx)
    frame_token = _FRAME.set(None)
    try:
        yield
    finally:
        _FRAME.reset(frame_token)
        _RUN.reset(run_token)


def _run_async(
    ctx: RunContext,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    deadline: float,
    resume: Callable[..., Any] | None = None,
) -> tuple[Any, BaseException | None, bool]:
    loop = VirtualClockLoop()
    ctx.set_clock(loop.time)
    outcome: dict[str, Any] = {"deadline": False}

    async def incarnation(call: Callable[..., Any]) -> Any:
        result = call(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    running: dict[str, asyncio.Task[Any]] = {}  # the incarnation running now

    async def main() -> Any:
        if resume is None:
            # Nothing restarts the system: it runs as the run's only task, as it always has (a
            # crash, if one is injected, cancels every task and ends the run; see below).
            running["task"] = asyncio.current_task()  # type: ignore[assignment]
            ctx.on_crash = functools.partial(_signal, loop, _cancel_all, loop)
            return await incarnation(fn)
        call = fn
        while True:
            crashed = loop.create_future()

            def signal(crashed: asyncio.Future[None] = crashed) -> None:
                loop.call_soon_threadsafe(_settle, crashed)

            ctx.on_crash = signal
            task = loop.create_task(incarnation(call), context=_copy_context())
            running["task"] = task
            try:
                await asyncio.wait({task, crashed}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise
            if ctx.dying is None:
                crashed.cancel()
                return task.result()  # the system's own outcome (raises its exception)
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: how the dead incarnation's code ended does not matter
            await _stop_incarnation(loop)  # the process is gone: all of its tasks with it
            if ctx.incarnation >= MAX_RESTARTS:
                raise ctx.dying  # no way (or no more tries) to start the system again: the run ends
            ctx.restart()
            call = resume

    def on_deadline(task: asyncio.Task[Any]) -> None:
        # The deadline cancels the system's own code (the incarnation running), exactly as if it
        # were the run's only task: one that ended by itself a moment before has not passed it.
        current = running.get("task")
        if current is not None and not current.done():
            outcome["deadline"] = True
            current.cancel(f"brownout: the run's virtual deadline of {deadline:g} s passed")

    thread = threading.get_ident()

    def clock() -> float | None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return running.time() if running is loop else None

    output: Any = None
    error: BaseException | None = None
    try:
        asyncio.set_event_loop(loop)
        with patched_time(thread, clock, loop.advance):
            task = loop.create_task(main(), context=_copy_context())
            handle = loop.call_at(deadline, on_deadline, task)
            try:
                output = loop.run_until_complete(task)
            except BaseException as exc:  # the system's own failure, re-raised by the caller
                error = exc
            handle.cancel()
            ctx.on_crash = None
            if ctx.dying is not None:  # crashed with nothing to restart it: that is how the run ended
                output, error = None, ctx.dying
            _finish(ctx, output, error, outcome["deadline"], deadline)
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return output, error, outcome["deadline"]


def _signal(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    loop.call_soon_threadsafe(callback, *args)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        if not task.done():
            task.cancel("brownout: the system's process crashed")


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _stop_incarnation(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel every task of a crashed incarnation (all tasks but the runner's) and let them end."""
    me = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks(loop) if t is not me and not t.done()]
    for task in pending:
        task.cancel("brownout: the system's process crashed")
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def _run_sync(
    ctx: RunContext,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    resume: Callable[..., Any] | None,
) -> tuple[Any, BaseException | None]:
    """Run a sync entry point in this thread, starting it again with ``resume`` after each crash."""
    call = fn
    while True:
        output: Any = None
        error: BaseException | None = None
        try:
            output = call(*args, **kwargs)
            if inspect.isawaitable(output):
                raise ConfigError(
                    f"{ctx.entry} returned an awaitable from a sync call; pass the async function "
                    "itself (not a lambda around it) so that it runs on the virtual clock."
                )
        except BaseException as exc:
            error = exc
        if ctx.dying is None:
            return output, error
        if resume is None or ctx.incarnation >= MAX_RESTARTS:
            return None, ctx.dying
        ctx.restart()
        call = resume


def _copy_context() -> Any:
    import contextvars

    return contextvars.copy_context()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks still running after the entry point returned (orphaned work) and let them end."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return
    for task in pending:
        task.cancel("brownout: the run finished while this task was still running")
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _finish(
    ctx: RunContext, output: Any, error: BaseException | None, deadline_passed: bool, deadline: float
) -> None:
    status = status_of(error)
    if status == "timeout":
        status = "error"
    text, etype = _error_text(error)
    if deadline_passed:
        text = f"virtual deadline of {deadline:g} s passed; the run was cancelled"
        etype = "DeadlineExceeded"
    ctx.emit(
        RunEnd,
        status=status,
        error=text,
        error_type=etype,
        output=scrub(jsonable(output)),
        parent_step_id=None,
        agent=None,
    )
    ctx.ended = True


@contextlib.contextmanager
def _helper_threads_on(ctx: RunContext, clock: LogicalClock) -> Iterator[None]:
    """A synchronous run's helper threads sleep on its logical clock too.

    A framework may run a sync entry point's agents and tools in threads of its own that
    carry a copy of the caller's context (CrewAI runs them on its own event loop's executor
    thread): an injected latency, timeout or hang carried out there advances the run's
    logical clock instead of waiting on the wall clock. Threads of other runs, and threads
    that do not carry this run's context, keep the sleep they had.
    """
    outer = time.sleep
    run_thread = threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() != run_thread and _RUN.get() is ctx:
            clock.sleep(seconds)
            return
        outer(seconds)

    time.sleep = sleep  # type: ignore[assignment]
    try:
        yield
    finally:
        time.sleep = outer


def run_system(
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    hooks: RunHooks | None = None,
    cassette: Any = None,
    replay_tools: bool = False,
    deadline: float = 600.0,
    fault_plan: Any = None,
    entry: str | None = None,
    meta: dict[str, Any] | None = None,
    run_id: str | None = None,
    resume: Callable[..., Any] | None = None,
) -> Run:
    """Run ``fn(*args, **kwargs)`` once as a run and return the :class:`Run`.

    The system's own exception does not propagate: it is on ``Run.error`` (callers
    decide whether to re-raise). Harness errors (a cassette miss the system swallowed,
    say) are raised after the run, with the run log kept on the exception as ``.run``.

    ``resume`` says how the system starts again after a crash (a ``crash_*`` fault): it is
    called with the same arguments as ``fn``, in the same run, after the crashed
    incarnation's tasks are gone, and picks up from what survived (a durable
    ``StateStore``, a framework's checkpointer, the world's effects). What ``resume``
    returns is the run's output. Without it, a crash ends the run (status ``killed``).
    """
    if resume is not None and not callable(resume):
        raise ConfigError(
            f"resume={resume!r} is not callable. Pass the function that starts the system again from "
            "its durable state, called with the same arguments as the entry point (e.g. for LangGraph, "
            "a function that invokes the graph with None and the same thread_id)."
        )
    from harness._capture import _llm

    activate_adapters()  # instrument the agent frameworks the program imported (harness/_adapters)
    kwargs = dict(kwargs or {})
    if resume is not None:
        meta = {**(meta or {}), "resume": entry_name(resume)}
    ctx = RunContext(
        entry=entry or entry_name(fn),
        hooks=hooks,
        cassette=cassette,
        replay_tools=replay_tools,
        meta=meta,
        run_id=run_id,
    )
    ctx.deadline = deadline
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
    output: Any = None
    error: BaseException | None = None
    deadline_passed = False
    cassette_cm = cassette if cassette is not None else contextlib.nullcontext()
    with _activated(ctx), _llm.capture(), cassette_cm:
        ctx.emit(
            RunStart,
            entry=ctx.entry,
            args=scrub(jsonable({"args": list(args), "kwargs": kwargs})),
            fault_plan=jsonable(fault_plan),
            meta=jsonable(meta or {}),
        )
        ctx.hooks.run_start(ctx)
        try:
            if is_async:
                output, error, deadline_passed = _run_async(ctx, fn, args, kwargs, deadline, resume)
            else:
                clock = LogicalClock()
                ctx.set_clock(lambda: clock.now)
                thread = threading.get_ident()
                with patched_time(thread, lambda: clock.now, clock.sleep), _helper_threads_on(ctx, clock):
                    output, error = _run_sync(ctx, fn, args, kwargs, resume)
                deadline_passed = clock.now >= deadline
                _finish(ctx, output, error, deadline_passed, deadline)
        finally:
            ctx.hooks.run_end(ctx)
            ctx.remove_run_dir()
    run = Run(
        output=output,
        log=ctx.log,
        run_id=ctx.run_id,
        error=error,
        plan=fault_plan,
        deadline_passed=deadline_passed,
    )
    if isinstance(error, KeyboardInterrupt):
        # Ctrl-C wins over anything the interrupted run left half-recorded: a harness error raised
        # instead would be an ordinary failure to Hypothesis, which would go on exploring.
        raise error
    if ctx.harness_errors:
        first = ctx.harness_errors[0]
        first.run = run  # type: ignore[attr-defined]
        raise first
    return run
