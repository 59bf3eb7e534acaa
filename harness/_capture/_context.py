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
import shutil
import tempfile
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
from harness._errors import NotInRun, ProcessCrashed
from harness._log._events import AnyEvent, Compensation, EventBase, LLMCall, Restart, RunEnd, ToolCall
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
    "crash_process",
    "current_frame",
    "current_run",
    "require_run",
    "run_dir",
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
        # Crash and restart (docs/faults.md, "Crash and restart"): which start of the system
        # is running, and the crash in progress (set at the kill point, cleared by restart()).
        self.incarnation = 0
        self.dying: ProcessCrashed | None = None
        self.on_crash: Callable[[], None] | None = None  # the runner's signal: stop this incarnation
        self._dir: str | None = None
        self._crash_site = ""

    # -- crash and restart -----------------------------------------------------------------
    def crash(self, what: str, point: str) -> ProcessCrashed:
        """Crash-stop the running incarnation at kill point ``point``; return the exception to raise.

        From now until :meth:`restart`, the dead incarnation starts nothing (every new step
        raises :class:`ProcessCrashed`) and records only the ends of the tool and LLM calls
        that were in flight (the world may have seen them); the runner cancels its tasks.
        """
        with self._lock:
            if self.dying is None:
                self.dying = ProcessCrashed(
                    f"injected fault: {what} crash-stopped the system ({point}, incarnation "
                    f"{self.incarnation})",
                    point=point,
                    incarnation=self.incarnation,
                )
                self._crash_site = what
            crashed = self.dying
        signal = self.on_crash
        if signal is not None:
            signal()
        return crashed

    def refuse_if_dead(self) -> None:
        """Raise :class:`ProcessCrashed` if the running incarnation crashed: a dead process starts nothing."""
        crashed = self.dying
        if crashed is not None:
            raise ProcessCrashed(
                str(crashed), point=crashed.point, incarnation=crashed.incarnation
            ) from crashed

    def restart(self) -> None:
        """Start the next incarnation after a crash: record a ``restart`` event."""
        crashed = self.dying
        if crashed is None:
            return
        with self._lock:
            crash_seq = len(self.log) - 1  # the last event the crashed incarnation recorded
            self.dying = None
            self.incarnation += 1
        self.emit(
            Restart,
            crashed=crashed.incarnation,
            point=crashed.point,
            site=self._crash_site,
            crash_seq=crash_seq if crash_seq >= 0 else None,
            parent_step_id=None,
            agent=None,
        )

    def run_dir(self) -> str:
        """A directory of this run, created on first use, kept across restarts, removed at run end."""
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix=f"brownout-run-{self.run_id}-")
            return self._dir

    def remove_run_dir(self) -> None:
        with self._lock:
            path, self._dir = self._dir, None
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)

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
                "incarnation": self.incarnation,
            }
            values.update(fields)
            event = cls(**values)
            # A crashed process records nothing more, except the ends of the calls it had in
            # flight: the world may have seen those (the struck call itself among them).
            if self.dying is None or cls in _IN_FLIGHT:
                self.log.append(event)  # type: ignore[arg-type]
        return event

    def append(self, event: AnyEvent) -> None:
        with self._lock:
            self.log.append(event)

    def next_seq(self) -> int:
        return len(self.log)

    # -- counters (deterministic call numbering for fault sites) --------------------------
    def count_tool(self, name: str, args_digest: str) -> tuple[int, int]:
        self.refuse_if_dead()
        with self._lock:
            self._tool_calls[name] += 1
            self._tool_attempts[(name, args_digest)] += 1
            return self._tool_calls[name], self._tool_attempts[(name, args_digest)]

    def count_llm(self, agent: str | None) -> int:
        self.refuse_if_dead()
        with self._lock:
            self._llm_calls[agent] += 1
            return self._llm_calls[agent]

    def count_agent(self, name: str) -> int:
        self.refuse_if_dead()
        with self._lock:
            self._agent_calls[name] += 1
            return self._agent_calls[name]

    def fail(self, error: BaseException) -> None:
        """Remember a harness error to raise after the run, even if the system swallowed it."""
        with self._lock:
            self.harness_errors.append(error)


# What a crashed incarnation still records: the ends of its in-flight calls, and the run's
# end when no restart follows.
_IN_FLIGHT: tuple[type[EventBase], ...] = (ToolCall, LLMCall, Compensation, RunEnd)

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


def crash_process(what: str, point: str) -> ProcessCrashed:
    """Crash-stop the active run's system at kill point ``point`` and return the exception to raise.

    What a crash effect's decision raises (``Fail(functools.partial(crash_process, ...))``):
    the run stops the incarnation and starts the system again with its ``resume``.

    Raises:
        NotInRun: outside a run.
    """
    return require_run("crash_process").crash(what, point)


_PROCESS_DIR: list[str] = []


def run_dir() -> str:
    """A directory that belongs to the current run: empty when the run starts, kept across
    the system's restarts within the run (what a crashed process finds on its disk), removed
    when the run ends. Put a durable store there (``StateStore(..., path=Path(run_dir()) /
    "state.db")``) and every run starts fresh while a restart finds what survived.

    Outside a run, one temporary directory per process.
    """
    ctx = _RUN.get()
    if ctx is not None:
        return ctx.run_dir()
    if not _PROCESS_DIR:
        _PROCESS_DIR.append(tempfile.mkdtemp(prefix="brownout-process-"))
    return _PROCESS_DIR[0]
