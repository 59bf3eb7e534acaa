"""Orphaned work: agents and tasks still running, or never joined, when the run finished.

Rule (also in docs/checkers.md): an ``agent_start`` whose ``agent_end`` is missing or
comes after ``run_end`` (the runner cancels tasks left running when the entry point
returns, so their agents end ``cancelled`` after ``run_end``), and a ``spawn`` with no
``join`` of the same task before ``run_end``, are orphaned work. Work of an incarnation
that crash-stopped (a ``restart`` followed) died with its process: it is not orphaned.
"""

from __future__ import annotations

from typing import Any

from harness._checkers._common import describe, events, step
from harness._checkers._registry import Violation, checker
from harness._log._events import AgentEnd, AgentStart, Join, RunEnd, Spawn
from harness._log._runlog import RunLog

__all__ = ["orphaned_work"]

_WHY = (
    "Work nobody waits for still spends tokens and may still act (send, charge, write) after the caller "
    "has its answer, or is silently lost when the process exits. Join or cancel every task you start, "
    "inside the scope that started it (asyncio.TaskGroup), before returning."
)


@checker("orphaned_work")
def orphaned_work(log: RunLog, /, **context: Any) -> list[Violation]:
    """A spawned agent or task was still running, or never joined, when the run finished."""
    running: dict[int, AgentStart] = {}
    spawned: dict[str, list[Spawn]] = {}
    end: RunEnd | None = None
    late_ends: dict[int, AgentEnd] = {}
    crashed = {getattr(r, "crashed", -1) for r in events(log, "restart")}
    for event in events(log, "agent_start", "agent_end", "spawn", "join", "run_end"):
        if crashed and event.incarnation in crashed and not isinstance(event, RunEnd):
            continue
        if isinstance(event, RunEnd):
            end = end or event
        elif end is None:
            if isinstance(event, AgentStart):
                running[event.seq] = event
            elif isinstance(event, AgentEnd):
                running.pop(event.start_seq, None)
            elif isinstance(event, Spawn):
                spawned.setdefault(event.task, []).append(event)
            elif isinstance(event, Join):
                tasks = spawned.get(event.task)
                if tasks:
                    tasks.pop(0)
        elif isinstance(event, AgentEnd) and event.start_seq in running:
            late_ends[event.start_seq] = event
    if end is None:
        return []
    found: list[Violation] = []
    for start in running.values():
        late = late_ends.get(start.seq)
        if late is not None:
            fate = (
                f"it ended only at step {late.seq} ({describe(late)}), after the run, when the runner "
                "cancelled what was left"
            )
            steps = [start.seq, end.seq, late.seq]
        else:
            fate = "it never ended"
            steps = [start.seq, end.seq]
        found.append(
            Violation(
                checker="orphaned_work",
                severity="major",
                steps=steps,
                message=(
                    f"Let {step(start)} begin work. The run ended at step {end.seq} ({describe(end)}) while "
                    f"{start.name} was still running; {fate}. So {start.name}'s work was orphaned."
                ),
                why=_WHY,
            )
        )
    for tasks in spawned.values():
        for spawn in tasks:
            found.append(
                Violation(
                    checker="orphaned_work",
                    severity="major",
                    steps=[spawn.seq, end.seq],
                    message=(
                        f"Let {step(spawn)} start a task; no join of {spawn.task} followed before the run "
                        f"ended at step {end.seq} ({describe(end)}). "
                        "So the task was never awaited or cancelled."
                    ),
                    why=_WHY,
                )
            )
    found.sort(key=lambda v: v.steps[0])
    return found
