"""Retry amplification: two layers retry the same failing call, so its calls multiply.

Rule (also in docs/checkers.md): group the tool calls made directly in an agent scope by
the call's tool and arguments (one intent). An agent scope *retried* the call when it made
it again after hearing that an earlier one failed (``error``, ``timeout``, ``lost_ack``,
``cancelled``). The layer above *retried the agent* when the same parent scope (or the top
level) ran that agent again, by name, after its previous run ended, for the same intent.
When at least two runs of the agent, one after the other under one parent, each retried
the call, both layers retried: a violation (major) when the intent's calls across those
runs number more than ``retry_budget`` (default 3), naming the layers, the runs of the
agent and the calls.

Handled: retrying at one layer only (the tool inside the agent, or the agent around a tool
it calls once), a retry whose second call succeeded, and concurrent copies of an agent (a
hedge, not a retry). Opt-in (see docs/checkers.md): it judges load, not the answer.

Context: ``retry_budget`` (the most calls of one intent accepted across the layers,
default 3).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from harness._checkers._common import brief, events, run_end
from harness._checkers._registry import Violation, checker
from harness._log._events import AgentEnd, AgentStart, ToolCall
from harness._log._runlog import RunLog

__all__ = ["RETRY_BUDGET", "retry_amplification"]

RETRY_BUDGET = 3
_FAILED = frozenset({"error", "timeout", "lost_ack", "cancelled"})


def _retried(calls: list[ToolCall]) -> bool:
    """Whether a call in ``calls`` (seq order) was made after an earlier one had failed."""
    first_failure: int | None = None
    for call in calls:
        if first_failure is not None:
            began = call.began_at if call.began_at is not None else call.seq  # old log: end order
            if began > first_failure:
                return True
        if call.status in _FAILED and first_failure is None:
            first_failure = call.seq
    return False


@checker("retry_amplification", default=False)
def retry_amplification(log: RunLog, /, **context: Any) -> list[Violation]:
    """An agent was retried around a sub-agent that retried a failing tool: the calls multiplied."""
    budget = context.get("retry_budget", RETRY_BUDGET)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        from harness._errors import ConfigError

        raise ConfigError(f"retry_budget={budget!r}: must be an int >= 1 (default {RETRY_BUDGET}).")
    end = run_end(log)
    limit = end.seq if end is not None else len(log)
    starts: dict[str, AgentStart] = {}
    ends: dict[str, AgentEnd] = {}
    for event in events(log, "agent_start", "agent_end"):
        if isinstance(event, AgentStart):
            starts[event.step_id] = event
        elif isinstance(event, AgentEnd):
            ends[event.step_id] = event
    # (parent scope, agent name, tool, args digest) -> agent run step id -> its calls
    groups: dict[tuple[str | None, str, str, str], dict[str, list[ToolCall]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for call in cast(list[ToolCall], events(log, "tool_call")):
        scope = starts.get(call.parent_step_id or "")
        if call.seq >= limit or scope is None:
            continue
        groups[(scope.parent_step_id, scope.name, call.name, call.args_digest)][scope.step_id].append(call)
    found: list[Violation] = []
    for (parent_id, agent_name, tool_name, _), runs in groups.items():
        retried = sorted((starts[s] for s, calls in runs.items() if _retried(calls)), key=lambda a: a.seq)
        chain: list[AgentStart] = []
        for run in retried:  # one after the other: a concurrent copy is a hedge, not a retry
            previous = ends.get(chain[-1].step_id) if chain else None
            if not chain or (previous is not None and previous.seq < run.seq):
                chain.append(run)
        if len(chain) < 2:
            continue
        calls = [c for run in chain for c in runs[run.step_id]]
        if len(calls) <= budget:
            continue
        parent = starts.get(parent_id or "")
        outer = f"agent {parent.name}" if parent is not None else "the top level"
        counts = [len(runs[run.step_id]) for run in chain]
        sample = calls[0]
        runs_text = ", ".join(f"step {run.seq}" for run in chain)
        calls_text = ", ".join(str(c.seq) for c in calls[:12]) + (", ..." if len(calls) > 12 else "")
        found.append(
            Violation(
                checker="retry_amplification",
                severity="major",
                steps=sorted({*(run.seq for run in chain), *(c.seq for c in calls)}),
                message=(
                    f"Let {outer} run agent {agent_name} {len(chain)} times, each after the previous one "
                    f"ended ({runs_text}: agent_start {agent_name}), and let each run of {agent_name} retry "
                    f"tool {tool_name}({brief(sample.args, 50)}) after it failed "
                    f"({' + '.join(map(str, counts))} calls: steps {calls_text}). So the layers {outer} -> "
                    f"agent {agent_name} -> tool {tool_name} both retried one request, and the failing "
                    f"dependency got {len(calls)} calls for it, over the budget of {budget}."
                ),
                why=(
                    "Retries at two layers multiply: 3 retries around 3 retries is 9 calls to a dependency "
                    "that is already failing, which turns a brief outage into a retry storm that keeps it "
                    "down. Retry at one layer only (usually the one closest to the call, with backoff), and "
                    "have the other layers fail fast or report degraded."
                ),
            )
        )
    return found
