"""What every checker needs: naming steps the way an explanation reads, and finding the run's end.

Checkers explain a violation in the style of Jepsen's Elle: "Let step 12 (tool_call
send_email, agent notifier, attempt 1) ... then step 19 ..., so ...". :func:`describe`
renders the parenthesised part for any event, so that every checker names steps the
same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from harness._events import AnyEvent, RunEnd
from harness._runlog import RunLog

__all__ = [
    "FAILURE_WORDS",
    "MARKER_KEYS",
    "brief",
    "describe",
    "run_end",
    "step",
    "surfaces_failure",
]

# Output fields that, when truthy, say "this result is not the whole story".
MARKER_KEYS = frozenset(
    {
        "partial",
        "is_partial",
        "incomplete",
        "degraded",
        "errors",
        "error",
        "failures",
        "failed",
        "missing",
        "unavailable",
        "warnings",
        "skipped",
        "timed_out",
        "dead_letters",
        "escalated",
    }
)
# ``status``/``outcome`` values that admit a failure.
FAILURE_STATUSES = frozenset(
    {"partial", "degraded", "incomplete", "failed", "failure", "error", "aborted", "cancelled", "canceled",
     "rolled_back", "timeout", "timed_out"}
)
# Words that admit a failure in a free-text output.
FAILURE_WORDS = re.compile(
    r"\b(partial|partially|incomplete|unavailable|failed|failure|timed out|timeout|missing|degraded|"
    r"could not|couldn't|unable to)\b",
    re.IGNORECASE,
)
_MAX_DEPTH = 4


def brief(value: Any, limit: int = 60) -> str:
    """A one-line JSON rendering of ``value``, cut at ``limit`` characters."""
    try:
        text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: AnyEvent) -> str:
    """What an event is, as the parenthesised part of "step 12 (...)"."""
    who = f", agent {event.agent}" if event.agent else ""
    kind = event.kind
    if kind == "tool_call":
        key = f", idempotency key {event.idempotency_key!r}" if event.idempotency_key else ""
        token = f", fencing token {event.fencing_token}" if event.fencing_token is not None else ""
        replay = ", replayed" if event.replayed else ""
        return (
            f"tool_call {event.name}({brief(event.args, 50)}){who}, attempt {event.attempt}, "
            f"status {event.status}{key}{token}{replay}"
        )
    if kind == "agent_start":
        return f"agent_start {event.name}" + (f", spawned by {event.spawned_by}" if event.spawned_by else "")
    if kind == "agent_end":
        error = f": {event.error_type or 'error'}" if event.status != "ok" and event.error_type else ""
        return f"agent_end {event.name}, status {event.status}{error}"
    if kind == "llm_call":
        return f"llm_call {event.model or event.path}{who}"
    if kind == "handoff":
        return f"handoff {event.source or event.agent or '?'} -> {event.target}"
    if kind == "state_read":
        return f"state_read {event.store}/{event.key} at version {event.version}{who}"
    if kind == "state_write":
        base = f", based on version {event.based_on_version}" if event.based_on_version is not None else ""
        exp = f", expecting version {event.expected_version}" if event.expected_version is not None else ""
        token = f", fencing token {event.fencing_token}" if event.fencing_token is not None else ""
        result = f"accepted as version {event.new_version}" if event.accepted else "rejected"
        return (
            f"state_write {event.op} {event.store}/{event.key}{who}{base}{exp}{token}, "
            f"current version {event.current_version}, {result}"
        )
    if kind == "wait":
        target = f" for {event.waits_for}" if event.waits_for else ""
        outcome = f", outcome {event.outcome}" if event.outcome else ""
        return f"wait {event.phase}: {event.waiter or event.agent or '?'} waits{target} on {event.resource}{outcome}"
    if kind == "spawn":
        return f"spawn {event.task}" + (f" ({event.target})" if event.target else "") + who
    if kind == "join":
        return f"join {event.task}, outcome {event.outcome}{who}"
    if kind == "compensation":
        return f"compensation {event.tool} for {event.for_tool}, status {event.status}{who}"
    if kind == "dead_letter":
        return f"dead_letter {event.tool}{who}"
    if kind == "escalation":
        return f"escalation {brief(event.reason, 40)}{who}"
    if kind == "postcondition":
        return f"postcondition {event.name}{who}, holds {event.holds}"
    if kind == "constraint":
        return f"constraint {event.name} = {brief(event.value, 40)}"
    if kind == "run_end":
        error = f": {event.error_type}" if event.error_type else ""
        return f"run_end, status {event.status}{error}"
    if kind == "run_start":
        return f"run_start {event.entry}"
    return f"{kind}{who}"


def step(event: AnyEvent) -> str:
    """``step 12 (tool_call send_email(...), agent notifier, attempt 1, status ok)``."""
    return f"step {event.seq} ({describe(event)})"


def run_end(log: RunLog) -> RunEnd | None:
    """The run's ``run_end`` event (the last one, searched from the end), or ``None``."""
    for index in range(len(log) - 1, -1, -1):
        event = log[index]
        if isinstance(event, RunEnd):
            return event
    return None


def _walk(value: Any, depth: int = 0) -> Iterator[tuple[str | None, Any]]:
    """(key, value) pairs of every mapping entry and list item, down to a bounded depth."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key), item
            yield from _walk(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield None, item
            yield from _walk(item, depth + 1)


def surfaces_failure(output: Any, names: tuple[str, ...] = ()) -> bool:
    """Whether a final output admits that part of the work failed.

    Structured outputs (mappings, lists) admit it with a truthy marker field
    (:data:`MARKER_KEYS`: ``partial``, ``errors``, ``missing``, ``degraded``, ...) or a
    ``status``/``outcome`` field whose value is a failure word (``partial``,
    ``failed``, ...), at any depth up to four. A free-text output admits it by naming
    one of ``names`` (the failed agents or tools) or using a failure word
    (:data:`FAILURE_WORDS`: "partial", "unavailable", "timed out", ...).
    """
    if output is None:
        return False
    if isinstance(output, str):
        if FAILURE_WORDS.search(output):
            return True
        lowered = output.lower()
        return any(name and name.lower() in lowered for name in names)
    for key, value in _walk(output):
        if key is None:
            continue
        lowered_key = key.lower()
        if lowered_key in MARKER_KEYS and value not in (None, False, 0, "", [], {}):
            return True
        if lowered_key in ("status", "outcome", "state") and isinstance(value, str):
            if value.lower() in FAILURE_STATUSES:
                return True
    return False
