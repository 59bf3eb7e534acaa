"""silent_partial_failure, unhandled_tool_failure, phantom_completion and orphaned_work on hand-built logs."""

from __future__ import annotations

from _support.checker_logs import LogBuilder

from harness._checkers._common import surfaces_failure
from harness._checkers._completion import phantom_completion
from harness._checkers._orphans import orphaned_work
from harness._checkers._partial import silent_partial_failure
from harness._checkers._tool_failures import unhandled_tool_failure


def _fan_out(status: str) -> tuple[LogBuilder, int, int]:
    """An orchestrator with two sub-agents; the second ends with ``status``."""
    b = LogBuilder()
    b.start("orchestrator")
    b.start("vector_search")
    b.end()
    start = b.start("web_search")
    end = b.end(status, error_type=None if status == "ok" else "TimeoutError")
    return b, start.seq, end.seq


# -- silent_partial_failure ------------------------------------------------------------------
def test_timed_out_sub_agent_hidden_by_an_ok_run() -> None:
    b, start, failed = _fan_out("cancelled")
    b.end()
    end = b.run_end("ok", output={"answer": "Heat pumps work well.", "missing": [], "partial": False})
    [v] = silent_partial_failure(b.log)
    assert v.steps == [start, failed, end.seq]
    assert v.message.startswith(f"Let step {failed} (agent_end web_search, status cancelled")
    assert "does not surface the failure" in v.message
    assert "web_search's part" in v.message


def test_surfaced_failure_is_clean() -> None:
    b, _, _ = _fan_out("timeout")
    b.end()
    b.run_end("ok", output={"answer": "...", "missing": ["web_search"], "partial": True})
    assert silent_partial_failure(b.log) == []


def test_retried_sub_agent_is_clean_and_failed_run_is_loud() -> None:
    b, _, _ = _fan_out("error")
    b.start("web_search")
    b.end()
    b.end()
    b.run_end("ok", output={"answer": "complete"})
    assert silent_partial_failure(b.log) == []

    loud, _, _ = _fan_out("killed")
    loud.end("killed")
    loud.run_end("killed")
    assert silent_partial_failure(loud.log) == []


def test_failed_join_counts_and_a_text_output_can_surface_it() -> None:
    b = LogBuilder()
    b.start("orchestrator")
    b.spawn("summarise")
    join = b.join("summarise", "error")
    b.end()
    b.run_end("ok", output="Here is the full summary.")
    [v] = silent_partial_failure(b.log)
    assert join.seq in v.steps
    b2 = LogBuilder()
    b2.spawn("summarise")
    b2.join("summarise", "timeout")
    b2.run_end("ok", output="The summarise step timed out; this answer is partial.")
    assert silent_partial_failure(b2.log) == []


def test_surfaces_failure_rules() -> None:
    assert surfaces_failure({"result": {"degraded": True}})
    assert surfaces_failure({"status": "partial"})
    assert surfaces_failure([{"errors": ["x"]}])
    assert not surfaces_failure({"missing": [], "partial": False, "status": "ok"})
    assert not surfaces_failure(None)
    assert surfaces_failure("web_search said nothing", ("web_search",))
    assert not surfaces_failure("All sources agree.", ("web_search",))


# -- unhandled_tool_failure ------------------------------------------------------------------
def test_swallowed_tool_failure() -> None:
    b = LogBuilder()
    b.start("researcher")
    failed = b.tool("fetch", {"url": "u1"}, status="error", error="connection reset")
    scope_end = b.end()
    end = b.run_end("ok", output={"answer": "..."})
    [v] = unhandled_tool_failure(b.log)
    assert v.steps == [failed.seq, scope_end.seq, end.seq]
    assert "connection reset" in v.message
    assert "So the failure was swallowed." in v.message
    assert "dead_letter" in v.why


def test_retry_dead_letter_escalation_and_propagation_handle_it() -> None:
    retried = LogBuilder()
    retried.tool("fetch", {"url": "u1"}, status="timeout")
    retried.tool("fetch", {"url": "u1"}, attempt=2)
    retried.run_end("ok")
    assert unhandled_tool_failure(retried.log) == []

    lettered = LogBuilder()
    lettered.start("researcher")
    lettered.tool("fetch", {"url": "u1"}, status="error")
    lettered.dead_letter("fetch", args={"url": "u1"})
    lettered.tool("fetch", {"url": "u2"}, status="error")
    lettered.dead_letter("fetch")  # no args: parks the tool's failures so far
    lettered.end()
    lettered.run_end("ok")
    assert unhandled_tool_failure(lettered.log) == []

    escalated = LogBuilder()
    escalated.start("orchestrator")
    escalated.start("researcher")
    escalated.tool("fetch", {"url": "u1"}, status="lost_ack")
    escalated.end()
    escalated.escalate("researcher could not fetch")  # an enclosing scope escalates
    escalated.end()
    escalated.run_end("ok")
    assert unhandled_tool_failure(escalated.log) == []

    propagated = LogBuilder()
    propagated.start("researcher")
    propagated.tool("fetch", {"url": "u1"}, status="error")
    propagated.end("error")
    propagated.run_end("ok")
    assert unhandled_tool_failure(propagated.log) == []


def test_dead_letter_for_another_call_or_an_escalation_before_it_does_not_handle_it() -> None:
    b = LogBuilder()
    b.start("researcher")
    b.escalate("earlier trouble")
    failed = b.tool("fetch", {"url": "u1"}, status="error")
    b.dead_letter("fetch", args={"url": "other"})
    b.dead_letter("fetch", for_step="s999")
    b.end()
    b.run_end("ok")
    [v] = unhandled_tool_failure(b.log)
    assert v.steps[0] == failed.seq


def test_escalation_in_a_sibling_scope_does_not_cover() -> None:
    b = LogBuilder()
    b.start("a")
    b.tool("fetch", {"url": "u1"}, status="error")
    b.end()
    b.start("b")
    b.escalate("b's own problem")
    b.end()
    b.run_end("ok")
    assert len(unhandled_tool_failure(b.log)) == 1


def test_failed_run_is_loud_for_tool_failures() -> None:
    b = LogBuilder()
    b.tool("fetch", {"url": "u1"}, status="error")
    b.run_end("error", error_type="ToolError")
    assert unhandled_tool_failure(b.log) == []


# -- phantom_completion ----------------------------------------------------------------------
def test_agent_reports_success_despite_failed_postcondition() -> None:
    b = LogBuilder()
    b.start("accountant")
    post = b.postcondition("total matches line items", False, detail="total 90 != 100")
    end_agent = b.end()
    end = b.run_end("ok", output={"total": 90})
    [v] = phantom_completion(b.log)
    assert v.steps == [post.seq, end_agent.seq, end.seq]
    assert "'total matches line items' does not hold (\"total 90 != 100\")" in v.message
    assert "completed in name only" in v.message


def test_postcondition_clean_cases() -> None:
    held = LogBuilder()
    held.start("accountant")
    held.postcondition("sum", True)
    held.end()
    held.run_end("ok")
    assert phantom_completion(held.log) == []

    retried = LogBuilder()
    retried.start("accountant")
    retried.postcondition("sum", False)
    retried.end()
    retried.start("accountant")
    retried.postcondition("sum", True)
    retried.end()
    retried.run_end("ok")
    assert phantom_completion(retried.log) == []

    admitted = LogBuilder()
    admitted.start("accountant")
    admitted.postcondition("sum", False)
    admitted.end("error")  # the agent reported failure
    admitted.run_end("ok")
    assert phantom_completion(admitted.log) == []

    undecided = LogBuilder()
    undecided.start("accountant")
    undecided.postcondition("sum", None)
    undecided.end()
    undecided.run_end("ok")
    assert phantom_completion(undecided.log) == []


def test_postcondition_attributed_to_a_finished_sub_agent() -> None:
    b = LogBuilder()
    b.start("orchestrator")
    b.start("researcher")
    researcher_end = b.end()
    post = b.postcondition("cites a source", False, agent="researcher")
    b.end()
    b.run_end("ok", output={"answer": "..."})
    [v] = phantom_completion(b.log)
    assert researcher_end.seq in v.steps and post.seq in v.steps
    assert "agent researcher's postcondition" in v.message


# -- orphaned_work ---------------------------------------------------------------------------
def test_agent_cancelled_after_run_end_and_unjoined_spawn() -> None:
    b = LogBuilder()
    b.start("orchestrator")
    spawn = b.spawn("web_search")
    straggler = b.start("web_search")
    b.stack.pop()  # runs concurrently: the orchestrator goes on
    b.end()
    end = b.run_end("ok")
    late = b.end_detached(straggler)
    found = orphaned_work(b.log)
    assert [v.steps for v in found] == [[spawn.seq, end.seq], [straggler.seq, end.seq, late.seq]]
    assert "after the run, when the runner cancelled what was left" in found[1].message
    assert "never awaited or cancelled" in found[0].message


def test_joined_work_is_clean_and_never_ended_is_orphaned() -> None:
    b = LogBuilder()
    b.spawn("t")
    b.start("worker")
    b.end()
    b.join("t", "cancelled")
    b.run_end("ok")
    assert orphaned_work(b.log) == []

    hung = LogBuilder()
    hung.start("worker")
    hung.stack.pop()
    hung.run_end("ok")
    [v] = orphaned_work(hung.log)
    assert "it never ended" in v.message


def test_cancelled_loser_of_a_hedge_is_superseded_but_a_failed_one_is_not() -> None:
    hedged = LogBuilder()
    hedged.start("orchestrator")
    hedged.start("quote")
    hedged.stack.pop()
    hedged.start("quote")
    hedged.end()  # the hedge won
    hedged.stack.append(("quote", "s2"))
    hedged.end("cancelled")  # the primary is cancelled as no longer needed
    hedged.end()
    hedged.run_end("ok", output={"price": 10})
    assert silent_partial_failure(hedged.log) == []

    errored = LogBuilder()
    errored.start("quote")
    errored.stack.pop()
    errored.start("quote")
    errored.end()
    errored.stack.append(("quote", "s1"))
    errored.end("error", error_type="ValueError")  # a real failure is not superseded by a sibling
    errored.run_end("ok", output={"price": 10})
    assert len(silent_partial_failure(errored.log)) == 1
