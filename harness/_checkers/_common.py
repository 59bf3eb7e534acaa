"""What every checker needs: naming steps the way an explanation reads, and finding the run's end.

Checkers explain a violation in the style of Jepsen's Elle: "Let step 12 (tool_call
send_email, agent notifier, attempt 1) ... then step 19 ..., so ...". :func:`describe`
renders the parenthesised part for any event, so that every checker names steps the
same way.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from harness._log._events import (
    AgentEnd,
    AgentStart,
    AnyEvent,
    BudgetUse,
    Compensation,
    Constraint,
    DeadLetter,
    Escalation,
    Handoff,
    Join,
    LLMCall,
    Postcondition,
    RunEnd,
    RunStart,
    Spawn,
    StateRead,
    StateWrite,
    ToolCall,
    Wait,
)
from harness._log._runlog import RunLog

__all__ = [
    "FAILURE_STATUS_WORDS",
    "FAILURE_WORDS",
    "MARKER_KEYS",
    "admits_failure",
    "brief",
    "describe",
    "events",
    "leaves",
    "run_end",
    "status_admits_failure",
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
# ``status``/``outcome`` values that admit a failure: a value admits it when one of its words
# (split on ``_``, ``-``, spaces and case changes) is one of these, so ``needs_review``,
# ``payment_pending``, ``rolled_back`` and ``partial_result`` all do, and ``paid`` or ``done`` do not.
FAILURE_STATUS_WORDS = frozenset(
    {
        "partial",
        "degraded",
        "incomplete",
        "failed",
        "failure",
        "fail",
        "error",
        "errored",
        "aborted",
        "cancelled",
        "canceled",
        "rolled",
        "rollback",
        "timeout",
        "timed",
        "pending",
        "review",
        "escalated",
        "unavailable",
        "deferred",
        "retry",
        "retrying",
        "manual",
        "fallback",
        "stale",
        "skipped",
        "rejected",
        "refused",
        "blocked",
        "unknown",
        "undetermined",
        "parked",
        "queued",
        "compensated",
    }
)
FAILURE_STATUSES = FAILURE_STATUS_WORDS  # kept for callers of the old name
# Provenance fields (``source``, ``origin``, ...) admit a degraded result when they say the
# value did not come live: ``{"price": 9.99, "source": "cache"}`` is a disclosed fallback.
_PROVENANCE_FIELDS = ("source", "origin", "provenance", "data_source", "served_from")
PROVENANCE_WORDS = frozenset(
    {
        "cache",
        "cached",
        "fallback",
        "default",
        "defaults",
        "stale",
        "estimate",
        "estimated",
        "offline",
        "backup",
        "snapshot",
        "placeholder",
        "degraded",
    }
)
_STATUS_FIELDS = ("status", "outcome", "state", "result_status")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")


def status_admits_failure(value: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a status value admits trouble: a failure word in it, or a value the project declared."""
    if value.lower() in extra:
        return True
    words = {w.lower() for w in _WORD_SPLIT.split(value) if w}
    return not words.isdisjoint(FAILURE_STATUS_WORDS)


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
    e = event
    if isinstance(e, ToolCall):
        key = f", idempotency key {e.idempotency_key!r}" if e.idempotency_key else ""
        token = f", fencing token {e.fencing_token}" if e.fencing_token is not None else ""
        replay = ", replayed" if e.replayed else ""
        return (
            f"tool_call {e.name}({brief(e.args, 50)}){who}, attempt {e.attempt}, "
            f"status {e.status}{key}{token}{replay}"
        )
    if isinstance(e, AgentStart):
        return f"agent_start {e.name}" + (f", spawned by {e.spawned_by}" if e.spawned_by else "")
    if isinstance(e, AgentEnd):
        error = f": {e.error_type}" if e.status != "ok" and e.error_type else ""
        return f"agent_end {e.name}, status {e.status}{error}"
    if isinstance(e, LLMCall):
        return f"llm_call {e.model or e.path}{who}"
    if isinstance(e, Handoff):
        return f"handoff {e.source or e.agent or '?'} -> {e.target}"
    if isinstance(e, StateRead):
        return f"state_read {e.store}/{e.key} at version {e.version}{who}"
    if isinstance(e, StateWrite):
        base = f", based on version {e.based_on_version}" if e.based_on_version is not None else ""
        exp = f", expecting version {e.expected_version}" if e.expected_version is not None else ""
        token = f", fencing token {e.fencing_token}" if e.fencing_token is not None else ""
        result = f"accepted as version {e.new_version}" if e.accepted else "rejected"
        return (
            f"state_write {e.op} {e.store}/{e.key}{who}{base}{exp}{token}, "
            f"current version {e.current_version}, {result}"
        )
    if isinstance(e, Wait):
        target = f" for {e.waits_for}" if e.waits_for else ""
        outcome = f", outcome {e.outcome}" if e.outcome else ""
        waiter = e.waiter or e.agent or "?"
        return f"wait {e.phase}: {waiter} waits{target} on {e.resource}{outcome}"
    if isinstance(e, Spawn):
        return f"spawn {e.task}{who}"
    if isinstance(e, Join):
        return f"join {e.task}, outcome {e.outcome}{who}"
    if isinstance(e, Compensation):
        return f"compensation {e.tool} for {e.for_tool}, status {e.status}{who}"
    if isinstance(e, DeadLetter):
        return f"dead_letter {e.tool}{who}"
    if isinstance(e, Escalation):
        return f"escalation {brief(e.reason, 40)}{who}"
    if isinstance(e, Postcondition):
        return f"postcondition {e.name}{who}, holds {e.holds}"
    if isinstance(e, Constraint):
        return f"constraint {e.name} = {brief(e.value, 40)}"
    if isinstance(e, RunEnd):
        error = f": {e.error_type}" if e.error_type else ""
        return f"run_end, status {e.status}{error}"
    if isinstance(e, RunStart):
        return f"run_start {e.entry}"
    if isinstance(e, BudgetUse):
        return (
            f"budget {e.op} {e.budget} {e.amount:g}, branch {e.branch}, holding {e.held:g}, "
            f"in use {e.in_use:g} of {e.capacity:g}"
        )
    return f"{e.kind}{who}"


def step(event: AnyEvent) -> str:
    """``step 12 (tool_call send_email(...), agent notifier, attempt 1, status ok)``."""
    return f"step {event.seq} ({describe(event)})"


class _Index:
    """The events of one log bucketed by kind, so that each checker reads only the kinds it needs."""

    __slots__ = ("buckets", "length", "log", "merged")

    def __init__(self, log: RunLog) -> None:
        self.log = log
        self.length = len(log)
        buckets: dict[str, list[AnyEvent]] = {}
        for event in log:
            bucket = buckets.get(event.kind)
            if bucket is None:
                buckets[event.kind] = [event]
            else:
                bucket.append(event)
        self.buckets = buckets
        self.merged: dict[tuple[str, ...], list[AnyEvent]] = {}


_LAST: list[_Index] = []  # the index of the log checked last (run_checks calls every checker on one log)


def events(log: RunLog, *kinds: str) -> list[AnyEvent]:
    """The events of ``log`` whose kind is one of ``kinds``, in order (shared, do not modify).

    The log is bucketed by kind once and the buckets are reused by every checker that
    runs on the same log (a run log is append-only, so its length identifies its content).
    """
    index = _LAST[0] if _LAST else None
    if index is None or index.log is not log or index.length != len(log):
        index = _Index(log)
        _LAST[:] = [index]
    if len(kinds) == 1:
        return index.buckets.get(kinds[0], [])
    key = tuple(sorted(kinds))
    merged = index.merged.get(key)
    if merged is None:
        parts = [index.buckets[k] for k in key if k in index.buckets]
        merged = parts[0] if len(parts) == 1 else list(heapq.merge(*parts, key=_seq))
        index.merged[key] = merged
    return merged


def _seq(event: AnyEvent) -> int:
    return event.seq


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


def surfaces_failure(
    output: Any, names: tuple[str, ...] = (), extra_statuses: frozenset[str] = frozenset()
) -> bool:
    """Whether a final output admits that part of the work failed.

    Structured outputs (mappings, lists) admit it with a truthy marker field
    (:data:`MARKER_KEYS`: ``partial``, ``errors``, ``missing``, ``degraded``, ...) or a
    ``status``/``outcome``/``state`` field whose value admits trouble
    (:func:`status_admits_failure`: ``partial``, ``needs_review``, ``payment_pending``, ...,
    or a value in ``extra_statuses``), or a provenance field (``source``, ``origin``) saying
    the value is a fallback (``cache``, ``default``, ``stale``, ...), at any depth up to four.
    A free-text output admits it by naming one of ``names`` (the failed agents or tools) or
    using a failure word
    (:data:`FAILURE_WORDS`: "partial", "unavailable", "timed out", ...).
    """
    if output is None:
        return False
    if isinstance(output, str):
        if FAILURE_WORDS.search(output) or output.strip().lower() in extra_statuses:
            return True
        lowered = output.lower()
        return any(name and name.lower() in lowered for name in names)
    for key, value in _walk(output):
        if key is None:
            continue
        lowered_key = key.lower()
        if lowered_key in MARKER_KEYS and value not in (None, False, 0, "", [], {}):
            return True
        is_status = lowered_key in _STATUS_FIELDS and isinstance(value, str)
        if is_status and status_admits_failure(value, extra_statuses):
            return True
        if lowered_key in _PROVENANCE_FIELDS and isinstance(value, str):
            words = {w.lower() for w in _WORD_SPLIT.split(value) if w}
            if not words.isdisjoint(PROVENANCE_WORDS):
                return True
    return False


def admits_failure(
    log: RunLog, end: RunEnd, names: tuple[str, ...], context: Mapping[str, Any], *, escalations: bool = True
) -> bool:
    """Whether the run owned up to a failure: the honest degradation every checker accepts.

    A run admits a failure when any of these holds (docs/checkers.md, "What counts as handled"):

    - it did not end ``ok``;
    - its final output surfaces it (:func:`surfaces_failure`, with the statuses the project
      declared as admitting trouble: ``degraded=`` on the marker, ``chaos_degraded`` in the
      ini, or a profile);
    - the project's own predicate says the output is degraded (``degraded=callable``);
    - it escalated to a human or a supervisor (``harness.escalate``) or dead-lettered work
      (``harness.dead_letter``) before it ended (unless ``escalations=False``: a checker
      with its own rule for which escalation covers which failure).
    """
    if end.status != "ok":
        return True
    declared = context.get("degraded")
    extra: frozenset[str] = frozenset()
    if callable(declared):
        try:
            if declared(end.output):
                return True
        except Exception:  # a predicate that cannot judge this output has no opinion
            pass
    elif declared:
        extra = frozenset(str(v).lower() for v in declared)
    if surfaces_failure(end.output, names, extra):
        return True
    return escalations and any(event.seq < end.seq for event in events(log, "escalation", "dead_letter"))


def leaves(value: Any, out: set[str] | None = None, depth: int = 0) -> set[str]:
    """The scalar values inside ``value`` (nested up to 3 levels) as strings: what identifies the
    thing a call acted on (an order id, a charge id) whichever field holds it."""
    out = set() if out is None else out
    if depth > 3:
        return out
    if isinstance(value, Mapping):
        for item in value.values():
            leaves(item, out, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            leaves(item, out, depth + 1)
    elif value is not None and not isinstance(value, bool):
        out.add(str(value))
    return out
