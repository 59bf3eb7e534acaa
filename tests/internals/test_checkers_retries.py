"""circuit_breaker and retry_amplification on hand-built logs."""

from __future__ import annotations

from typing import Any

import pytest
from _support.checker_logs import LogBuilder

from harness import ConfigError
from harness._checkers._amplification import retry_amplification
from harness._checkers._breaker import circuit_breaker
from harness.checkers import get_checkers
from harness.events import ToolCall


def _call(b: LogBuilder, name: str, status: str, *, at: float, attempt: int = 1, **args: Any) -> ToolCall:
    """A call made at ``at`` that ends at once; made after everything already in the log."""
    b.t = at
    began = len(b.log)
    call = b.tool(name, args or {"item": "a"}, status=status, attempt=attempt)
    b.log._events[-1] = call.model_copy(update={"began_at": began})  # what the instrumentation records
    return b.log[-1]  # type: ignore[return-value]


# -- circuit_breaker -------------------------------------------------------------------------
def test_calling_on_after_three_failures_with_no_backoff_is_flagged() -> None:
    b = LogBuilder()
    b.start("quoter")
    failures = [_call(b, "quote", "error", at=1.0, item=i) for i in "abc"]
    hammer = _call(b, "quote", "error", at=1.0, item="d")
    b.end()
    b.run_end("ok", output={"status": "ok"})
    [v] = circuit_breaker(b.log)
    assert v.steps == [*(f.seq for f in failures), hammer.seq]
    assert v.message.startswith(f"Let steps {failures[0].seq}, {failures[1].seq}, {failures[2].seq} be 3 ")
    assert "consecutive failed calls of quote by agent quoter" in v.message
    assert "called quote again 0s later, under the 1s backoff" in v.message


def test_breaker_that_opens_backoff_probe_and_short_streaks_are_clean() -> None:
    opens = LogBuilder()
    opens.start("quoter")
    for i in "ab":
        _call(opens, "quote", "error", at=1.0, item=i)
    opens.end()
    opens.run_end("ok", output={"status": "degraded", "skipped": ["c", "d"]})
    assert circuit_breaker(opens.log) == []

    spaced = LogBuilder()  # retries with exponential backoff: 1, 2, 4 s apart
    spaced.start("quoter")
    for at in (0.0, 1.0, 3.0, 7.0, 15.0):
        _call(spaced, "quote", "error", at=at)
    spaced.end()
    spaced.run_end("error")
    assert circuit_breaker(spaced.log) == []

    probe = LogBuilder()  # a half-open probe after a cool-down, then an ok call resets the count
    probe.start("quoter")
    for _ in range(3):
        _call(probe, "quote", "error", at=0.0)
    _call(probe, "quote", "ok", at=30.0)
    _call(probe, "quote", "ok", at=30.0)
    probe.end()
    probe.run_end("ok")
    assert circuit_breaker(probe.log) == []


def test_fan_out_launched_at_once_is_not_hammering() -> None:
    b = LogBuilder()
    b.start("quoter")
    began = len(b.log)
    calls = [b.tool("quote", {"item": i}, status="error") for i in "abcd"]
    for call in calls:  # all four were made before any came back
        b.log._events[call.seq] = call.model_copy(update={"began_at": began})
    b.end()
    b.run_end("ok", output={"status": "degraded"})
    assert circuit_breaker(b.log) == []


def test_breaker_context_and_window() -> None:
    b = LogBuilder()
    b.start("quoter")
    for at in (0.0, 50.0, 100.0):
        _call(b, "quote", "error", at=at)
    _call(b, "quote", "ok", at=100.0)
    b.end()
    b.run_end("ok")
    assert circuit_breaker(b.log) == []  # three failures over 100 s: outside the 60 s window
    assert len(circuit_breaker(b.log, breaker_window=200)) == 1
    assert circuit_breaker(b.log, breaker_window=200, breaker_threshold=4) == []
    with pytest.raises(ConfigError, match="breaker_backoff=-1"):
        circuit_breaker(b.log, breaker_backoff=-1)


# -- retry_amplification ---------------------------------------------------------------------
def _layers(outer: int, inner: int, *, last_ok: bool = False) -> LogBuilder:
    b = LogBuilder()
    b.start("orchestrator")
    for run in range(outer):
        b.start("fetcher")
        for attempt in range(1, inner + 1):
            ok = last_ok and run == outer - 1 and attempt == inner
            _call(b, "lookup", "ok" if ok else "error", at=b.t, attempt=run * inner + attempt, q="tides")
        b.end("ok" if last_ok and run == outer - 1 else "error", error_type="ConnectionError")
    b.end()
    b.run_end("ok", output={"status": "degraded"})
    return b


def test_retries_at_two_layers_are_flagged_with_the_layers_named() -> None:
    [v] = retry_amplification(_layers(3, 3).log)
    assert "Let agent orchestrator run agent fetcher 3 times" in v.message
    assert "(3 + 3 + 3 calls" in v.message
    assert "agent orchestrator -> agent fetcher -> tool lookup" in v.message
    assert "got 9 calls for it, over the budget of 3" in v.message
    assert len(v.steps) == 12


def test_one_layer_of_retries_is_clean() -> None:
    assert retry_amplification(_layers(1, 3).log) == []  # the tool retried, the agent not
    assert retry_amplification(_layers(3, 1).log) == []  # the agent retried around one call each
    # 2 x 2 where the second run's retry succeeded: both layers retried; 4 calls is over the
    # default budget of 3, and within a budget of 4
    assert len(retry_amplification(_layers(2, 2, last_ok=True).log)) == 1
    assert retry_amplification(_layers(2, 2, last_ok=True).log, retry_budget=4) == []
    assert len(retry_amplification(_layers(2, 2).log)) == 1


def test_concurrent_copies_are_a_hedge_not_a_retry() -> None:
    b = LogBuilder()
    b.start("orchestrator")
    first = b.start("fetcher")
    for _ in range(2):
        _call(b, "lookup", "error", at=b.t, q="tides")
    b.stack.pop()  # the second copy starts before the first ends
    b.start("fetcher")
    for _ in range(2):
        _call(b, "lookup", "error", at=b.t, q="tides")
    b.end("error")
    b.end_detached(first, "error")
    b.end()
    b.run_end("ok", output={"status": "degraded"})
    assert retry_amplification(b.log) == []


def test_both_are_opt_in() -> None:
    default = {c.name for c in get_checkers("default")}
    assert "circuit_breaker" not in default and "retry_amplification" not in default
    assert {"circuit_breaker", "retry_amplification"} <= {c.name for c in get_checkers("all")}
