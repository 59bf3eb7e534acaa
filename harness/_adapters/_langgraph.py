"""LangGraph (``langgraph``, with LangChain tools and models): nodes, tools, edges, ``Send``, ``Command``.

LangGraph has no hook that wraps a node's execution (callbacks observe, they cannot scope or
fail a step), so this adapter wraps two chokepoints, once per process, inert outside a run:

- **the task runner** (``langgraph.pregel._runner.run_with_retry`` / ``arun_with_retry``, what
  every Pregel step calls for every task, sync and async, parallel or not): each node's task
  runs inside ``agent(node)`` (the worker fault site), so the LLM calls made inside it —
  langchain-openai goes through the openai SDK, which brownout captures — are attributed to the
  node. When the task has run, its writes say where the work goes: every edge
  (``branch:to:<node>``, ``join:...:<node>``), ``Send(node, arg)`` and ``Command(goto=...)``
  becomes a ``handoff`` event from the node to the target, carrying the state keys the node
  wrote (a ``Send`` carries its ``arg``). Retries of a task under a ``RetryPolicy`` stay in one
  scope.
- **LangChain tools** (``BaseTool.run``, ``arun`` and ``ainvoke``, which ``ToolNode``,
  ``create_react_agent`` and a direct ``tool.invoke`` / ``ainvoke`` go through): each call is
  one ``@tool`` site under the tool's own name, its arguments the tool-call arguments.

- **the sync executor** (``langgraph.pregel._executor.BackgroundExecutor.submit``): a graph run
  with ``invoke`` / ``stream`` hands its parallel branches to a thread pool, where the run's
  clock cannot see their waits and the threads' timing orders their steps. Inside a run they
  run one after another in the calling thread instead, in the order LangGraph submitted them
  (its task order), on the run's clock: two replays give the same log, ``llm[*]#2`` is the
  same node's call every time, and an injected 30 s timeout costs no wall time. LangGraph
  runs the tasks of one step independently of each other, so this is one of the schedules
  its thread pool could produce. While the run's cassette may go live (recording, or
  ``miss="live"``) the thread pool is kept, so parallel live LLM calls still overlap. Sync
  nodes of an ``ainvoke``d graph run in the event loop's executor, which the run's
  :class:`faults.VirtualClockLoop` schedules the same way.

- **the checkpointer** (any ``BaseCheckpointSaver``: ``InMemorySaver``, ``SqliteSaver``, ...):
  its class's ``get_tuple`` / ``aget_tuple`` and ``put`` / ``aput`` are wrapped when a graph
  compiled with it first runs in a brownout run. Each read and each saved checkpoint is a
  ``state_read`` / ``state_write`` of the store ``checkpointer``, keyed by the thread id (and
  the subgraph's node names), its version the checkpoint's step + 2 (the input checkpoint, step
  -1, is version 1; 0 is none), its value the channel values. They are ``state[checkpointer]``
  fault sites, as a :class:`harness.StateStore`'s reads and writes are: ``stale_read`` serves the
  previous checkpoint of the thread (none, for its first), ``corrupt`` saves corrupted channel
  values, ``lost_write`` acknowledges a checkpoint that is never saved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import copy
import functools
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from harness._adapters._registry import enabled
from harness._capture._context import _FRAME, _RUN, RunContext, StateSite
from harness._capture._decisions import CorruptWrite, LoseWrite, ServeStale, StateDecision, WriteThenFail
from harness._capture._instrument import agent, handoff, tool
from harness._log._events import StateRead, StateWrite
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub

__all__ = ["install"]

NAME = "langgraph"
_MARK = "__brownout_adapter__"
_TASKS = "__pregel_tasks"  # langgraph's channel for Send packets


def _active() -> bool:
    return _RUN.get() is not None and enabled(NAME)


def _compact(value: Any, depth: int = 0) -> Any:
    """A handoff payload value: messages as their type, content and tool calls (their ids and
    metadata are not stable across runs), containers recursively, the rest as is."""
    if depth > 16:
        return repr(value)
    if hasattr(value, "content") and hasattr(value, "type") and hasattr(value, "additional_kwargs"):
        out: dict[str, Any] = {"type": value.type, "content": value.content}
        calls = getattr(value, "tool_calls", None)
        if calls:
            out["tool_calls"] = [{"name": c.get("name"), "args": c.get("args")} for c in calls]
        return out
    if isinstance(value, dict):
        return {str(k): _compact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_compact(v, depth + 1) for v in value]
    return value


def _handoffs(task: Any) -> None:
    """Record where ``task``'s writes send the work next."""
    state: dict[str, Any] = {}
    targets: list[str] = []
    sends: list[tuple[str, Any]] = []
    for channel, value in list(getattr(task, "writes", ()) or ()):
        if not isinstance(channel, str):
            continue
        if channel == _TASKS:
            node = getattr(value, "node", None)
            if isinstance(node, str):
                sends.append((node, getattr(value, "arg", None)))
        elif channel.startswith("branch:to:"):
            targets.append(channel[len("branch:to:") :])
        elif channel.startswith("join:"):
            targets.append(channel.rsplit(":", 1)[-1])
        elif not channel.startswith("__"):
            state[channel] = _compact(value)
    seen: set[str] = set()
    # LangGraph keeps a node's edges in a set: their order follows the process's string hash
    # seed, so the handoffs go out sorted by target, the same in every process.
    for target in sorted(targets):
        if target and not target.startswith("__") and target not in seen:
            seen.add(target)
            handoff(target, state, source=task.name)
    for node, arg in sends:
        if not node.startswith("__"):
            handoff(node, _compact(arg), source=task.name)


def _is_node(task: Any) -> bool:
    name = getattr(task, "name", None)
    return isinstance(name, str) and bool(name) and not name.startswith("__")


def _wrap_sync_runner(run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    def run_with_retry(task: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active() or not _is_node(task):
            return run(task, *args, **kwargs)
        with _NodeScope(task.name):
            result = run(task, *args, **kwargs)
            _handoffs(task)
            return result

    setattr(run_with_retry, _MARK, True)
    return run_with_retry


class _NodeScope(agent):
    """A node's ``agent`` scope. LangGraph cancels sibling tasks with a sentinel object as the
    message, whose repr holds a memory address: the log gets a message that replays identically."""

    __slots__ = ()

    def _close(self, exc: BaseException | None) -> None:
        if isinstance(exc, asyncio.CancelledError) and not all(isinstance(a, str) for a in exc.args):
            exc = asyncio.CancelledError("cancelled by LangGraph: a sibling task failed, or the run ended")
        super()._close(exc)


def _wrap_async_runner(arun: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(arun)
    async def arun_with_retry(task: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active() or not _is_node(task):
            return await arun(task, *args, **kwargs)
        async with _NodeScope(task.name):
            result = await arun(task, *args, **kwargs)
            _handoffs(task)
            return result

    setattr(arun_with_retry, _MARK, True)
    return arun_with_retry


def _may_go_live() -> bool:
    """Whether the run's LLM calls may reach a live endpoint (its cassette records or misses live)."""
    ctx = _RUN.get()
    cassette = getattr(ctx, "cassette", None)
    return cassette is not None and (
        bool(getattr(cassette, "writable", False)) or getattr(cassette, "miss", None) == "live"
    )


def _wrap_submit(submit: Callable[..., Any]) -> Callable[..., Any]:
    """``BackgroundExecutor.submit``: inside a run (and off the network), run the task now, here."""

    @functools.wraps(submit)
    def inline_submit(
        self: Any,
        fn: Callable[..., Any],
        *args: Any,
        __name__: str | None = None,
        __cancel_on_exit__: bool = False,
        __reraise_on_exit__: bool = True,
        __next_tick__: bool = False,
        **kwargs: Any,
    ) -> concurrent.futures.Future[Any]:
        if not _active() or _may_go_live():
            return submit(  # type: ignore[no-any-return]
                self,
                fn,
                *args,
                __name__=__name__,
                __cancel_on_exit__=__cancel_on_exit__,
                __reraise_on_exit__=__reraise_on_exit__,
                __next_tick__=__next_tick__,
                **kwargs,
            )
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            # In a copy of the context, as the thread pool would run it.
            result = contextvars.copy_context().run(fn, *args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a killed worker too: the caller sees it through the future
            future.set_exception(exc)
        else:
            future.set_result(result)
        self.tasks[future] = (__cancel_on_exit__, __reraise_on_exit__)
        future.add_done_callback(self.done)
        return future

    setattr(inline_submit, _MARK, True)
    return inline_submit


def _tool_arguments(base_tool: Any, tool_input: Any) -> dict[str, Any]:
    """The arguments the caller (the model) gave: injected state and config are left out."""
    if isinstance(tool_input, dict) and tool_input.get("type") == "tool_call" and "args" in tool_input:
        tool_input = tool_input["args"]  # a ToolCall, as ToolNode passes it
    if not isinstance(tool_input, dict):
        return {"input": tool_input}
    schema = getattr(base_tool, "tool_call_schema", None)
    fields = getattr(schema, "model_fields", None)
    if isinstance(fields, dict) and fields:
        return {k: v for k, v in tool_input.items() if k in fields}
    return dict(tool_input)


# Set while a tool call is inside its site: the framework's inner entry points it goes through
# (``ainvoke`` -> ``invoke`` in an executor thread -> ``run``) are the same call, not new ones.
_IN_SITE: contextvars.ContextVar[bool] = contextvars.ContextVar("brownout_langchain_tool", default=False)


def _wrap_tool_sync(run: Callable[..., Any]) -> Callable[..., Any]:
    """``BaseTool.run``: the sync entry point (``invoke``, ``ToolNode`` in a sync graph)."""

    @functools.wraps(run)
    def wrapped(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active() or _IN_SITE.get():
            return run(self, tool_input, *args, **kwargs)

        def call(**arguments: Any) -> Any:
            token = _IN_SITE.set(True)
            try:
                return run(self, tool_input, *args, **kwargs)
            finally:
                _IN_SITE.reset(token)

        name = str(self.name)
        call.__name__ = call.__qualname__ = name
        return tool(name)(call)(**_tool_arguments(self, tool_input))

    setattr(wrapped, _MARK, True)
    return wrapped


def _wrap_tool_async(arun: Callable[..., Any]) -> Callable[..., Any]:
    """``ainvoke`` (every class that defines it) and ``arun``: the async entry points. A sync tool
    called with ``ainvoke`` runs in an executor thread; its site is here, on the event loop, so an
    injected delay or hang is virtual time and the run's deadline still applies."""

    @functools.wraps(arun)
    async def wrapped(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active() or _IN_SITE.get():
            return await arun(self, tool_input, *args, **kwargs)

        async def call(**arguments: Any) -> Any:
            token = _IN_SITE.set(True)
            try:
                return await arun(self, tool_input, *args, **kwargs)
            finally:
                _IN_SITE.reset(token)

        name = str(self.name)
        call.__name__ = call.__qualname__ = name
        return await tool(name)(call)(**_tool_arguments(self, tool_input))

    setattr(wrapped, _MARK, True)
    return wrapped


# -- the checkpointer: state events and state fault sites ------------------------------------
STORE = "checkpointer"
# Set inside a checkpointer operation: InMemorySaver's aget_tuple calls get_tuple, one operation.
_IN_CHECKPOINT: contextvars.ContextVar[bool] = contextvars.ContextVar("brownout_checkpoint", default=False)
_COUNTS: weakref.WeakKeyDictionary[RunContext, dict[str, int]] = weakref.WeakKeyDictionary()
_LATEST: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _thread_key(config: Any) -> str:
    """The state key of a checkpoint: its thread id, and for a subgraph the node names of its
    namespace (the task ids in it differ between runs)."""
    configurable = (config or {}).get("configurable", {}) if isinstance(config, dict) else {}
    key = str(configurable.get("thread_id", ""))
    namespace = str(configurable.get("checkpoint_ns", "") or "")
    if namespace:
        key += "/" + "|".join(part.split(":")[0] for part in namespace.split("|"))
    return key


def _version(metadata: Any) -> int:
    step = metadata.get("step") if isinstance(metadata, dict) else None
    return step + 2 if isinstance(step, int) else 1


def _values(checkpoint: Any) -> Any:
    values = checkpoint.get("channel_values") if isinstance(checkpoint, dict) else None
    state = {k: v for k, v in (values or {}).items() if not k.startswith(("__", "branch:", "join:"))}
    return scrub(jsonable(_compact(state)))  # the graph's state, not LangGraph's own routing channels


def _decide(ctx: RunContext, op: str, key: str) -> StateDecision | None:
    with ctx._lock:
        counts = _COUNTS.setdefault(ctx, {"read": 0, "write": 0})
        counts[op] += 1
        call = counts[op]
    frame = _FRAME.get()
    return ctx.hooks.state_op(ctx, StateSite(STORE, frame.name if frame else None, op, call, key))


def _note(saver: Any, key: str, version: int) -> int | None:
    """Remember ``version`` as the newest of ``key`` in ``saver``; return the one known before."""
    latest = _LATEST.setdefault(saver, {})
    before = latest.get(key)
    latest[key] = max(version, before or 0)
    return before


def _read_event(ctx: RunContext, saver: Any, key: str, found: Any, stale: bool) -> None:
    version = _version(found.metadata) if found is not None else 0
    if not stale:
        _note(saver, key, version)
    value = _values(found.checkpoint) if found is not None else None
    ctx.emit(StateRead, store=STORE, key=key, version=version, value=value, stale=stale)


def _wrap_get_tuple(get: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(get)
    def get_tuple(self: Any, config: Any) -> Any:
        ctx = _RUN.get()
        if ctx is None or not _active() or _IN_CHECKPOINT.get():
            return get(self, config)
        token = _IN_CHECKPOINT.set(True)
        try:
            key = _thread_key(config)
            decision = _decide(ctx, "read", key)
            found = get(self, config)
            stale = isinstance(decision, ServeStale) and found is not None
            if stale:  # the thread's previous checkpoint (none before its first)
                parent = found.parent_config
                found = get(self, parent) if parent else None
            _read_event(ctx, self, key, found, stale)
            return found
        finally:
            _IN_CHECKPOINT.reset(token)

    setattr(get_tuple, _MARK, True)
    return get_tuple


def _wrap_aget_tuple(aget: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(aget)
    async def aget_tuple(self: Any, config: Any) -> Any:
        ctx = _RUN.get()
        if ctx is None or not _active() or _IN_CHECKPOINT.get():
            return await aget(self, config)
        token = _IN_CHECKPOINT.set(True)
        try:
            key = _thread_key(config)
            decision = _decide(ctx, "read", key)
            found = await aget(self, config)
            stale = isinstance(decision, ServeStale) and found is not None
            if stale:
                parent = found.parent_config
                found = await aget(self, parent) if parent else None
            _read_event(ctx, self, key, found, stale)
            return found
        finally:
            _IN_CHECKPOINT.reset(token)

    setattr(aget_tuple, _MARK, True)
    return aget_tuple


def _write(
    ctx: RunContext, saver: Any, config: Any, checkpoint: Any, metadata: Any
) -> tuple[Any, bool, dict[str, Any], StateDecision | None]:
    """One ``put``, decided: the checkpoint to save, whether the write is lost, its event's fields,
    and the decision (a ``WriteThenFail`` is raised by the caller once the save is durable)."""
    key = _thread_key(config)
    decision = _decide(ctx, "write", key)
    version = _version(metadata)
    stored = checkpoint
    if isinstance(decision, CorruptWrite) and isinstance(checkpoint, dict):
        values = copy.deepcopy(checkpoint.get("channel_values") or {})
        stored = {**checkpoint, "channel_values": decision.fn(values)}
    lost = isinstance(decision, LoseWrite)
    configurable = (config or {}).get("configurable", {})
    based_on = version - 1 if configurable.get("checkpoint_id") else None
    before = _note(saver, key, version) if not lost else _LATEST.get(saver, {}).get(key)
    event = {
        "store": STORE,
        "key": key,
        "op": "write",
        "based_on_version": based_on,
        "new_version": version,
        "current_version": before if before is not None else max(version - 1, 0),
        "value": _values(stored),
        "lost": lost,
    }
    return stored, lost, event, decision


def _acknowledged(config: Any, checkpoint: Any) -> dict[str, Any]:
    """What a saver returns for a saved checkpoint (for a write that is lost instead)."""
    configurable = (config or {}).get("configurable", {})
    return {
        "configurable": {
            "thread_id": configurable.get("thread_id"),
            "checkpoint_ns": configurable.get("checkpoint_ns", ""),
            "checkpoint_id": checkpoint.get("id") if isinstance(checkpoint, dict) else None,
        }
    }


def _wrap_put(put: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(put)
    def put_(self: Any, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        ctx = _RUN.get()
        if ctx is None or not _active() or _IN_CHECKPOINT.get():
            return put(self, config, checkpoint, metadata, new_versions)
        token = _IN_CHECKPOINT.set(True)
        try:
            stored, lost, event, decision = _write(ctx, self, config, checkpoint, metadata)
            result = (
                _acknowledged(config, checkpoint)
                if lost
                else put(self, config, stored, metadata, new_versions)
            )
            ctx.emit(StateWrite, **event)
            if isinstance(decision, WriteThenFail):
                raise decision.error()  # saved (durable); the graph never hears back
            return result
        finally:
            _IN_CHECKPOINT.reset(token)

    setattr(put_, _MARK, True)
    return put_


def _wrap_aput(aput: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(aput)
    async def aput_(self: Any, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        ctx = _RUN.get()
        if ctx is None or not _active() or _IN_CHECKPOINT.get():
            return await aput(self, config, checkpoint, metadata, new_versions)
        token = _IN_CHECKPOINT.set(True)
        try:
            stored, lost, event, decision = _write(ctx, self, config, checkpoint, metadata)
            if lost:
                result = _acknowledged(config, checkpoint)
            else:
                result = await aput(self, config, stored, metadata, new_versions)
            ctx.emit(StateWrite, **event)
            if isinstance(decision, WriteThenFail):
                raise decision.error()  # saved (durable); the graph never hears back
            return result
        finally:
            _IN_CHECKPOINT.reset(token)

    setattr(aput_, _MARK, True)
    return aput_


def _instrument_checkpointer(saver: Any) -> None:
    """Wrap the reads and writes of ``saver``'s class (once per class; inert outside a run)."""
    cls = type(saver)
    for attribute, wrap in (
        ("get_tuple", _wrap_get_tuple),
        ("aget_tuple", _wrap_aget_tuple),
        ("put", _wrap_put),
        ("aput", _wrap_aput),
    ):
        original = getattr(cls, attribute, None)
        if original is not None and not getattr(original, _MARK, False):
            setattr(cls, attribute, wrap(original))


def _wrap_loop_enter(enter: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(enter)
    def __enter__(self: Any) -> Any:
        saver = getattr(self, "checkpointer", None)
        if saver is not None and _active():
            _instrument_checkpointer(saver)
        return enter(self)

    setattr(__enter__, _MARK, True)
    return __enter__


def _wrap_loop_aenter(aenter: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(aenter)
    async def __aenter__(self: Any) -> Any:
        saver = getattr(self, "checkpointer", None)
        if saver is not None and _active():
            _instrument_checkpointer(saver)
        return await aenter(self)

    setattr(__aenter__, _MARK, True)
    return __aenter__


def _patch(cls: Any, attribute: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = cls.__dict__.get(attribute)
    if original is not None and not getattr(original, _MARK, False):
        setattr(cls, attribute, wrap(original))


def install() -> None:
    """Wrap LangGraph's task runner and sync executor, and LangChain's tool entry points (once)."""
    from langchain_core.tools import BaseTool, StructuredTool, Tool
    from langgraph.pregel import _executor as executor_module
    from langgraph.pregel import _loop as loop_module
    from langgraph.pregel import _runner as runner_module

    runner: Any = runner_module  # the names below are imported there, not exported
    if not getattr(runner.run_with_retry, _MARK, False):
        runner.run_with_retry = _wrap_sync_runner(runner.run_with_retry)
    if not getattr(runner.arun_with_retry, _MARK, False):
        runner.arun_with_retry = _wrap_async_runner(runner.arun_with_retry)
    _patch(executor_module.BackgroundExecutor, "submit", _wrap_submit)
    _patch(loop_module.SyncPregelLoop, "__enter__", _wrap_loop_enter)
    _patch(loop_module.AsyncPregelLoop, "__aenter__", _wrap_loop_aenter)
    _patch(BaseTool, "run", _wrap_tool_sync)
    _patch(BaseTool, "arun", _wrap_tool_async)
    for cls in (BaseTool, StructuredTool, Tool):
        _patch(cls, "ainvoke", _wrap_tool_async)
