"""Phantom completion: an agent reported success, but its declared postcondition does not hold.

Rule (also in docs/checkers.md): a ``postcondition`` event with ``holds=False``
(``harness.postcondition``, or a disagreement found by ``harness.redundant``) is a
phantom completion when

- the agent it belongs to reported success: the agent scope it was evaluated in ended
  ``ok`` (or, for a postcondition attributed to another agent with ``agent=``, that
  agent's latest run before it ended ``ok``; at top level, the run itself);
- nothing took it back: no later postcondition of the same name and agent held (a
  retry that passed), the run ended ``ok``, and the final output does not admit a
  failure.

``holds=None`` (not evaluated, or a judge could not decide) is never a violation.
"""

from __future__ import annotations

from typing import Any

from harness._checkers._common import admits_failure, brief, describe, events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import AgentEnd, AgentStart, Postcondition
from harness._log._runlog import RunLog

__all__ = ["phantom_completion"]


@checker("phantom_completion")
def phantom_completion(log: RunLog, /, **context: Any) -> list[Violation]:
    """An agent reported success but its declared postcondition (a predicate or a rubric) failed."""
    end = run_end(log)
    if end is None or end.status != "ok":
        return []
    failed: list[Postcondition] = []
    last_held: dict[tuple[str, str | None], int] = {}
    scope_name: dict[str, str] = {}
    scope_end: dict[str, AgentEnd] = {}
    latest_end: dict[str, AgentEnd] = {}  # agent name -> its latest end so far
    reported: dict[int, AgentEnd | None] = {}  # postcondition seq -> the end of the agent it judges
    for event in events(log, "agent_start", "agent_end", "postcondition"):
        if event.seq > end.seq:
            break
        if isinstance(event, AgentStart):
            scope_name[event.step_id] = event.name
        elif isinstance(event, AgentEnd):
            scope_end[event.step_id] = event
            latest_end[event.name] = event
        elif isinstance(event, Postcondition):
            if event.holds is True:
                last_held[(event.name, event.agent)] = event.seq
            elif event.holds is False:
                failed.append(event)
                scope = event.parent_step_id
                if scope is not None and scope_name.get(scope) != event.agent:
                    # Attributed to an agent that already finished: judge its latest report.
                    reported[event.seq] = latest_end.get(event.agent or "")
    if not failed or admits_failure(log, end, tuple(p.agent or p.name for p in failed), context):
        return []
    found: list[Violation] = []
    for post in failed:
        if last_held.get((post.name, post.agent), -1) > post.seq:
            continue
        if post.seq in reported:
            report = reported[post.seq]
        elif post.parent_step_id is not None:
            report = scope_end.get(post.parent_step_id)
        else:
            report = None
        if post.parent_step_id is not None and (report is None or report.status != "ok"):
            continue  # the agent did not report success (it failed, or never ended)
        detail = f" ({brief(post.detail, 100)})" if post.detail else ""
        who = f"agent {post.agent}" if post.agent else "the run"
        claim = f"{step(report)} reported success" if report is not None else "the run reported success"
        found.append(
            Violation(
                checker="phantom_completion",
                severity="major",
                steps=sorted({post.seq, *([report.seq] if report is not None else []), end.seq}),
                message=(
                    f"Let {step(post)} find that {who}'s postcondition {post.name!r} does not hold{detail}; "
                    f"yet {claim}, no later check of {post.name!r} held, and the run ended ok at step "
                    f"{end.seq} ({describe(end)}) without admitting it. So {who} completed in name only."
                ),
                why=(
                    "A plausible but wrong result reported as done is worse than a failure: nothing retries "
                    "it and the caller builds on it. Verify each agent's result against its postcondition "
                    "(or a vote of k independent runs) and retry or report failure when it does not hold."
                ),
            )
        )
    return found
