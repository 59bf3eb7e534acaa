"""Instrumentation: ``agent(name)`` scopes and ``@tool`` functions.

Outside a run both are near-zero-cost: one context-variable read, then the user's
code runs untouched.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from harness._capture import _context
from harness._capture._context import _FRAME, _RUN, Frame, RunContext, ToolSite, current_task_id
from harness._errors import ConfigError, RecordedToolError, WorkerKilled
from harness._log._digest import digest
from harness._log._events import AgentEnd, AgentStart, Compensation, Handoff, Join, Spawn, ToolCall
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub

__all__ = ["ToolSpec", "agent", "handoff", "registered_tools", "spawn", "status_of", "tool"]


P = ParamSpec("P")
R = TypeVar("R")


def status_of(exc: BaseException | None) -> str:
    """How a step ended, from the exception that ended it."""
    if exc is None:
        return "ok"
    if isinstance(exc, WorkerKilled):
        return "killed"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "error"


def _error_text(exc: BaseException | None) -> tuple[str | None, str | None]:
    if exc is None:
        return None, None
    return str(scrub(str(exc)))[:2000] or type(exc).__name__, type(exc).__name__


class agent:
    """Open an agent scope: every step inside is attributed to ``name``.

    Works as a context manager (``with`` / ``async with``) and as a decorator on sync
    and async functions. Scopes nest; the inner scope's parent step is the outer one.

    Args:
        name: The agent's name, as it should appear in logs and reports.
        budget_tokens: Optional prompt-token budget for this agent (checked by the
            ``context_budget`` checker).
    """

    __slots__ = ("_ctx", "_frame", "_recording", "_token", "budget_tokens", "name")

    def __init__(self, name: str, *, budget_tokens: int | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"agent(name={name!r}): the name must be a non-empty string, e.g. agent('planner')."
            )
        self.name = name
        self.budget_tokens = budget_tokens
        self._ctx: RunContext | None = None
        self._frame: Frame | None = None
        self._token: Any = None
        self._recording: Any = None

    # -- context manager ---------------------------------------------------------------
    def _open(self) -> RunContext | None:
        ctx = _RUN.get()
        if ctx is None:
            # BROWNOUT_RECORD: the outermost agent scope outside any run records one run
            # (harness._run._record installs the recorder; capture never imports upward).
            begin = _context.AUTO_RECORDER
            if begin is None:
                return None
            self._recording = begin(self.name)
            ctx = self._recording.ctx
        parent = _FRAME.get()
        task = current_task_id()
        event = ctx.emit(
            AgentStart,
            name=self.name,
            spawned_by=parent.name if parent else None,
            budget_tokens=self.budget_tokens,
            detached=parent is not None and parent.task != task,
            agent=self.name,
        )
        self._frame = Frame(self.name, event.step_id, parent, self.budget_tokens, task)
        self._token = _FRAME.set(self._frame)
        self._ctx = ctx
        with ctx._lock:
            ctx.open_agents[event.step_id] = self._frame
        return ctx

    def _close(self, exc: BaseException | None) -> None:
        ctx, frame = self._ctx, self._frame
        if ctx is None or frame is None:
            return
        error, error_type = _error_text(exc)
        try:
            _FRAME.reset(self._token)
        except ValueError:
            # Closed in another context (e.g. a generator finalised elsewhere): restore by hand.
            _FRAME.set(frame.parent)
        with ctx._lock:
            ctx.open_agents.pop(frame.step_id, None)
        ctx.emit(
            AgentEnd,
            step_id=frame.step_id,
            name=self.name,
            status=status_of(exc),
            error=error,
            error_type=error_type,
            start_seq=int(frame.step_id[1:]),
            parent_step_id=frame.parent.step_id if frame.parent else None,
            agent=self.name,
        )
        self._ctx = self._frame = None
        if self._recording is not None:
            recording, self._recording = self._recording, None
            recording.end(exc)

    def __enter__(self) -> agent:
        ctx = self._open()
        if ctx is not None:
            try:
                ctx.hooks.agent_enter(ctx, self.name, ctx.count_agent(self.name))
            except BaseException as exc:
                self._close(exc)
                raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc)

    async def __aenter__(self) -> agent:
        ctx = self._open()
        if ctx is not None:
            try:
                await ctx.hooks.aagent_enter(ctx, self.name, ctx.count_agent(self.name))
            except BaseException as exc:
                self._close(exc)
                raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc)

    # -- decorator ---------------------------------------------------------------------
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        name, budget = self.name, self.budget_tokens
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                if _RUN.get() is None and _context.AUTO_RECORDER is None:
                    return await afn(*args, **kwargs)
                async with agent(name, budget_tokens=budget):
                    return await afn(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if _RUN.get() is None and _context.AUTO_RECORDER is None:
                return fn(*args, **kwargs)
            with agent(name, budget_tokens=budget):
                return fn(*args, **kwargs)

        return wrapper


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What ``@tool`` knows about a function."""

    name: str
    side_effect: bool
    compensate: str | None
    signature: inspect.Signature | None
    timeout: float | None = None


_TOOLS: dict[str, ToolSpec] = {}
_COMPENSATORS: dict[str, str] = {}  # compensating tool name -> the tool it compensates


def registered_tools() -> dict[str, ToolSpec]:
    """All tools declared with ``@tool`` so far, by name."""
    return dict(_TOOLS)


def _bind(spec: ToolSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if spec.signature is None:
        return {"args": list(args), **kwargs}
    try:
        bound = spec.signature.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), **kwargs}
    out: dict[str, Any] = {}
    for key, value in bound.arguments.items():
        param = spec.signature.parameters[key]
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif key in ("self", "cls") and param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            continue
        else:
            out[key] = value
    return out


class _Call:
    """Bookkeeping of one tool call under an active run."""

    __slots__ = ("args", "began_at", "ctx", "digest", "executed", "key", "site", "spec", "token")

    def __init__(
        self, ctx: RunContext, spec: ToolSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.began_at = len(ctx.log)  # what the caller could have known when it made the call
        bound = _bind(spec, args, kwargs)
        self.key = kwargs.get("idempotency_key")
        self.token = kwargs.get("fencing_token")
        clean = scrub(jsonable({k: v for k, v in bound.items() if k != "idempotency_key"}))
        self.args = clean
        self.digest = digest([spec.name, clean])
        call, attempt = ctx.count_tool(spec.name, self.digest)
        frame = _FRAME.get()
        self.site = ToolSite(
            spec.name, frame.name if frame else None, call, attempt, spec.side_effect, clean, spec.timeout
        )
        self.executed = False

    def replayed(self) -> tuple[bool, Any]:
        """(found, result) from the cassette when tools are replayed; raises a recorded error."""
        cassette = self.ctx.cassette
        if not self.ctx.replay_tools or cassette is None:
            return False, None
        return cast(tuple[bool, Any], cassette.replay_tool(self.spec.name, self.digest, self.site))

    def finish(
        self, started: float, result: Any = None, exc: BaseException | None = None, replayed: bool = False
    ) -> None:
        ctx, spec = self.ctx, self.spec
        error, error_type = _error_text(exc)
        status = status_of(exc)
        if status == "timeout" and getattr(exc, "lost_ack", False):
            status = "lost_ack"  # an injected lost acknowledgement: the tool ran, its reply was lost
        if exc is not None and isinstance(exc, RecordedToolError):
            error_type = exc.error_type
        value = scrub(jsonable(result)) if exc is None else None
        compensates = _COMPENSATORS.get(spec.name)
        event = ctx.emit(
            ToolCall,
            name=spec.name,
            args=self.args,
            args_digest=self.digest,
            attempt=self.site.attempt,
            idempotency_key=None if self.key is None else str(self.key),
            side_effect=spec.side_effect,
            compensate=spec.compensate,
            compensates=compensates,
            status=status,
            result=value,
            error=error,
            error_type=error_type,
            executed=self.executed and not replayed,
            replayed=replayed,
            latency=round(ctx.now() - started, 9),
            fencing_token=self.token if isinstance(self.token, int) else None,
            began_at=self.began_at,
        )
        if compensates is not None:
            ctx.emit(
                Compensation,
                tool=spec.name,
                for_tool=compensates,
                for_step=None,
                status="ok" if exc is None else "error",
            )
        if ctx.cassette is not None and not replayed:
            ctx.cassette.record_tool(spec.name, self.digest, self.site, value, error, error_type, event.seq)


@overload
def tool(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def tool(
    name: str | None = None,
    *,
    side_effect: bool = False,
    compensate: str | None = None,
    timeout: float | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def tool(
    name: Any = None,
    *,
    side_effect: bool = False,
    compensate: str | None = None,
    timeout: float | None = None,
) -> Any:
    """Declare a function as a tool: its calls, results and errors go into the run log.

    Usable bare (``@tool``) or with arguments (``@tool("charge", side_effect=True,
    compensate="refund")``), on sync and async functions. A keyword argument
    ``idempotency_key`` (and ``fencing_token``) is recorded on the event.

    Args:
        name: The tool's name; defaults to the function's ``__name__``.
        side_effect: Whether a call changes the world (sends, charges, writes). Checkers
            look for duplicated and uncompensated side effects.
        compensate: The name of the tool that undoes this one (saga compensation).
        timeout: The caller's own timeout for this tool, in seconds (the HTTP client's read
            timeout, a ``wait_for`` around it). brownout does not enforce it on real calls; it
            makes injected faults behave as they would against that caller: a ``hang`` ends
            as ``TimeoutError`` after ``timeout`` virtual seconds, and a reply later than that
            is lost to the caller. Without it, a hang at a sync tool blocks the run until its
            deadline and ``liveness`` reports that the tool has no timeout.
    """
    if callable(name) and not isinstance(name, str):
        return tool()(name)
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigError(f"tool(name={name!r}): the name must be a non-empty string or None.")
    if compensate is not None and (not isinstance(compensate, str) or not compensate):
        raise ConfigError(
            f"tool(compensate={compensate!r}): compensate names the tool that undoes this one, "
            "e.g. compensate='refund_payment'."
        )

    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < float("inf")
    ):
        raise ConfigError(
            f"tool(timeout={timeout!r}): the timeout is the caller's own, in seconds, a number > 0 "
            "(e.g. timeout=30), or None when the caller waits forever."
        )

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        tool_name = name or fn.__name__
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        spec = ToolSpec(tool_name, side_effect, compensate, signature, float(timeout) if timeout else None)
        _TOOLS[tool_name] = spec
        if compensate is not None:
            _COMPENSATORS[compensate] = tool_name

        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                ctx = _RUN.get()
                if ctx is None:
                    return await afn(*args, **kwargs)
                call = _Call(ctx, spec, args, kwargs)
                started = ctx.now()
                try:
                    found, recorded = call.replayed()
                except BaseException as exc:
                    call.finish(started, exc=exc, replayed=True)
                    raise
                if found:
                    call.finish(started, recorded, replayed=True)
                    return recorded

                async def proceed() -> Any:
                    call.executed = True
                    return await afn(*args, **kwargs)

                try:
                    result = await ctx.hooks.atool_call(ctx, call.site, proceed)
                except BaseException as exc:
                    call.finish(started, exc=exc)
                    raise
                call.finish(started, result)
                return result

            async_wrapper.__brownout_tool__ = spec  # type: ignore[attr-defined]
            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            ctx = _RUN.get()
            if ctx is None:
                return fn(*args, **kwargs)
            call = _Call(ctx, spec, args, kwargs)
            started = ctx.now()
            try:
                found, recorded = call.replayed()
            except BaseException as exc:
                call.finish(started, exc=exc, replayed=True)
                raise
            if found:
                call.finish(started, recorded, replayed=True)
                return cast(R, recorded)

            def proceed() -> R:
                call.executed = True
                return fn(*args, **kwargs)

            try:
                result = ctx.hooks.tool_call(ctx, call.site, proceed)
            except BaseException as exc:
                call.finish(started, exc=exc)
                raise
            call.finish(started, result)
            return result

        wrapper.__brownout_tool__ = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate


# -- concurrency and handoffs -------------------------------------------------------------
def spawn(coro: Coroutine[Any, Any, R], *, name: str, target: str | None = None) -> asyncio.Task[R]:
    """Start ``coro`` as a concurrent task and record it as spawned work.

    Records a ``spawn`` event now and a ``join`` event when the task ends (ok, error,
    timeout or cancelled) while the run is still going. A task still running when the
    run ends is cancelled by the runner without a ``join``: that is orphaned work, which
    the ``orphaned_work`` checker reports. Outside a run it is ``asyncio.create_task``.

    Args:
        coro: The coroutine to run, typically a sub-agent.
        name: The task's name in the log (e.g. ``"web_search"``).
        target: The agent the task runs, if it differs from ``name``.
    """
    if not isinstance(name, str) or not name:
        coro.close()
        raise ConfigError(
            f"spawn(name={name!r}): the name must be a non-empty string, e.g. spawn(coro, name='search')."
        )
    task = asyncio.get_running_loop().create_task(coro, name=name)
    ctx = _RUN.get()
    if ctx is None:
        return task
    frame = _FRAME.get()
    where = {"agent": frame.name if frame else None, "parent_step_id": frame.step_id if frame else None}
    ctx.emit(Spawn, task=name, target=target or name, **where)

    def joined(done: asyncio.Task[R]) -> None:
        if ctx.ended:
            return  # cancelled by the runner after the run ended: never joined
        if done.cancelled():
            outcome = "cancelled"
        else:
            exc = done.exception()
            outcome = "ok" if exc is None else ("timeout" if isinstance(exc, TimeoutError) else "error")
        ctx.emit(Join, task=name, outcome=outcome, **where)

    task.add_done_callback(joined)
    return task


def handoff(
    target: str,
    payload: Any,
    *,
    source: str | None = None,
    schema: Any = None,
    constraints: Sequence[Any] = (),
    rubric: Any = None,
) -> Any:
    """Record work passed from one agent to another, checked against its contract.

    With a pydantic ``schema`` the payload is validated: the validated model is returned,
    and an invalid payload is recorded (``valid=False`` with the errors) and its
    ``pydantic.ValidationError`` raised. Without a schema (a free-text handoff) the payload
    is returned unchanged and recorded with ``valid=None``.

    Args:
        target: The receiving agent.
        payload: What is handed over (a model, dict or text).
        source: The sending agent; defaults to the current agent.
        schema: A pydantic model class the payload must satisfy.
        constraints: The task's hard constraints this handoff must carry (the
            ``goal_drift`` and ``handoff_contract`` checkers compare them with the payload).
        rubric: What a judge must confirm of the payload, against the task's constraints: a
            question (``"Does this brief still carry the $10,000 threshold?"``), a
            ``judges.Rubric`` (or its data), or the path of a rubric file. It is only recorded
            here; the ``goal_drift`` checker asks the configured judge and reports a ``False``
            as drift (docs/judges.md, "Semantic assertions at handoffs").
    """
    if not isinstance(target, str) or not target:
        raise ConfigError(f"handoff(target={target!r}): the target must be the receiving agent's name.")
    rubric_data = _rubric_data(rubric)
    result = payload
    valid: bool | None = None
    errors: list[str] = []
    failure: Exception | None = None
    if schema is not None:
        from pydantic import BaseModel, ValidationError

        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise ConfigError(f"handoff(schema={schema!r}): the schema must be a pydantic model class.")
        try:
            data = payload.model_dump() if isinstance(payload, BaseModel) else payload
            result = schema.model_validate(data)
            valid = True
        except ValidationError as exc:
            valid = False
            errors = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()]
            failure = exc
    ctx = _RUN.get()
    if ctx is not None:
        frame = _FRAME.get()
        ctx.emit(
            Handoff,
            source=source if source is not None else (frame.name if frame else None),
            target=target,
            payload=scrub(jsonable(payload)),
            schema_name=schema.__name__ if schema is not None else None,
            valid=valid,
            errors=errors,
            constraints=scrub(jsonable(list(constraints))),
            rubric=rubric_data,
        )
    if failure is not None:
        raise failure
    return result


def _rubric_data(rubric: Any) -> Any:
    """A handoff's rubric as recordable data: a question or path (str), or rubric data (a dict)."""
    if rubric is None:
        return None
    if isinstance(rubric, str):
        if not rubric.strip():
            raise ConfigError(
                "handoff(rubric=''): an empty rubric asks the judge nothing. Rule: a rubric is a question "
                "about the payload, a judges.Rubric, its data, or a rubric file's path. Fix: "
                "handoff(..., rubric='Does this brief still carry the $10,000 threshold?')."
            )
        return rubric
    if isinstance(rubric, os.PathLike):
        return os.fspath(rubric)
    dump = getattr(rubric, "to_dict", None) or getattr(rubric, "model_dump", None)
    data = dump() if callable(dump) else rubric
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"handoff(rubric={rubric!r}): a {type(rubric).__name__} is not a rubric. Rule: a rubric is a "
            "question about the payload (str), a judges.Rubric, its data (a dict) or a rubric file's path. "
            "Fix: handoff(..., rubric='Does this brief still carry the $10,000 threshold?')."
        )
    return jsonable(dict(data))
