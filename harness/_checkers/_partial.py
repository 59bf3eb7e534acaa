"""Silent partial failure: part of the work failed, and the final answer does not say so.

Rule (also in docs/checkers.md): a *part failed* when, before the run ended, an agent
ended ``error``, ``timeout``, ``killed`` or ``cancelled``, or a spawned task was joined
with outcome ``error`` or ``timeout``. The failure is *recovered* when a later instance
of the same agent (started after the failure) ended ``ok``, or the same task was later
joined ``ok`` (a retry); a *cancelled* agent is also recovered when another instance of
the same agent ended ``ok`` at any time (the loser of a hedged request). It is
*surfaced* when the run did not end ``ok`` or the final output admits it (see
:func:`harness._checkers._common.surfaces_failure`). A part that failed, was not
recovered and was not surfaced is a violation.
"""

from __future__ import annotations

from typing import Any

from harness._checkers._common import admits_failure, brief, describe, events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import AgentEnd, AgentStart, Join
from harness._log._runlog import RunLog

__all__ = ["silent_partial_failure"]

_FAILED = frozenset({"error", "timeout", "killed", "cancelled"})


@checker("silent_partial_failure")
def silent_partial_failure(log: RunLog, /, **context: Any) -> list[Violation]:
    """A sub-agent failed, timed out or was killed and the final output or status does not surface it."""
    end = run_end(log)
    if end is None or end.status != "ok":
        return []
    failures: list[AgentEnd | Join] = []
    started: dict[int, AgentStart] = {}
    last_ok_start: dict[str, int] = {}  # agent name -> seq of the latest instance that ended ok
    ended_ok: set[str] = set()
    last_ok_join: dict[str, int] = {}
    for event in events(log, "agent_start", "agent_end", "join"):
        if event.seq > end.seq:
            break
        if isinstance(event, AgentStart):
            started[event.seq] = event
        elif isinstance(event, AgentEnd):
            if event.status in _FAILED:
                failures.append(event)
            elif event.status == "ok":
                last_ok_start[event.name] = max(last_ok_start.get(event.name, -1), event.start_seq)
                ended_ok.add(event.name)
        elif isinstance(event, Join):
            if event.outcome in ("error", "timeout"):
                failures.append(event)
            elif event.outcome == "ok":
                last_ok_join[event.task] = event.seq
    unrecovered: list[AgentEnd | Join] = []
    for failure in failures:
        if isinstance(failure, AgentEnd):
            if last_ok_start.get(failure.name, -1) > failure.seq:
                continue  # retried
            if failure.status == "cancelled" and failure.name in ended_ok:
                continue  # superseded: another instance (a hedge that won) delivered this agent's part
        elif last_ok_join.get(failure.task, -1) > failure.seq:
            continue
        unrecovered.append(failure)
    if not unrecovered:
        return []
    names = tuple(f.name if isinstance(f, AgentEnd) else f.task for f in unrecovered)
    if admits_failure(log, end, names, context):
        return []
    found: list[Violation] = []
    for failure in unrecovered:
        if isinstance(failure, AgentEnd):
            what = failure.name
            begin = started.get(failure.start_seq)
            since = f" (started at step {begin.seq})" if begin is not None else ""
            detail = f": {brief(failure.error, 80)}" if failure.error else ""
            first = f"Let {step(failure)} end agent {what}{since} without its result{detail}"
            retry = f"no later {what} ended ok"
            steps = [failure.start_seq, failure.seq, end.seq]
        else:
            what = failure.task
            first = f"Let {step(failure)} report that task {what} failed"
            retry = f"task {what} was not joined ok afterwards"
            steps = [failure.seq, end.seq]
        found.append(
            Violation(
                checker="silent_partial_failure",
                severity="major",
                steps=steps,
                message=(
                    f"{first}; {retry}. Then the run ended ok at step {end.seq} ({describe(end)}) with the "
                    f"output {brief(end.output, 80)}, which does not surface the failure (no partial/errors/"
                    f"missing/degraded field, no failure status). So the answer silently lacks {what}'s part."
                ),
                why=(
                    "The caller takes a partial answer for a whole one: a report built from two of three "
                    "sources reads as complete. Retry the failed part, or mark the output (partial=True, "
                    "missing=[...]) so that callers can tell."
                ),
            )
        )
    return found
