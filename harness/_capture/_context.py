"""The active run: who is running, which step we are in, and where events go.

Two context variables carry everything the instrumentation needs:

- ``_RUN`` holds the :class:`RunContext` of the active run (``None`` outside a run, which
  makes every instrumentation call a cheap no-op);
- ``_FRAME`` holds the current agent :class:`Frame` (name and step id), so that an LLM call
  made deep inside library code is attributed to the right agent, also across
  ``asyncio.gather`` and ``create_task``, which copy the context.

Fault injection plugs in through :class:`RunHooks`: the instrumentation calls the hooks of
the active run at every injection point (LLM request, tool call, agent entry, channel,
state). A hook decides what happens to the step (a decision from
:mod:`harness._capture._decisions`), and the executors there carry the decision out. The
default hooks let every step proceed; ``faults`` supplies decisions driven by a
:class:`faults.FaultPlan`.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from harness._capture._decisions import (
    PROCEED,
    BudgetDecision,
    MessageDecision,
    StateDecision,
    StepDecision,
    acarry_out,
    carry_out,
    within_timeout,
)
from harness._errors import NotInRun
from harness._log._events import AnyEvent, EventBase
from harness._log._runlog import RunLog

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "BudgetSite",
    "Frame",
    "LLMSite",
    "MessageSite",
    "RunContext",
    "RunHooks",
    "StateSite",
    "ToolSite",
    "WorkerSite",
    "current_frame",
    "current_run",
    "require_run",
]

T = TypeVar("T")
E = TypeVar("E", bound=EventBase)


@dataclass(frozen=True, slots=True)
class Frame:
    """One open agent scope."""

    name: str
    step_id: str
    parent: Frame | None = None
    budget_tokens: int | None = None
    task: int = 0  # which asyncio task (and thread) the scope runs in; see current_task_id()


@dataclass(frozen=True, slots=True)
class ToolSite:
    """Where a tool call happens: handed to :meth:`RunHooks.tool_call`."""

    name: str
    agent: str | None
    call: int  # 1-based count of calls of this tool in the run
    attempt: int  # 1-based count of calls with the same arguments
    side_effect: bool
    args: dict[str, Any]
    timeout: float | None = None  # the caller's own timeout, declared with @tool(timeout=...)


@dataclass(frozen=True, slots=True)
class LLMSite:
    """Where an LLM request happens: handed to :meth:`RunHooks.llm_request`."""

    agent: str | None
    call: int  # 1-based count of LLM calls by this agent in the run
    path: str
    model: str | None
    digest: str
    stream: bool
    request: httpx2.Request | None = None  # the outgoing request, when the capture layer passes it


@dataclass(frozen=True, slots=True)
class MessageSite:
    """A message being sent on a :class:`harness.Channel`: handed to :meth:`RunHooks.message_send`."""

    channel: str
    agent: str | None
    call: int  # 1-based count of sends on this channel in the run
    sender: str | None
    recipient: str | None


@dataclass(frozen=True, slots=True)
class StateSite:
    """An operation on a :class:`harness.StateStore`: handed to :meth:`RunHooks.state_op`."""

    store: str
    agent: str | None
    op: str  # "read" or "write" (a compare-and-set counts as a write)
    call: int  # 1-based count of this op on this store in the run
    key: str


@dataclass(frozen=True, slots=True)
class BudgetSite:
    """An acquire on a :class:`harness.Budget`: handed to :meth:`RunHooks.budget_op`."""

    budget: str
    branch: str
    call: int  # 1-based count of acquires of this budget in the run
    amount: float
    capacity: float


@dataclass(frozen=True, slots=True)
class WorkerSite:
    """An agent scope opening: handed to :meth:`RunHooks.decide_agent`."""

    name: str
    call: int  # 1-based count of entries into this agent in the run


class RunHooks:
    """Injection points, called by the instrumentation at every step. Override what you need.

    The simple way is to override the ``decide_*`` methods (and :meth:`message_send`,
    :meth:`state_op`): each returns a decision (:class:`harness.hooks.Proceed`,
    :class:`harness.hooks.Wait`, :class:`harness.hooks.Fail`, ...) that the instrumentation
    carries out the same way in sync and async code. For full control, override the
    ``*_call``/``*_request``/``*_enter`` hooks themselves: each gets a ``proceed`` callable
    that performs the real step.
    """

    # -- decisions ------------------------------------------------------------------------
    def decide_tool(self, ctx: RunContext, site: ToolSite) -> StepDecision:
        """What happens to a tool call (default: it proceeds)."""
        return PROCEED

    def decide_llm(self, ctx: RunContext, site: LLMSite) -> StepDecision:
        """What happens to an LLM request (default: it proceeds)."""
        return PROCEED

    def decide_agent(self, ctx: RunContext, site: WorkerSite) -> StepDecision:
        """What happens when an agent scope opens (default: it proceeds)."""
        return PROCEED

    def step_done(self, ctx: RunContext) -> None:
        """Called when a tool call or LLM request completed (its reply was produced)."""

    def message_send(self, ctx: RunContext, site: MessageSite) -> MessageDecision | None:
        """Called by a channel before it delivers a message; ``None`` delivers it normally."""
        return None

    def state_op(self, ctx: RunContext, site: StateSite) -> StateDecision | None:
        """Called by a state store before a read or write; ``None`` performs it normally."""
        return None

    def budget_op(self, ctx: RunContext, site: BudgetSite) -> BudgetDecision | None:
        """Called by a budget before an acquire; ``None`` grants or denies it normally."""
        return None

    # -- the injection points -------------------------------------------------------------
    def tool_call(self, ctx: RunContext, site: ToolSite, proceed: Callable[[], T]) -> T:
        decision = within_timeout(self.decide_tool(ctx, site), site.timeout, f"tool {site.name!r}")
        return carry_out(decision, ctx, proceed, lambda: self.step_done(ctx))

    async def atool_call(self, ctx: RunContext, site: ToolSite, proceed: Callable[[], Awaitable[T]]) -> T:
        decision = within_timeout(self.decide_tool(ctx, site), site.timeout, f"tool {site.name!r}")
        return await acarry_out(decision, ctx, proceed, lambda: self.step_done(ctx))

    def llm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], httpx2.Response]
    ) -> httpx2.Response:
        return carry_out(self.decide_llm(ctx, site), ctx, proceed, lambda: self.step_done(ctx))

    async def allm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], Awaitable[httpx2.Response]]
    ) -> httpx2.Response:
        return await acarry_out(self.decide_llm(ctx, site), ctx, proceed, lambda: self.step_done(ctx))

    def agent_enter(self, ctx: RunContext, name: str, call: int) -> None:
        """Called when an agent scope opens (sync code)."""
        carry_out(self.decide_agent(ctx, WorkerSite(name, call)), ctx, _nothing, _nothing)

    async def aagent_enter(self, ctx: RunContext, name: str, call: int) -> None:
        """Called when an agent scope opens (async code)."""
        await acarry_out(self.decide_agent(ctx, WorkerSite(name, call)), ctx, _anothing, _nothing)

    def run_start(self, ctx: RunContext) -> None:
        """Called once when the run starts, after its ``run_start`` event (e.g. to arm network faults)."""

    def run_end(self, ctx: RunContext) -> None:
        """Called once when the run ends, even if it failed (e.g. to disarm network faults)."""


def _nothing() -> None:
    return None


async def _anothing() -> None:
    return None


_NO_HOOKS = RunHooks()

# Set by harness._run._record when BROWNOUT_RECORD is in the environment: called with the
# name of an outermost agent scope opened outside any run, it starts a recorded run and
# returns its recording (whose ``ctx`` is the new run's context).
AUTO_RECORDER: Callable[[str], Any] | None = None


class RunContext:
    """State of one run: its log, clock, counters, hooks and cassette."""

    def __init__(
        self,
        *,
        entry: str = "",
        run_id: str | None = None,
        hooks: RunHooks | None = None,
        clock: Callable[[], float] | None = None,
        cassette: Any = None,
        replay_tools: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.entry = entry
        self.log = RunLog(self.run_id, meta=meta)
        self.hooks = hooks or _NO_HOOKS
        self._clock = clock or (lambda: 0.0)
        self.cassette = cassette
        self.replay_tools = replay_tools
        self.deadline = 600.0  # virtual seconds; the runner sets the run's own
        self.ended = False  # set when run_end is appended; work finishing later was never joined
        self.harness_errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._tool_calls: dict[str, int] = defaultdict(int)
        self._tool_attempts: dict[tuple[str, str], int] = defaultdict(int)
        self._llm_calls: dict[str | None, int] = defaultdict(int)
        self._agent_calls: dict[str, int] = defaultdict(int)
        self.open_agents: dict[str, Frame] = {}

    # -- time ----------------------------------------------------------------------------
    def now(self) -> float:
        """Virtual seconds since the run started."""
        return round(self._clock(), 9)

    def set_clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    # -- events --------------------------------------------------------------------------
    def emit(self, cls: type[E], *, step_id: str | None = None, **fields: Any) -> E:
        """Append an event of class ``cls``, filling the common fields from the current frame.

        ``step_id`` defaults to ``s<seq>`` (a new step); pass a frame's step id to add an
        event to an open step. ``parent_step_id``/``agent`` may be overridden in ``fields``.
        """
        frame = _FRAME.get()
        with self._lock:
            seq = len(self.log)
            values: dict[str, Any] = {
                "run_id": self.run_id,
                "seq": seq,
                "t": self.now(),
                "step_id": step_id or f"s{seq}",
                "parent_step_id": frame.step_id if frame else None,
                "agent": frame.name if frame else None,
            }
            values.update(fields)
            event = cls(**values)
            self.log.append(event)  # type: ignore[arg-type]
        return event

    def append(self, event: AnyEvent) -> None:
        with self._lock:
            self.log.append(event)

    def next_seq(self) -> int:
        return len(self.log)

    # -- counters (deterministic call numbering for fault sites) --------------------------
    def count_tool(self, name: str, args_digest: str) -> tuple[int, int]:
        with self._lock:
            self._tool_calls[name] += 1
            self._tool_attempts[(name, args_digest)] += 1
            return self._tool_calls[name], self._tool_attempts[(name, args_digest)]

    def count_llm(self, agent: str | None) -> int:
        with self._lock:
            self._llm_calls[agent] += 1
            return self._llm_calls[agent]

    def count_agent(self, name: str) -> int:
        with self._lock:
            self._agent_calls[name] += 1
            return self._agent_calls[name]

    def fail(self, error: BaseException) -> None:
        """Remember a harness error to raise after the run, even if the system swallowed it."""
        with self._lock:
            self.harness_errors.append(error)


_RUN: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("brownout_run", default=None)
_FRAME: contextvars.ContextVar[Frame | None] = contextvars.ContextVar("brownout_frame", default=None)


def current_run() -> RunContext | None:
    """The active run, or ``None`` outside a run."""
    return _RUN.get()


def current_task_id() -> int:
    """An id for the asyncio task and thread the caller runs in (0 parts where there is none)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return hash((threading.get_ident(), id(task) if task is not None else 0))


def require_run(what: str) -> RunContext:
    """The active run, for an API that cannot work outside one; :class:`NotInRun` otherwise.

    The instrumentation itself never needs it (outside a run it does nothing); extensions
    that read or change the run's state do: a fault hook, an adapter, a custom recorder.

    Raises:
        NotInRun: naming ``what`` needed the run and how to get one.
    """
    ctx = _RUN.get()
    if ctx is None:
        raise NotInRun(
            f"{what} needs an active brownout run, and none is active here. Call it from code that runs "
            "under chaos.run(...), harness.run_system(...) or harness.record(...), not at import time or "
            "in a thread the run did not start."
        )
    return ctx


def current_frame() -> Frame | None:
    """The innermost open agent scope, or ``None``."""
    return _FRAME.get()
