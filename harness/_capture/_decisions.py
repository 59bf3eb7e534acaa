"""Decisions: what an injection point does with one step, and the executors that carry them out.

A :class:`harness.hooks.RunHooks` does not perform faults itself; for each step it returns
a *decision*, and the instrumentation carries it out. The vocabulary is small and knows no
fault kinds:

- a tool call, an LLM request or an agent's entry (a :data:`StepDecision`):
  :class:`Proceed`, :class:`Wait` then proceed, :class:`Fail` (optionally after a wait),
  :class:`Block` until cancelled, :class:`RunThenWait` (the reply is late),
  :class:`RunThenFail` (the reply is lost), :class:`Reshape` the result,
  :class:`RewriteReply` (an HTTP reply, from its full body), :class:`Respond` without
  running the step;
- a message on a :class:`harness.Channel` (a :data:`MessageDecision`): :class:`DropMessage`,
  :class:`DuplicateMessage`, :class:`DelayMessage`, :class:`HoldMessage`;
- an operation on a :class:`harness.StateStore` (a :data:`StateDecision`):
  :class:`ServeStale`, :class:`CorruptWrite`, :class:`LoseWrite`, :class:`WriteThenFail`.

A step may also be cut off part-way (:class:`Interrupt`): the crash of a process in the
middle of a long call.

Each step decision is one script (:func:`_script`); :func:`carry_out` and
:func:`acarry_out` run that script in sync and async code. The only difference between
them is how they wait: ``time.sleep`` or ``await asyncio.sleep`` (both virtual in a run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from harness._errors import ConfigError

if TYPE_CHECKING:
    import httpx2

    from harness._capture._context import RunContext

__all__ = [
    "PROCEED",
    "Block",
    "BudgetDecision",
    "CorruptWrite",
    "DeadlineCancelled",
    "DelayMessage",
    "DropMessage",
    "DuplicateMessage",
    "Fail",
    "HoldMessage",
    "InflateUse",
    "Interrupt",
    "LoseWrite",
    "MessageDecision",
    "Proceed",
    "Reshape",
    "Respond",
    "RewriteReply",
    "RunThenFail",
    "RunThenWait",
    "ServeStale",
    "ShrinkBudget",
    "StateDecision",
    "StepDecision",
    "Wait",
    "WriteThenFail",
    "acarry_out",
    "carry_out",
    "within_timeout",
]

T = TypeVar("T")


class DeadlineCancelled(asyncio.CancelledError):
    """A synchronous step hung until the run's virtual deadline; raised to unwind the stuck thread.

    A real hung synchronous call never returns; a run cannot wait forever, so the logical
    clock jumps to the run's deadline and the hung step is cancelled (the run ends
    ``cancelled``, with the deadline marked passed).
    """


# -- steps: tool calls, LLM requests, agent entry --------------------------------------------
@dataclass(frozen=True, slots=True)
class Proceed:
    """Run the step as it is."""


PROCEED = Proceed()


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait ``seconds`` (virtual time in a run), then run the step."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Fail:
    """Do not run the step: wait ``after`` seconds (``None``: not at all), then raise ``error()``."""

    error: Callable[[], BaseException]
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """The step never completes: async code waits until cancelled; sync code until the run's deadline.

    ``what`` names the step in the :class:`DeadlineCancelled` that unwinds a sync hang.
    """

    what: str


@dataclass(frozen=True, slots=True)
class RunThenWait:
    """Run the step; its result reaches the caller ``seconds`` later."""

    seconds: float


@dataclass(frozen=True, slots=True)
class RunThenFail:
    """Run the step (it counts as done), then wait ``after`` seconds and raise ``error()``: a lost reply."""

    error: Callable[[], BaseException]
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Reshape:
    """Run the step; the caller gets ``fn(result)`` instead of its result."""

    fn: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class RewriteReply:
    """Run an HTTP step, read its whole body and close it; the caller gets ``fn(response, body)``."""

    fn: Callable[[httpx2.Response, bytes], httpx2.Response]


@dataclass(frozen=True, slots=True)
class Respond:
    """Do not run the step; the caller gets ``make()`` (a synthetic reply)."""

    make: Callable[[], Any]


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Run the step, but stop waiting for it ``after`` seconds in: then raise ``error()``.

    Async code cancels a step still running at that moment (part of its work done, part
    not); sync code cannot interrupt the running call, so the error comes when it returns.
    A step that returns sooner never hands its result back: ``error()`` is raised then.
    """

    after: float
    error: Callable[[], BaseException]


StepDecision = (
    Proceed | Wait | Fail | Block | RunThenWait | RunThenFail | Reshape | RewriteReply | Respond | Interrupt
)


# -- messages -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DropMessage:
    """The send is recorded as not delivered; nobody receives the message."""


@dataclass(frozen=True, slots=True)
class DuplicateMessage:
    """The message is delivered twice, with the same id."""


@dataclass(frozen=True, slots=True)
class DelayMessage:
    """The message becomes receivable ``seconds`` after it was sent."""

    seconds: float


@dataclass(frozen=True, slots=True)
class HoldMessage:
    """The message goes right behind the next one on the channel, or after ``hold`` seconds."""

    hold: float


MessageDecision = DropMessage | DuplicateMessage | DelayMessage | HoldMessage


# -- state ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServeStale:
    """The read returns the previous version of the key."""


@dataclass(frozen=True, slots=True)
class CorruptWrite:
    """The write stores ``fn(value)`` instead of the value."""

    fn: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class LoseWrite:
    """The write is acknowledged with a new version but not stored."""


@dataclass(frozen=True, slots=True)
class WriteThenFail:
    """The write is performed (and made durable), then the writer gets ``error()`` instead of the ack."""

    error: Callable[[], BaseException]


StateDecision = ServeStale | CorruptWrite | LoseWrite | WriteThenFail


# -- shared budgets -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ShrinkBudget:
    """From this acquire on, the budget's capacity is ``capacity`` (if that is lower)."""

    capacity: float


@dataclass(frozen=True, slots=True)
class InflateUse:
    """This acquire takes ``factor`` times the amount asked for (and a release gives back as much)."""

    factor: float


BudgetDecision = ShrinkBudget | InflateUse


# -- the executors --------------------------------------------------------------------------
# What a script asks its driver to do; everything else it does itself.
@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class _Read:
    response: httpx2.Response


@dataclass(frozen=True, slots=True)
class _Block:
    what: str


class _Run:
    pass


_RUN_STEP = _Run()
_Op = _Sleep | _Read | _Block | _Run


def within_timeout(decision: StepDecision, timeout: float | None, what: str) -> StepDecision:
    """``decision`` as seen by a caller that gives up after ``timeout`` seconds (``None``: never).

    A tool declared with ``@tool(timeout=T)`` tells brownout its caller's own timeout, so a
    fault there means what it would against the real caller: a hang ends as a
    ``TimeoutError`` after ``T`` virtual seconds; a delay or an error that comes later than
    ``T`` does too; a reply that arrives later than ``T`` (the step ran) is lost to the caller,
    who sees the timeout — the classic source of a duplicated side effect on retry.
    """
    if timeout is None:
        return decision

    def timed_out() -> TimeoutError:
        return TimeoutError(f"{what} timed out after {timeout:g}s (its caller's timeout)")

    if isinstance(decision, Block):
        return Fail(timed_out, after=timeout)
    if isinstance(decision, Wait) and decision.seconds > timeout:
        return Fail(timed_out, after=timeout)
    if isinstance(decision, Fail) and decision.after is not None and decision.after > timeout:
        return Fail(timed_out, after=timeout)
    if isinstance(decision, RunThenWait) and decision.seconds > timeout:
        return RunThenFail(timed_out, after=timeout)
    if isinstance(decision, RunThenFail) and decision.after is not None and decision.after > timeout:
        return RunThenFail(timed_out, after=timeout)
    return decision


def _script(decision: StepDecision, done: Callable[[], None]) -> Generator[_Op, Any, Any]:
    """One decision as a sequence of waits and runs; ``done`` marks the step as completed."""
    if isinstance(decision, Fail | RunThenFail):
        if isinstance(decision, RunThenFail):
            yield _RUN_STEP
            done()
        if decision.after is not None:
            yield _Sleep(decision.after)
        raise decision.error()
    if isinstance(decision, Block):
        yield _Block(decision.what)
        raise RuntimeError(f"{decision.what}: a blocked step resumed")  # the drivers never return
    if isinstance(decision, Wait):
        yield _Sleep(decision.seconds)
    if isinstance(decision, Respond):
        result = decision.make()
    elif isinstance(decision, Proceed | Wait | RunThenWait | Reshape | RewriteReply):
        result = yield _RUN_STEP
        if isinstance(decision, RunThenWait):
            yield _Sleep(decision.seconds)
        elif isinstance(decision, Reshape):
            result = decision.fn(result)
        elif isinstance(decision, RewriteReply):
            body = yield _Read(result)
            result = decision.fn(result, body)
    else:
        raise ConfigError(
            f"a fault hook returned {decision!r}, which is not a step decision. A hook's decide_* method "
            "returns one of harness.hooks' decisions (PROCEED, Wait, Fail, Block, RunThenWait, ...)."
        )
    done()
    return result


def carry_out(
    decision: StepDecision, ctx: RunContext, proceed: Callable[[], T], done: Callable[[], None]
) -> T:
    """Carry out ``decision`` in sync code: ``proceed`` runs the step, ``done`` marks it completed."""
    if isinstance(decision, Proceed):  # the common case, without the script's overhead
        result = proceed()
        done()
        return result
    if isinstance(decision, Interrupt):  # a sync call cannot be cut off: it ends, then the error
        proceed()
        raise decision.error()
    script = _script(decision, done)
    value: Any = None
    try:
        while True:
            op, value = script.send(value), None
            if isinstance(op, _Run):
                value = proceed()
            elif isinstance(op, _Read):
                value = op.response.read()
                op.response.close()
            elif isinstance(op, _Sleep):
                time.sleep(op.seconds)
            else:
                _block_until_deadline(ctx, op.what)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        script.close()


async def acarry_out(
    decision: StepDecision, ctx: RunContext, proceed: Callable[[], Awaitable[T]], done: Callable[[], None]
) -> T:
    """Async :func:`carry_out`: the same script, awaited."""
    if isinstance(decision, Proceed):
        result = await proceed()
        done()
        return result
    if isinstance(decision, Interrupt):
        await _interrupted(decision, proceed)
    script = _script(decision, done)
    value: Any = None
    try:
        while True:
            op, value = script.send(value), None
            if isinstance(op, _Run):
                value = await proceed()
            elif isinstance(op, _Read):
                value = await op.response.aread()
                await op.response.aclose()
            elif isinstance(op, _Sleep):
                await asyncio.sleep(op.seconds)
            else:
                # Block until cancelled: a future nobody will ever complete.
                await asyncio.get_running_loop().create_future()
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        script.close()


async def _interrupted(decision: Interrupt, proceed: Callable[[], Awaitable[Any]]) -> None:
    """Run ``proceed`` for at most ``decision.after`` seconds, then raise ``decision.error()``."""
    task = asyncio.ensure_future(proceed())
    await asyncio.wait({task}, timeout=decision.after)
    error = decision.error()  # first: whatever the cut-off step does while it unwinds sees the error
    if not task.done():
        task.cancel()
    try:
        await asyncio.gather(task, return_exceptions=True)
    except asyncio.CancelledError:
        pass  # the caller is being cancelled too (a crash stops every task): it still gets the error
    raise error


def _block_until_deadline(ctx: RunContext, what: str) -> None:
    """A synchronous hang: jump the clock to the run's deadline, then unwind the stuck step."""
    remaining = ctx.deadline - ctx.now()
    if remaining > 0:
        time.sleep(remaining)
    raise DeadlineCancelled(
        f"injected fault: {what} hung until the run's virtual deadline ({ctx.deadline:g} s)"
    )
