"""The injectors: :class:`PlanHooks` turns a :class:`FaultPlan` into :class:`harness.RunHooks`.

Each injection point counts its calls (per target and per site), finds the first fault of
the plan that selects the call, records a ``fault_injected`` event, and only then returns
the effect's decision (:meth:`faults.EffectBase.decide`), which the instrumentation carries
out. Latency, timeouts and hangs wait with ``asyncio.sleep`` / ``time.sleep``, which the
runner makes virtual, so they cost no wall time.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faults._errors import FaultError
from faults._registry import AnySite, Decision
from harness.events import FaultInjected
from harness.hooks import (
    PROCEED,
    BudgetDecision,
    BudgetSite,
    Fail,
    LLMSite,
    MessageDecision,
    MessageSite,
    RunContext,
    RunHooks,
    StateDecision,
    StateSite,
    StepDecision,
    ToolSite,
    WorkerSite,
    current_frame,
)

if TYPE_CHECKING:
    from faults._models import Fault, FaultPlan

__all__ = ["PlanHooks"]


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
            if op is not None and fault.effect.acts_on != op:
                continue
            if fault.selects(target, call, at_site):
                return fault
        return None

    @staticmethod
    def _emit(ctx: RunContext, fault: Fault, target: str | None, call: int) -> None:
        ctx.emit(
            FaultInjected,
            site=fault.site,
            effect=str(fault.effect),
            fault=fault.model_dump(mode="json"),
            target=target,
            call=call,
        )

    def _strike(
        self, ctx: RunContext, site: AnySite, target: str | None, *, op: str | None = None
    ) -> Decision | None:
        """Select the fault striking ``site`` (if any), record it, and return its decision."""
        name = _SITE_NAMES[type(site)]
        fault = self._select(ctx, name, target, site.call, op=op)
        if fault is None:
            return None
        self._emit(ctx, fault, target, site.call)
        return fault.effect.decide(site, fault)

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

    # -- decisions --------------------------------------------------------------------------
    def decide_tool(self, ctx: RunContext, site: ToolSite) -> StepDecision:
        return _step(self._strike(ctx, site, site.name), site)

    def decide_llm(self, ctx: RunContext, site: LLMSite) -> StepDecision:
        return _step(self._strike(ctx, site, site.agent), site)

    def decide_agent(self, ctx: RunContext, site: WorkerSite) -> StepDecision:
        fault = self._select(ctx, "worker", site.name, site.call)
        if fault is None:
            return PROCEED
        later = fault.effect.strikes_after()
        if later > 0:
            # Strikes after the agent's n-th completed call: see step_done.
            frame = current_frame()
            if frame is not None:
                self._state(ctx).doomed[frame.step_id] = [fault, later, site.call]
            return PROCEED
        self._emit(ctx, fault, site.name, site.call)
        return _step(fault.effect.decide(site, fault), site)

    def step_done(self, ctx: RunContext) -> None:
        """Count a completed tool/LLM call against agents doomed to be struck after n calls."""
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
                    site = WorkerSite(frame.name, call)
                    decision = fault.effect.decide(site, fault)
                    if not isinstance(decision, Fail) or decision.after is not None:
                        raise _wrong(decision, site, fault, "Fail(error) with no wait")
                    raise decision.error()
            frame = frame.parent

    def message_send(self, ctx: RunContext, site: MessageSite) -> MessageDecision | None:
        decision = self._strike(ctx, site, site.channel)
        if decision is not None and not isinstance(decision, MessageDecision):
            raise _wrong(decision, site, None, "a message decision (DropMessage, DelayMessage, ...)")
        return decision

    def state_op(self, ctx: RunContext, site: StateSite) -> StateDecision | None:
        decision = self._strike(ctx, site, site.store, op=site.op)
        if decision is not None and not isinstance(decision, StateDecision):
            raise _wrong(decision, site, None, "a state decision (ServeStale, CorruptWrite, LoseWrite)")
        return decision

    def budget_op(self, ctx: RunContext, site: BudgetSite) -> BudgetDecision | None:
        decision = self._strike(ctx, site, site.budget)
        if decision is not None and not isinstance(decision, BudgetDecision):
            raise _wrong(decision, site, None, "a budget decision (ShrinkBudget, InflateUse)")
        return decision


_SITE_NAMES: dict[type, str] = {
    BudgetSite: "budget",
    ToolSite: "tool",
    LLMSite: "llm",
    WorkerSite: "worker",
    MessageSite: "message",
    StateSite: "state",
}


def _step(decision: Decision | None, site: AnySite) -> StepDecision:
    if decision is None:
        return PROCEED
    if not isinstance(decision, StepDecision):
        raise _wrong(decision, site, None, "a step decision (Proceed, Wait, Fail, Reshape, ...)")
    return decision


def _wrong(decision: object, site: AnySite, fault: Fault | None, wanted: str) -> FaultError:
    return FaultError(
        f"an effect decided {decision!r} at {site!r}{f' ({fault})' if fault else ''}; at this site an "
        f"effect's decide() must return {wanted}. See 'Writing your own effect' in docs/faults.md."
    )
