"""Hypothesis strategies that build fault plans from the call sites of a baseline run.

A baseline run (no faults) shows where the system calls out: which agents ask the LLM how
often, which tools run, which channels carry messages, which stores are read and written,
which agents start. :func:`call_sites` lists those sites; :func:`fault_plans` draws small
plans whose every fault targets one of them, so no example is wasted on a site that never
happens. Plans shrink towards fewer faults, earlier sites, and each effect's default
parameters: a failure is reported with the smallest plan that still breaks the system.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from faults import EFFECTS, SITES, EffectBase, Fault, FaultPlan, effect_kinds
from harness import ConfigError, RunLog
from harness.events import AgentStart, BudgetUse, LLMCall, MessageSend, StateRead, StateWrite, ToolCall

__all__ = ["CallSite", "call_sites", "effects_for", "fault_plans", "fault_strategy", "parse_kinds"]


@dataclass(frozen=True, order=True)
class CallSite:
    """One place a fault can strike: a site, its target, the call number (and a state op).

    ``call`` is 0 for network proxies (a network fault covers the whole run).
    """

    site: str
    target: str | None
    call: int
    op: str | None = None
    root: bool = False  # a worker site of the run's root agent (an outermost agent() scope)
    inline: bool = False  # a worker site of a sub-agent running in its parent's own task

    def __str__(self) -> str:
        op = f"/{self.op}" if self.op else ""
        return f"{self.site}[{self.target or '*'}{op}]#{self.call or 'every'}"


def call_sites(logs: Iterable[RunLog], *, proxies: Sequence[str] = ()) -> list[CallSite]:
    """The distinct call sites seen in ``logs``, in order of first appearance.

    Args:
        logs: Run logs of baseline runs.
        proxies: Names of network proxies the system talks through (network sites).
    """
    seen: dict[CallSite, None] = {}
    for log in logs:
        add = _Counter(seen).add
        for event in log:
            if isinstance(event, LLMCall):
                if event.source != "external":  # recorded with harness.llm_call: brownout cannot fault it
                    add("llm", event.agent)
            elif isinstance(event, ToolCall):
                add("tool", event.name)
            elif isinstance(event, AgentStart):
                root = event.parent_step_id is None
                add("worker", event.name, root=root, inline=not root and not event.detached)
            elif isinstance(event, MessageSend):
                add("message", event.channel)
            elif isinstance(event, StateRead):
                add("state", event.store, "read")
            elif isinstance(event, StateWrite):
                add("state", event.store, "write")
            elif isinstance(event, BudgetUse) and event.op != "release":
                add("budget", event.budget)
    for name in proxies:
        seen.setdefault(CallSite("network", name, 0), None)
    return list(seen)


class _Counter:
    """Numbers the calls of one run per target and per site, like the injectors do."""

    def __init__(self, seen: dict[CallSite, None]) -> None:
        self.seen = seen
        self.per_target: dict[tuple[str, str | None, str | None], int] = defaultdict(int)
        self.at_site: dict[tuple[str, str | None], int] = defaultdict(int)

    def add(
        self,
        site: str,
        target: str | None,
        op: str | None = None,
        *,
        root: bool = False,
        inline: bool = False,
    ) -> None:
        self.per_target[(site, target, op)] += 1
        self.at_site[(site, op)] += 1
        call = self.at_site[site, op] if target is None else self.per_target[site, target, op]
        self.seen.setdefault(CallSite(site, target, call, op, root, inline), None)


def _drawn(site: str, restartable: bool = False) -> list[str]:
    """The effects a bare site (or no selection) draws: all but the opt-in ones, and the
    crash-restart kill points only for a system that declares how it restarts."""
    return [
        kind
        for kind in effect_kinds(site)
        if not EFFECTS[kind].opt_in and (restartable or not EFFECTS[kind].restart)
    ]


def parse_kinds(kinds: Sequence[str], *, restartable: bool = False) -> dict[str, list[str]]:
    """Turn ``["tool", "llm.rate_limit", ...]`` into ``{site: [effect kinds]}``; empty means all.

    A bare site, or no selection, leaves out the opt-in effects (the plausible-but-wrong
    answers: ``tool.perturbed_value``, ...); those are drawn only when named. The
    crash-restart kill points (``tool.crash_after_effect``, ...) are drawn only with
    ``restartable`` (the test declared ``resume=``).

    Raises:
        ConfigError: naming the unknown kind and listing the accepted ones, or a kill point
            named for a system that declares no way to restart.
    """
    if not kinds:
        return {site: _drawn(site, restartable) for site in SITES}
    chosen: dict[str, list[str]] = {}
    for entry in kinds:
        site, _, kind = str(entry).partition(".")
        if site not in SITES or (kind and kind not in effect_kinds(site)):
            accepted = (
                ", ".join(SITES)
                + "; or one effect: "
                + ", ".join(f"{s}.{k}" for s in SITES for k in effect_kinds(s))
            )
            raise ConfigError(
                f"@pytest.mark.chaos(faults=[..., {entry!r}, ...]): unknown fault kind {entry!r}. "
                f"Accepted: a site ({accepted})."
            )
        if kind and EFFECTS[kind].restart and not restartable:
            raise ConfigError(
                f"@pytest.mark.chaos(faults=[..., {entry!r}, ...]): {entry!r} crash-stops the system and "
                "restarts it, but the test declares no way to restart it. Pass how the system starts again "
                "from its durable state: chaos.run(start, ..., resume=resume_fn) (docs/faults.md, "
                '"Crash and restart").'
            )
        wanted = [kind] if kind else _drawn(site, restartable)
        bucket = chosen.setdefault(site, [])
        bucket.extend(k for k in wanted if k not in bucket)
    return chosen


def effects_for(site: CallSite, kinds: dict[str, list[str]]) -> list[str]:
    """The effect kinds that may be drawn at ``site`` under the ``kinds`` selection.

    An inline sub-agent (running in its parent's own task) is never killed: its crash is
    its parent's crash, which no code of the parent could observe or handle. It may hang.
    """
    allowed = kinds.get(site.site, [])
    if site.site == "worker" and site.inline:
        return [k for k in allowed if k != "kill"]
    if site.site == "state":
        return [k for k in allowed if EFFECTS[k].acts_on == site.op]
    return list(allowed)


_TRANSIENT_NETWORK = frozenset({"latency", "bandwidth", "slicer", "slow_close"})


def _effect(kind: str) -> st.SearchStrategy[Any]:
    return _effect_of(EFFECTS[kind])


@functools.cache
def _effect_of(cls: type[EffectBase]) -> st.SearchStrategy[Any]:
    # Built once per effect class: strategies are cheap to draw from, not to build. Each
    # effect lists its parameter choices (``explore``), the default first (shrinking goes
    # there), then values that matter in practice.
    params = cls.explore
    if not params:
        return st.just(cls())
    names = list(params)
    return st.tuples(*(st.sampled_from(list(params[name])) for name in names)).map(
        functools.partial(_build, cls, names)
    )


def _build(cls: type[Any], names: list[str], values: tuple[Any, ...]) -> Any:
    return cls(**dict(zip(names, values, strict=True)))


def fault_strategy(
    sites: Sequence[CallSite],
    kinds: dict[str, list[str]],
    *,
    outages: bool = False,
    worker_root: bool = False,
) -> st.SearchStrategy[Fault] | None:
    """Single faults at ``sites`` (``None`` when no site allows any selected kind).

    A fault strikes one call (the site's call number) unless ``outages`` is set, when it may
    also strike every call (a permanent outage). The run's root agent is a ``worker`` target
    only with ``worker_root``: a killed or hung root is the whole system down, not a finding
    about how the system copes with a failed worker.
    """
    options = [(site, effects_for(site, kinds)) for site in sites if worker_root or not site.root]
    if not outages:
        # A network fault acts on every connection of the run: only the ones that slow or
        # fragment traffic are transient; down/timeout/reset/limit_data are outages.
        options = [
            (site, [k for k in allowed if site.site != "network" or k in _TRANSIENT_NETWORK])
            for site, allowed in options
        ]

    def calls_for(site: CallSite) -> list[Any]:
        return [site.call, "every"] if outages else [site.call]

    per_site = [
        (site, st.sampled_from(allowed).flatmap(_effect), st.sampled_from(calls_for(site)))
        for site, allowed in options
        if allowed
    ]
    if not per_site:
        return None
    pick = st.sampled_from(range(len(per_site)))

    @st.composite
    def draw_fault(draw: st.DrawFn) -> Fault:
        site, effects, calls = per_site[draw(pick)]
        effect = draw(effects)
        call: Any = "every" if site.site == "network" else draw(calls)
        return Fault(site=site.site, target=site.target, call=call, effect=effect)  # type: ignore[arg-type]

    return draw_fault()


def fault_plans(
    sites: Sequence[CallSite],
    *,
    kinds: Sequence[str] = (),
    max_faults: int = 3,
    outages: bool = False,
    worker_root: bool = False,
    restartable: bool = False,
) -> st.SearchStrategy[FaultPlan] | None:
    """Fault plans of 1..``max_faults`` faults over ``sites``, each fault at a different site.

    By default every fault strikes exactly one call, so a plan means "at most ``max_faults``
    calls fail", and the run's root agent is never killed or hung.

    Args:
        sites: Call sites from :func:`call_sites` (a baseline run).
        kinds: The fault kinds to draw (``"tool"``, ``"llm.rate_limit"``, ...); empty: all.
        max_faults: The largest plan (without ``outages``: the most failing calls).
        outages: Also draw permanent outages (``call="every"``).
        worker_root: Also draw the root agent as a ``worker`` target.
        restartable: The system declares how it restarts (``resume=``): also draw the
            crash-restart kill points.

    Returns:
        The strategy, or ``None`` when no site admits any of ``kinds`` (nothing to explore).
    """
    if not isinstance(max_faults, int) or max_faults < 1:
        raise ConfigError(f"max_faults={max_faults!r} must be an int of at least 1.")
    chosen = parse_kinds(kinds, restartable=restartable)
    single = fault_strategy(sites, chosen, outages=outages, worker_root=worker_root)
    if single is None:
        return None
    plans = st.lists(single, min_size=1, max_size=max_faults, unique_by=_selection)
    return plans.map(_plan)


def _selection(fault: Fault) -> tuple[Any, ...]:
    # Two faults selecting the same call would shadow each other: keep one per selection.
    return (fault.site, fault.target, str(fault.call), fault.effect.acts_on)


def _plan(faults: list[Fault]) -> FaultPlan:
    return FaultPlan(faults=tuple(faults))
