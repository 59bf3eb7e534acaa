"""Missing circuit breaker: a caller that keeps calling a dependency that just failed k times in a row.

Rule (also in docs/checkers.md): the calls one caller (an agent scope; the top level is
a caller too) makes to one tool are read in the order the caller made them. A call
*failed* when it ended ``error``, ``timeout``, ``lost_ack`` or ``cancelled``; an ``ok``
call ends a streak of failures. A call ``c`` is *hammering* when, at the moment the caller
made it, the caller had already heard back from at least ``threshold`` consecutive failed
calls of that tool (no ``ok`` ended in between), the last ``threshold`` of them within
``window`` seconds, and ``c`` was made less than ``backoff`` seconds after the latest of
them ended. Calls still in flight when a failure came back (a fan-out launched at once)
were not made after it, so they never count. One violation per caller and tool (major),
naming the failures and every hammering call.

Handled: a breaker that opens (no further call; the run reports degraded), a half-open
probe after a cool-down of at least ``backoff`` seconds, retries spaced by a backoff, a
bounded retry that gives up, and fewer than ``threshold`` failures in a row.

Opt-in: a system without a breaker can still return a correct answer; the checker judges
the load it puts on a failing dependency, which is a design decision (docs/checkers.md).
A caller is one agent scope (one ``agent()`` instance) or the top level: concurrent copies
of an agent each keep their own count, so one copy's backoff is never judged by another's
failures.

Context (``run_checks(log, ..., breaker_threshold=5)``): ``breaker_threshold`` (k,
default 3), ``breaker_window`` (seconds, default 60), ``breaker_backoff`` (seconds,
default 1.0).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any, cast

from harness._checkers._common import events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import ToolCall
from harness._log._runlog import RunLog

__all__ = ["BREAKER_BACKOFF", "BREAKER_THRESHOLD", "BREAKER_WINDOW", "circuit_breaker"]

BREAKER_THRESHOLD = 3
BREAKER_WINDOW = 60.0
BREAKER_BACKOFF = 1.0
FAILED = frozenset({"error", "timeout", "lost_ack", "cancelled"})


def _number(context: dict[str, Any], key: str, default: float) -> float:
    value = context.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        from harness._errors import ConfigError

        raise ConfigError(f"{key}={value!r}: must be a number >= 0 (default {default:g}).")
    return float(value)


def _start(call: ToolCall) -> float:
    return call.t - call.latency


def _heard(call: ToolCall, seqs: list[int], ends: list[float]) -> int:
    """How many of the caller's calls (in end order) had ended when it made ``call``."""
    if call.began_at is not None:
        return bisect.bisect_left(seqs, call.began_at)
    return bisect.bisect_left(ends, _start(call))  # an old log: only a strictly earlier end is certain


def _ms(seconds: float) -> str:
    return f"{seconds:g}s"


@checker("circuit_breaker", default=False)
def circuit_breaker(log: RunLog, /, **context: Any) -> list[Violation]:
    """A caller kept calling a tool right after it failed k times in a row (no backoff, no open breaker)."""
    threshold = max(1, int(_number(context, "breaker_threshold", BREAKER_THRESHOLD)))
    window = _number(context, "breaker_window", BREAKER_WINDOW)
    backoff = _number(context, "breaker_backoff", BREAKER_BACKOFF)
    end = run_end(log)
    limit = end.seq if end is not None else len(log)
    by_caller: dict[tuple[str | None, str], list[ToolCall]] = defaultdict(list)
    for call in cast(list[ToolCall], events(log, "tool_call")):
        if call.seq < limit and call.status != "killed":
            by_caller[(call.parent_step_id, call.name)].append(call)
    found: list[Violation] = []
    for (_, tool_name), calls in by_caller.items():
        caller = calls[0].agent
        if sum(1 for c in calls if c.status in FAILED) < threshold:
            continue
        # calls are in seq (= end) order; streak[p]: consecutive failures among the first p to end
        seqs = [c.seq for c in calls]
        ends = [c.t for c in calls]
        streak = [0] * (len(calls) + 1)
        for i, done in enumerate(calls):
            streak[i + 1] = streak[i] + 1 if done.status in FAILED else 0
        first: tuple[list[ToolCall], ToolCall] | None = None
        hammering: list[ToolCall] = []
        for call in sorted(calls, key=lambda c: (_start(c), c.seq)):
            heard = _heard(call, seqs, ends)  # the caller had heard back from calls[:heard]
            if streak[heard] < threshold:
                continue
            recent = calls[heard - threshold : heard]
            if recent[-1].t - _start(recent[0]) > window:
                continue
            if _start(call) - recent[-1].t >= backoff:
                continue
            hammering.append(call)
            if first is None:
                first = (recent, call)
        if first is None:
            continue
        recent, call = first
        who = f"agent {caller}" if caller else "the top level"
        failures = ", ".join(str(c.seq) for c in recent)
        gap = max(0.0, _start(call) - recent[-1].t)
        more = ""
        if len(hammering) > 1:
            rest = ", ".join(str(c.seq) for c in hammering[1:9]) + (", ..." if len(hammering) > 9 else "")
            more = f" It went on: {len(hammering) - 1} more call(s) like it (steps {rest})."
        found.append(
            Violation(
                checker="circuit_breaker",
                severity="major",
                steps=sorted({*(c.seq for c in recent), *(c.seq for c in hammering)}),
                message=(
                    f"Let steps {failures} be {len(recent)} consecutive failed calls of {tool_name} by "
                    f"{who}, the last {step(recent[-1])}, within "
                    f"{_ms(recent[-1].t - _start(recent[0]))}. Then {step(call)} called {tool_name} again "
                    f"{_ms(gap)} later, under the {_ms(backoff)} backoff, with no open breaker in between."
                    f"{more} So {who} kept hammering a dependency that was down."
                ),
                why=(
                    "A caller that keeps calling a failing dependency adds load exactly when it can least "
                    "take it, delays its own answer, and burns its budget on calls that will fail. Open a "
                    f"circuit breaker after {threshold} failures in a row (stop calling, report degraded), "
                    "and probe again only after a cool-down, or back off between retries."
                ),
            )
        )
    return found
