"""lost_update, stale_fencing_token and liveness on hand-built run logs."""

from __future__ import annotations

from _support.checker_logs import LogBuilder

from harness._checkers._liveness import liveness
from harness._checkers._state import lost_update, stale_fencing_token


# -- lost_update -----------------------------------------------------------------------------
def test_read_modify_write_race_loses_an_update() -> None:
    b = LogBuilder()
    b.start("a")
    read_a = b.read("counter", 3)
    b.stack.pop()
    b.start("b")
    b.read("counter", 3)
    write_b = b.write("counter", current=3, based_on_version=3)
    b.stack.pop()
    b.stack.append(("a", read_a.parent_step_id or "s1"))
    write_a = b.write("counter", current=4, based_on_version=3)
    b.run_end()
    [v] = lost_update(b.log)
    assert v.severity == "critical"
    assert v.steps == [read_a.seq, write_b.seq, write_a.seq]
    assert f"Let step {read_a.seq} see kv/counter at version 3" in v.message
    assert f"then step {write_b.seq} (state_write write kv/counter, agent b" in v.message
    assert "based on version 3" in v.message
    assert "compare-and-set" in v.why


def test_blind_write_after_a_stale_read_is_inferred() -> None:
    b = LogBuilder()
    b.start("a")
    b.read("doc", 1)
    b.end()
    b.start("b")
    b.write("doc", current=1)
    b.end()
    b.start("a")
    b.write("doc", current=2)
    b.end()
    b.run_end()
    [v] = lost_update(b.log)
    assert "a blind write by an agent that last saw version 1" in v.message


def test_cas_and_fresh_writes_are_clean() -> None:
    b = LogBuilder()
    b.start("a")
    b.read("doc", 1)
    b.write("doc", current=1, op="cas", expected_version=1)
    b.write("doc", current=2, based_on_version=2)
    b.write("doc", current=3, op="cas", expected_version=2, accepted=False)  # rejected: the check working
    b.end()
    b.start("b")
    b.write("doc", current=3)  # blind write by an agent that never read: last writer wins, no race
    b.end()
    b.run_end()
    assert lost_update(b.log) == []


def test_accepted_cas_with_a_stale_expectation_is_a_lost_update() -> None:
    b = LogBuilder()
    b.write("doc", current=5, op="cas", expected_version=4)
    b.run_end()
    [v] = lost_update(b.log)
    assert "expected version 4" in v.message


# -- stale_fencing_token ---------------------------------------------------------------------
def test_stale_token_accepted_after_a_newer_one() -> None:
    b = LogBuilder()
    b.start("leader-1")
    b.write("orders", current=0, fencing_token=33)
    b.end()
    b.start("leader-2")
    newer = b.write("orders", current=1, fencing_token=34)
    b.end()
    b.start("leader-1")
    stale = b.write("orders", current=2, fencing_token=33)
    b.end()
    b.run_end()
    [v] = stale_fencing_token(b.log)
    assert v.steps == [newer.seq, stale.seq]
    assert "with fencing token 34" in v.message and "lower token 33" in v.message


def test_rejected_stale_tokens_and_separate_resources_are_clean() -> None:
    b = LogBuilder()
    b.write("orders", current=0, fencing_token=34)
    b.write("orders", current=1, fencing_token=33, accepted=False)
    b.write("orders", current=1, fencing_token=33, store="other")  # another store has its own tokens
    b.tool("ship", {"id": 1}, token=34)
    b.tool("ship", {"id": 2}, token=33, status="error")  # the tool rejected it
    b.tool("ship", {"id": 3}, token=35)
    b.run_end()
    assert stale_fencing_token(b.log) == []


def test_stale_token_on_a_tool_call() -> None:
    b = LogBuilder()
    b.tool("ship", {"id": 1}, token=7)
    b.tool("ship", {"id": 2}, token=6)
    b.run_end()
    [v] = stale_fencing_token(b.log)
    assert "tool ship" in v.message


# -- liveness --------------------------------------------------------------------------------
def test_wait_for_cycle_broken_only_by_the_deadline() -> None:
    b = LogBuilder()
    w1 = b.wait("begin", "planner", "executor", "channel:plans")
    w2 = b.wait("begin", "executor", "planner", "channel:results")
    e1 = b.wait("end", "planner", "executor", "channel:plans", step_id=w1.step_id, outcome="cancelled")
    b.wait("end", "executor", "planner", "channel:results", outcome="cancelled")
    end = b.run_end("cancelled", error_type="DeadlineExceeded", error="virtual deadline of 600 s passed")
    [v] = liveness(b.log)
    assert v.severity == "critical"
    assert w1.seq in v.steps and w2.seq in v.steps and e1.seq in v.steps
    assert "planner -> executor -> planner" in v.message
    assert "cycle in the wait-for graph" in v.message
    assert f"passed its virtual deadline (virtual deadline of 600 s passed) at step {end.seq}" in v.message


def test_cycle_broken_by_a_timeout_is_not_a_deadlock() -> None:
    b = LogBuilder()
    b.wait("begin", "a", "b", "lock:x")
    b.wait("begin", "b", "a", "lock:y")
    b.wait("end", "b", "a", "lock:y", outcome="timeout")  # b gives up: the system broke the cycle
    b.wait("end", "a", "b", "lock:x", outcome="ok")
    b.run_end("ok")
    assert liveness(b.log) == []


def test_three_way_cycle_never_ended() -> None:
    b = LogBuilder()
    b.wait("begin", "a", "b", "r1")
    b.wait("begin", "b", "c", "r2")
    b.wait("begin", "c", "a", "r3")
    b.run_end("ok")
    [v] = liveness(b.log)
    assert "a -> b -> c -> a" in v.message
    assert "none of the waits ever ended" in v.message


def test_sequential_waits_are_no_cycle() -> None:
    b = LogBuilder()
    b.wait("begin", "a", "b", "r1")
    b.wait("end", "a", "b", "r1", outcome="ok")
    b.wait("begin", "b", "a", "r2")
    b.wait("end", "b", "a", "r2", outcome="ok")
    b.run_end("ok")
    assert liveness(b.log) == []


def test_deadline_passed_without_a_cycle_lists_open_waits() -> None:
    b = LogBuilder()
    w = b.wait("begin", "consumer", "producer", "channel:jobs")
    b.wait("end", "consumer", "producer", "channel:jobs", outcome="cancelled")
    b.t -= 0.5  # the cancellation and the run's end happen at the same virtual instant
    end = b.run_end("cancelled", error_type="DeadlineExceeded", error="virtual deadline of 600 s passed")
    [v] = liveness(b.log)
    assert v.steps == [w.seq, end.seq]
    assert "Still waiting at that moment: step" in v.message


def test_deadline_with_nothing_waiting() -> None:
    b = LogBuilder()
    end = b.run_end("cancelled", error_type="DeadlineExceeded", error="virtual deadline of 5 s passed")
    [v] = liveness(b.log)
    assert v.steps == [end.seq]
    assert "No wait was open" in v.message
