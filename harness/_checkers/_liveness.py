"""Liveness: wait-for cycles (deadlock) and runs that passed their virtual deadline.

Rule (also in docs/checkers.md): every ``wait`` begin with a ``waiter`` and a
``waits_for`` adds an edge ``waiter -> waits_for`` to the wait-for graph; its ``wait``
end removes it (matched by step id, else by waiter and resource). When an edge closes
a cycle, the cycle is a *deadlock* unless one of its waits ended by itself (outcome
``ok`` or ``timeout``: the participants broke the cycle, e.g. with a timeout); waits
that never ended or ended ``cancelled``/``killed`` (the runner's deadline) do not break
it. Separately, a run whose ``run_end`` has ``error_type="DeadlineExceeded"`` passed its
virtual deadline; the waits still open at that moment are listed.
"""

from __future__ import annotations

from typing import Any

from harness._checkers._common import events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import FaultInjected, Wait
from harness._log._runlog import RunLog

__all__ = ["liveness"]

_SELF_RESOLVED = frozenset({"ok", "timeout"})


def _path(adjacent: dict[str, dict[int, Wait]], start: str, goal: str) -> list[Wait] | None:
    """Open waits leading from ``start`` to ``goal`` (depth-first), or ``None``."""
    stack: list[tuple[str, list[Wait]]] = [(start, [])]
    seen = {start}
    while stack:
        node, trail = stack.pop()
        if node == goal:
            return trail
        for wait in adjacent.get(node, {}).values():
            target = wait.waits_for
            if target is not None and target not in seen:
                seen.add(target)
                stack.append((target, [*trail, wait]))
    return None


@checker("liveness")
def liveness(log: RunLog, /, **context: Any) -> list[Violation]:
    """A cycle in the wait-for graph (channel waits, joins) or the run's virtual deadline passed."""
    adjacent: dict[str, dict[int, Wait]] = {}  # waiter -> {begin seq: open wait}
    open_by_step: dict[str, Wait] = {}
    open_by_key: dict[tuple[str, str], list[Wait]] = {}
    ends: dict[int, Wait] = {}  # begin seq -> its end
    cycles: list[list[Wait]] = []
    seen_cycles: set[frozenset[str]] = set()
    begins: list[Wait] = []
    crashed = {getattr(r, "crashed", -1) for r in events(log, "restart")}
    for event in events(log, "wait"):
        if not isinstance(event, Wait) or event.incarnation in crashed:
            continue  # a crashed incarnation's waits died with its process
        waiter = event.waiter or event.agent or "?"
        if event.phase == "begin":
            begins.append(event)
            open_by_step[event.step_id] = event
            open_by_key.setdefault((waiter, event.resource), []).append(event)
            if event.waits_for is not None:
                back = _path(adjacent, event.waits_for, waiter)
                adjacent.setdefault(waiter, {})[event.seq] = event
                if back is not None:
                    cycle = [event, *back]
                    nodes = frozenset((w.waiter or w.agent or "?") for w in cycle)
                    if nodes not in seen_cycles:
                        seen_cycles.add(nodes)
                        cycles.append(cycle)
            continue
        begin = open_by_step.pop(event.step_id, None)
        stack = open_by_key.get((waiter, event.resource), [])
        if begin is None:
            if not stack:
                continue
            begin = stack.pop()
            open_by_step.pop(begin.step_id, None)
        elif begin in stack:
            stack.remove(begin)
        ends[begin.seq] = event
        adjacent.get(begin.waiter or begin.agent or "?", {}).pop(begin.seq, None)

    found: list[Violation] = []
    end = run_end(log)
    deadline = end is not None and end.error_type == "DeadlineExceeded"
    deadline_text = (
        f" The run then passed its virtual deadline ({end.error}) at step {end.seq}."
        if deadline and end is not None
        else ""
    )
    for cycle in cycles:
        broken = [ends[w.seq] for w in cycle if w.seq in ends and ends[w.seq].outcome in _SELF_RESOLVED]
        if broken:
            continue
        first = min(range(len(cycle)), key=lambda i: cycle[i].seq)
        cycle = cycle[first:] + cycle[:first]  # start the ring at the earliest wait
        names = [w.waiter or w.agent or "?" for w in cycle]
        ring = " -> ".join([*names, names[0]])
        lets = "; then ".join(step(w) for w in sorted(cycle, key=lambda w: w.seq))
        closings = sorted((ends[w.seq] for w in cycle if w.seq in ends), key=lambda e: e.seq)
        how = (
            "the waits ended only when the runner cancelled them ("
            + ", ".join(f"step {e.seq}, outcome {e.outcome}" for e in closings)
            + ")"
            if closings
            else "none of the waits ever ended"
        )
        found.append(
            Violation(
                checker="liveness",
                severity="critical",
                steps=sorted({w.seq for w in cycle} | {e.seq for e in closings}),
                message=(
                    f"Let {lets}. So {ring} is a cycle in the wait-for graph: each waits for the next, and "
                    f"none can go on until another does; {how}.{deadline_text}"
                ),
                why=(
                    "A deadlock hangs the system with no error: the user waits forever. Bound every wait "
                    "with a deadline, acquire in one global order, or break cycles with timeouts."
                ),
            )
        )
    if deadline and not found and end is not None:
        stuck = [b for b in begins if b.seq not in ends or ends[b.seq].t >= end.t]
        if stuck:
            more = f"; and {len(stuck) - 5} more" if len(stuck) > 5 else ""
            listed = "; ".join(step(w) for w in stuck[:5]) + more
            waits = f" Still waiting at that moment: {listed}."
        else:
            waits = " No wait was open at that moment (the run was busy or sleeping)."
        hangs = [
            f
            for f in events(log, "fault_injected")
            if isinstance(f, FaultInjected) and f.site in ("tool", "llm") and f.effect.startswith("hang")
        ]
        no_timeout = ""
        if hangs:
            where = ", ".join(
                f"{'tool' if h.site == 'tool' else 'the LLM calls of'} {h.target or 'an agent'!r} "
                f"(step {h.seq})"
                for h in hangs[:3]
            )
            no_timeout = (
                f" {where} {'has' if len(hangs) == 1 else 'have'} no timeout: a dependency that never "
                "answers hangs the whole run (declare the caller's timeout with @tool(timeout=...), or "
                "put one around the call)."
            )
        found.append(
            Violation(
                checker="liveness",
                severity="critical",
                steps=sorted({w.seq for w in stuck[:5]} | {h.seq for h in hangs[:3]} | {end.seq}),
                message=(
                    f"The run passed its virtual deadline: {step(end)} says {end.error}.{no_timeout}{waits}"
                ),
                why=(
                    "A run that does not finish in time hangs its caller. Put a deadline on every wait and "
                    "every remote call, and let the deadline propagate to sub-agents."
                ),
            )
        )
    return found
