"""Unhandled tool failure: a failed tool call that nobody retried, escalated or dead-lettered.

Rule (also in docs/checkers.md): in a run that ended ``ok``, a ``tool_call`` that
failed (``error``, ``timeout``, ``lost_ack``, ``cancelled``, ``killed``) before
``run_end`` is *handled* when any of these holds:

- a retry: another call of the same tool with the same arguments and a higher attempt
  number, or any call of the same tool with the same arguments that ended ``ok``
  (a hedged duplicate won);
- a ``dead_letter`` for it: ``for_step`` is the call's step, or a later dead letter of
  the same tool whose ``args`` are empty or equal to the call's;
- an ``escalation`` for it: ``for_step`` is the call's step, or a later escalation
  without ``for_step`` from the same agent scope or one enclosing it;
- it propagated: the agent scope it ran in ended with a failure (the
  ``silent_partial_failure`` checker judges that);
- the final output admits a failure (a ``partial``/``errors``/``missing`` field or a
  failure status; see ``surfaces_failure``).

Anything else was swallowed.
"""

from __future__ import annotations

import json
from typing import Any, cast

from harness._checkers._common import admits_failure, brief, describe, events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import AgentEnd, AgentStart, DeadLetter, Escalation, ToolCall
from harness._log._runlog import RunLog

__all__ = ["unhandled_tool_failure"]

_FAILED = frozenset({"error", "timeout", "lost_ack", "cancelled", "killed"})


def _scopes(inner: str | None, parents: dict[str, str | None]) -> list[str | None]:
    """Agent scope ``inner``, its enclosing scopes, and the top level (``None``)."""
    chain: list[str | None] = []
    while inner is not None and len(chain) < 64:
        chain.append(inner)
        inner = parents.get(inner)
    chain.append(None)
    return chain


def _canon(args: dict[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, default=str)


@checker("unhandled_tool_failure", default=False)
def unhandled_tool_failure(log: RunLog, /, **context: Any) -> list[Violation]:
    """A failed tool call was neither retried, escalated nor dead-lettered."""
    end = run_end(log)
    if end is None or end.status != "ok":
        return []
    calls = [c for c in cast(list[ToolCall], events(log, "tool_call")) if c.seq < end.seq]
    failures = [c for c in calls if c.status in _FAILED]
    if not failures:
        return []
    failed_keys = {(f.name, f.args_digest) for f in failures}
    max_attempt: dict[tuple[str, str], int] = {}
    succeeded: set[tuple[str, str]] = set()
    for call in calls:
        key = (call.name, call.args_digest)
        if key in failed_keys:
            max_attempt[key] = max(max_attempt.get(key, 0), call.attempt)
            if call.status == "ok":
                succeeded.add(key)
    parents: dict[str, str | None] = {}
    scope_end: dict[str, AgentEnd] = {}
    letters: list[DeadLetter] = []
    escalations: list[Escalation] = []
    for event in events(log, "agent_start", "agent_end", "dead_letter", "escalation"):
        if event.seq > end.seq:
            break
        if isinstance(event, AgentStart):
            parents[event.step_id] = event.parent_step_id
        elif isinstance(event, AgentEnd):
            scope_end[event.step_id] = event
        elif isinstance(event, DeadLetter):
            letters.append(event)
        elif isinstance(event, Escalation):
            escalations.append(event)
    letter_steps = {d.for_step for d in letters if d.for_step}
    escalation_steps = {e.for_step for e in escalations if e.for_step}
    # Latest dead letter without for_step, per (tool, args) and per tool with empty args.
    latest_letter: dict[tuple[str, str | None], int] = {}
    for letter in letters:
        if letter.for_step is None:
            latest_letter[(letter.tool, _canon(letter.args) if letter.args else None)] = letter.seq
    # Latest escalation without for_step, per agent scope (None: top level).
    latest_escalation: dict[str | None, int] = {}
    for escalation in escalations:
        if escalation.for_step is None:
            latest_escalation[escalation.parent_step_id] = escalation.seq
    unhandled: list[ToolCall] = []
    for failure in failures:
        key = (failure.name, failure.args_digest)
        if max_attempt[key] > failure.attempt or key in succeeded:
            continue
        if failure.step_id in letter_steps or failure.step_id in escalation_steps:
            continue
        latest = max(
            latest_letter.get((failure.name, None), -1),
            latest_letter.get((failure.name, _canon(failure.args)), -1),
        )
        if latest > failure.seq:
            continue
        scopes = _scopes(failure.parent_step_id, parents)
        if any(latest_escalation.get(scope, -1) > failure.seq for scope in scopes):
            continue
        scope = scope_end.get(failure.parent_step_id or "")
        if scope is not None and scope.status != "ok":
            continue
        unhandled.append(failure)
    names = tuple(f.name for f in unhandled)
    if not unhandled or admits_failure(log, end, names, context, escalations=False):
        return []
    found: list[Violation] = []
    for failure in unhandled:
        scope = scope_end.get(failure.parent_step_id or "")
        scope_text = f"{describe(scope)} at step {scope.seq}, and " if scope is not None else ""
        error = ""
        if failure.error:
            error = f" with {failure.error_type or 'an error'}: {brief(failure.error, 80)}"
        found.append(
            Violation(
                checker="unhandled_tool_failure",
                severity="major",
                steps=[failure.seq, *([scope.seq] if scope is not None else []), end.seq],
                message=(
                    f"Let {step(failure)} fail{error}. No retry of {failure.name} with the same arguments "
                    f"followed, nothing was dead-lettered or escalated for it, and the failure did not "
                    f"propagate: {scope_text}the run ended ok at step {end.seq}. "
                    "So the failure was swallowed."
                ),
                why=(
                    "A swallowed tool failure turns into missing or wrong data downstream with no trace of "
                    "why. Retry transient failures with backoff, and record the rest with "
                    "harness.dead_letter(...) or harness.escalate(...) so that someone handles them."
                ),
            )
        )
    return found
