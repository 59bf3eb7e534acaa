"""The injectors: :class:`PlanHooks` turns a :class:`FaultPlan` into :class:`harness.RunHooks`.

Each injection point counts its calls (per target and per site), finds the first fault of
the plan that selects the call, records a ``fault_injected`` event, and only then lets the
effect happen. Latency, timeouts and hangs use ``asyncio.sleep`` / ``time.sleep``, which
the runner makes virtual, so they cost no wall time.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2

from faults._errors import AckLost
from faults._llm_replies import (
    TruncatedAsyncStream,
    TruncatedSyncStream,
    cut_sse,
    read_timeout,
    request_for,
    synthetic_reply,
    truncated_body_error,
)
from faults._models import (
    EffectBase,
    EmptyResult,
    Fault,
    FaultPlan,
    Hang,
    Kill,
    Latency,
    LostAck,
    MalformedResult,
    SlowThenSucceed,
    Timeout,
    ToolError,
    TruncatedResponse,
)
from harness import WorkerKilled
from harness.events import FaultInjected
from harness.hooks import (
    LLMSite,
    MessageSite,
    RunContext,
    RunHooks,
    StateSite,
    ToolSite,
    current_frame,
)

__all__ = ["DeadlineCancelled", "PlanHooks", "corrupt_value"]

T = TypeVar("T")

# Which state op an effect acts on.
_STATE_OPS = {"stale_read": "read", "corrupt": "write", "lost_write": "write"}


class DeadlineCancelled(asyncio.CancelledError):
    """A synchronous step hung until the run's virtual deadline; raised to unwind the stuck thread.

    A real hung synchronous call never returns; a run cannot wait forever, so the logical
    clock jumps to the run's deadline and the hung step is cancelled (the run ends
    ``cancelled``, with the deadline marked passed).
    """


@dataclass
class _RunState:
    at_site: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    doomed: dict[str, list[Any]] = field(default_factory=dict)  # agent step id -> [fault, calls left, call]
    armed: list[Any] = field(default_factory=list)  # network handles to disarm at run end
    lock: threading.Lock = field(default_factory=threading.Lock)


class PlanHooks(RunHooks):
    """Injects the faults of one :class:`FaultPlan` into a run (one instance may serve many runs)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._by_site: dict[str, list[Fault]] = defaultdict(list)
        for fault in plan.faults:
            self._by_site[fault.site].append(fault)
        self._runs: weakref.WeakKeyDictionary[RunContext, _RunState] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    # -- selection ------------------------------------------------------------------------
    def _state(self, ctx: RunContext) -> _RunState:
        with self._lock:
            state = self._runs.get(ctx)
            if state is None:
                state = self._runs[ctx] = _RunState()
            return state

    def _select(
        self, ctx: RunContext, site: str, target: str | None, call: int, *, op: str | None = None
    ) -> Fault | None:
        faults = self._by_site.get(site)
        state = self._state(ctx)
        counter = f"{site}:{op}" if op else site
        with state.lock:
            state.at_site[counter] += 1
            at_site = state.at_site[counter]
        if not faults:
            return None
        for fault in faults:
            if op is not None and _STATE_OPS.get(fault.effect.kind) != op:
                continue
            if fault.selects(target, call, at_site):
                return fault
        return None

    @staticmethod
    def _emit(ctx: RunContext, fault: Fault, target: str | None, call: int, effect: Any = None) -> None:
        ctx.emit(
            FaultInjected,
            site=fault.site,
            effect=str(effect if effect is not None else fault.effect),
            fault=fault.model_dump(mode="json"),
            target=target,
            call=call,
        )

    # -- run start / end (network faults) --------------------------------------------------
    def run_start(self, ctx: RunContext) -> None:
        faults = self._by_site.get("network")
        if not faults:
            return
        from faults.network import arm

        state = self._state(ctx)
        for fault in faults:
            self._emit(ctx, fault, fault.target, 0)
            state.armed.extend(arm(fault))

    def run_end(self, ctx: RunContext) -> None:
        state = self._runs.get(ctx)
        if state is None or not state.armed:
            return
        from faults.network import disarm

        disarm(state.armed)
        state.armed.clear()

    # -- worker ---------------------------------------------------------------------------
    def _enter(self, ctx: RunContext, name: str, call: int) -> Fault | None:
        fault = self._select(ctx, "worker", name, call)
        if fault is None:
            return None
        effect = fault.effect
        if isinstance(effect, Kill) and effect.after_calls > 0:
            frame = current_frame()
            if frame is not None:
                self._state(ctx).doomed[frame.step_id] = [fault, effect.after_calls, call]
            return None
        self._emit(ctx, fault, name, call)
        return fault

    def agent_enter(self, ctx: RunContext, name: str, call: int) -> None:
        fault = self._enter(ctx, name, call)
        if fault is None:
            return
        if isinstance(fault.effect, Kill):
            raise WorkerKilled(f"injected fault: worker {name!r} was killed on entry ({fault})")
        if isinstance(fault.effect, Hang):
            _sync_hang(ctx, f"worker {name!r}")

    async def aagent_enter(self, ctx: RunContext, name: str, call: int) -> None:
        fault = self._enter(ctx, name, call)
        if fault is None:
            return
        if isinstance(fault.effect, Kill):
            raise WorkerKilled(f"injected fault: worker {name!r} was killed on entry ({fault})")
        if isinstance(fault.effect, Hang):
            await _hang_forever()

    def _after_step(self, ctx: RunContext) -> None:
        """Count a completed tool/LLM call against agents doomed to die after n calls."""
        state = self._runs.get(ctx)
        if state is None or not state.doomed:
            return
        frame = current_frame()
        while frame is not None:
            entry = state.doomed.get(frame.step_id)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del state.doomed[frame.step_id]
                    fault, _, call = entry
                    self._emit(ctx, fault, frame.name, call)
                    raise WorkerKilled(
                        f"injected fault: worker {frame.name!r} was killed after "
                        f"{fault.effect.after_calls} call(s) ({fault})"
                    )
            frame = frame.parent

    # -- tools ----------------------------------------------------------------------------
    def tool_call(self, ctx: RunContext, site: ToolSite, proceed: Callable[[], T]) -> T:
        fault = self._select(ctx, "tool", site.name, site.call)
        if fault is None:
            result = proceed()
            self._after_step(ctx)
            return result
        self._emit(ctx, fault, site.name, site.call)
        effect = fault.effect
        label = f"tool {site.name!r} call {site.call}"
        if isinstance(effect, Latency):
            time.sleep(effect.seconds)
            result = proceed()
        elif isinstance(effect, Timeout):
            time.sleep(effect.after or 30.0)
            raise TimeoutError(f"injected fault: {label} timed out after {effect.after or 30.0:g}s")
        elif isinstance(effect, Hang):
            _sync_hang(ctx, label)
        elif isinstance(effect, ToolError):
            raise _tool_error(effect, label)
        elif isinstance(effect, SlowThenSucceed):
            result = proceed()
            time.sleep(effect.seconds)
        elif isinstance(effect, LostAck):
            proceed()
            self._after_step(ctx)
            time.sleep(effect.after)
            raise AckLost(
                f"injected fault: {label} ran, but its reply was lost (timeout after {effect.after:g}s)"
            )
        else:
            result = _reshape(effect, proceed())
        self._after_step(ctx)
        return result

    async def atool_call(self, ctx: RunContext, site: ToolSite, proceed: Callable[[], Awaitable[T]]) -> T:
        fault = self._select(ctx, "tool", site.name, site.call)
        if fault is None:
            result = await proceed()
            self._after_step(ctx)
            return result
        self._emit(ctx, fault, site.name, site.call)
        effect = fault.effect
        label = f"tool {site.name!r} call {site.call}"
        if isinstance(effect, Latency):
            await asyncio.sleep(effect.seconds)
            result = await proceed()
        elif isinstance(effect, Timeout):
            await asyncio.sleep(effect.after or 30.0)
            raise TimeoutError(f"injected fault: {label} timed out after {effect.after or 30.0:g}s")
        elif isinstance(effect, Hang):
            await _hang_forever()
        elif isinstance(effect, ToolError):
            raise _tool_error(effect, label)
        elif isinstance(effect, SlowThenSucceed):
            result = await proceed()
            await asyncio.sleep(effect.seconds)
        elif isinstance(effect, LostAck):
            await proceed()
            self._after_step(ctx)
            await asyncio.sleep(effect.after)
            raise AckLost(
                f"injected fault: {label} ran, but its reply was lost (timeout after {effect.after:g}s)"
            )
        else:
            result = _reshape(effect, await proceed())
        self._after_step(ctx)
        return result

    # -- LLM ------------------------------------------------------------------------------
    def llm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], httpx2.Response]
    ) -> httpx2.Response:
        fault = self._select(ctx, "llm", site.agent, site.call)
        if fault is None:
            response = proceed()
            self._after_step(ctx)
            return response
        request = request_for(site)
        self._emit(ctx, fault, site.agent, site.call)
        effect = fault.effect
        if isinstance(effect, Latency):
            time.sleep(effect.seconds)
            response = proceed()
        elif isinstance(effect, Timeout | Hang):
            wait = effect.after if isinstance(effect, Timeout) and effect.after else read_timeout(request)
            if wait is None:
                _sync_hang(ctx, f"LLM call {site.call} of {site.agent or 'no agent'}")
            time.sleep(wait or 0)
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        elif isinstance(effect, TruncatedResponse):
            real = proceed()
            content = real.read()
            real.close()
            if not site.stream:
                raise truncated_body_error(request)
            response = _truncated(real, cut_sse(content, effect.after_chunks), request, is_async=False)
        else:
            response = synthetic_reply(effect, request, site.call)
        self._after_step(ctx)
        return response

    async def allm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], Awaitable[httpx2.Response]]
    ) -> httpx2.Response:
        fault = self._select(ctx, "llm", site.agent, site.call)
        if fault is None:
            response = await proceed()
            self._after_step(ctx)
            return response
        request = request_for(site)
        self._emit(ctx, fault, site.agent, site.call)
        effect = fault.effect
        if isinstance(effect, Latency):
            await asyncio.sleep(effect.seconds)
            response = await proceed()
        elif isinstance(effect, Timeout | Hang):
            wait = effect.after if isinstance(effect, Timeout) and effect.after else read_timeout(request)
            if wait is None:
                await _hang_forever()
            await asyncio.sleep(wait or 0)
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        elif isinstance(effect, TruncatedResponse):
            real = await proceed()
            content = await real.aread()
            await real.aclose()
            if not site.stream:
                raise truncated_body_error(request)
            response = _truncated(real, cut_sse(content, effect.after_chunks), request, is_async=True)
        else:
            response = synthetic_reply(effect, request, site.call)
        self._after_step(ctx)
        return response

    # -- channels and state ---------------------------------------------------------------
    def message_send(self, ctx: RunContext, site: MessageSite) -> Any:
        fault = self._select(ctx, "message", site.channel, site.call)
        if fault is None:
            return None
        self._emit(ctx, fault, site.channel, site.call)
        return fault.effect

    def state_op(self, ctx: RunContext, site: StateSite) -> Any:
        fault = self._select(ctx, "state", site.store, site.call, op=site.op)
        if fault is None:
            return None
        self._emit(ctx, fault, site.store, site.call)
        return fault.effect


# -- helpers --------------------------------------------------------------------------------
_TOOL_ERRORS: dict[str, type[Exception]] = {
    "ConnectionError": ConnectionError,
    "TimeoutError": TimeoutError,
    "RuntimeError": RuntimeError,
    "ValueError": ValueError,
    "PermissionError": PermissionError,
    "OSError": OSError,
}


def _tool_error(effect: ToolError, label: str) -> Exception:
    message = effect.message or f"injected fault: {label} failed"
    return _TOOL_ERRORS[effect.error_type](message)


def _truncated(
    real: httpx2.Response, head: bytes, request: httpx2.Request, *, is_async: bool
) -> httpx2.Response:
    stream: Any = TruncatedAsyncStream(head, request) if is_async else TruncatedSyncStream(head, request)
    headers = {
        k: v for k, v in real.headers.items() if k.lower() not in ("content-length", "content-encoding")
    }
    return httpx2.Response(real.status_code, headers=headers, stream=stream, request=request)


def _reshape(effect: EffectBase, result: Any) -> Any:
    if isinstance(effect, MalformedResult):
        try:
            text = json.dumps(result, default=repr)
        except (TypeError, ValueError):
            text = repr(result)
        return text[: max(1, len(text) // 2)]
    if isinstance(effect, EmptyResult):
        if isinstance(result, str):
            return ""
        if isinstance(result, bytes):
            return b""
        if isinstance(result, dict | list | tuple | set):
            return type(result)()
        return None
    raise TypeError(f"{getattr(effect, 'kind', effect)!r} is not a result effect")


async def _hang_forever() -> None:
    """Block until cancelled: a future nobody will ever complete."""
    await asyncio.get_running_loop().create_future()


def _sync_hang(ctx: RunContext, what: str) -> None:
    """A synchronous hang: jump the clock to the run's deadline, then unwind the stuck step."""
    remaining = ctx.deadline - ctx.now()
    if remaining > 0:
        time.sleep(remaining)
    raise DeadlineCancelled(
        f"injected fault: {what} hung until the run's virtual deadline ({ctx.deadline:g} s)"
    )


def corrupt_value(value: Any) -> Any:
    """A deterministic corruption of ``value``: same type where possible, visibly wrong."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value ^ (1 << 20) if value else 1 << 20
    if isinstance(value, float):
        return -value if value else float("nan")
    if isinstance(value, str):
        if not value:
            return "\ufffd"
        middle = len(value) // 2
        return value[:middle] + "\ufffd" + value[middle + 1 :]
    if isinstance(value, dict):
        out = copy.deepcopy(value)
        if out:
            first = next(iter(out))
            out[first] = corrupt_value(out[first])
        else:
            out["\ufffd"] = None
        return out
    if isinstance(value, list):
        return copy.deepcopy(value[:-1]) if value else ["\ufffd"]
    if value is None:
        return "\ufffd"
    return "\ufffd" + repr(value)
