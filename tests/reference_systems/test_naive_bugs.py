"""Each naive system's bug really happens under one specific fault, and the hardened variant's fix holds.

The faults are fault plans (``faults.FaultPlan``), replayed from cassettes recorded from the real
model under the same plan; timeouts run on the virtual clock, so a 600 s latency costs nothing.
"""

from __future__ import annotations

from typing import Any

from harness import Run, run_checks
from scenarios import find_reference as find
from scenarios import run_reference


def _run(name: str) -> tuple[Run, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def inspect(services: dict[str, Any]) -> None:
        shop = services.get("shop")
        if shop is not None:
            seen["emails"] = shop.effects("email")
            seen["charged"] = shop.net_charged("ord-1001")

    run = run_reference(find(name), inspect=inspect)
    return run, seen


def _violations(run: Run, checker: str) -> list[str]:
    return [v.message for v in run_checks(run.log, [checker], output=run.output)]


# -- checkout: a slow email is retried without an idempotency key --------------------------------
def test_checkout_naive_sends_the_email_twice_when_the_mail_service_is_slow() -> None:
    baseline, ok = _run("checkout_naive")
    assert len(ok["emails"]) == 1 and baseline.output.status == "confirmed"

    run, shop = _run("checkout_naive_slow_email")
    assert run.output.status == "confirmed"  # the system believes all is well ...
    emails = shop["emails"]
    assert len(emails) == 2  # ... but the shop's own records show two emails to the customer
    assert {e.detail["to"] for e in emails} == {"ana@example.com"}
    assert all(e.idempotency_key is None for e in emails)
    sends = [e for e in run.log if e.kind == "tool_call" and e.name == "send_email"]
    assert [e.status for e in sends] == ["cancelled", "ok"]  # timed out at 10 s, retried
    assert _violations(run, "duplicate_side_effects")


def test_checkout_hardened_sends_one_email_under_the_same_fault() -> None:
    run, shop = _run("checkout_hardened_slow_email")
    assert run.output.status == "confirmed"
    assert len(shop["emails"]) == 1
    assert shop["emails"][0].idempotency_key == "ord-1001/email"
    sends = [e for e in run.log if e.kind == "tool_call" and e.name == "send_email"]
    assert len(sends) == 2 and {e.idempotency_key for e in sends} == {
        "ord-1001/email"
    }  # retried, applied once
    assert shop["charged"] == 8900 + 2 * 2900
    assert _violations(run, "duplicate_side_effects") == []


# -- research: a timed-out sub-agent is silently dropped ---------------------------------------
def test_research_naive_answers_without_the_timed_out_web_search_and_does_not_say_so() -> None:
    baseline, _ = _run("research_naive")
    assert {n.source for n in baseline.output.sources} == {"vector_search", "web_search", "prior_context"}

    run, _ = _run("research_naive_web_timeout")
    result = run.output
    assert {n.source for n in result.sources} == {"vector_search", "prior_context"}
    assert result.missing == [] and result.partial is False
    assert "web" not in result.answer.lower() and "partial" not in result.answer.lower()
    joins = {e.task: e.outcome for e in run.log if e.kind == "join"}
    assert joins["web_search"] == "timeout"
    assert _violations(run, "silent_partial_failure")


def test_research_hardened_surfaces_the_missing_source() -> None:
    run, _ = _run("research_hardened_web_timeout")
    result = run.output
    assert result.missing == ["web_search"] and result.partial is True
    assert result.answer.startswith("Partial answer: web_search did not answer")
    assert {n.source for n in result.sources} == {"vector_search", "prior_context"}
    assert _violations(run, "silent_partial_failure") == []
    assert _violations(run, "orphaned_work") == []


# -- content: trimming the context on overflow drops the task's constraint ---------------------
CONSTRAINT = "$10,000"


def _handoff_payloads(run: Run) -> list[tuple[str, str]]:
    return [(e.target, str(e.payload)) for e in run.log if e.kind == "handoff"]


def test_content_naive_loses_the_constraint_when_the_context_overflows() -> None:
    baseline, _ = _run("content_naive")
    assert all(CONSTRAINT in payload for _, payload in _handoff_payloads(baseline))
    assert CONSTRAINT in baseline.output.instructions

    run, _ = _run("content_naive_context_overflow")
    payloads = _handoff_payloads(run)
    assert CONSTRAINT in payloads[0][1]  # the task reached the researcher ...
    later = [target for target, payload in payloads if CONSTRAINT not in payload]
    assert later == ["writer", "fact_checker", "editor"]  # ... and was trimmed away after the outliner
    assert CONSTRAINT not in run.output.instructions
    assert _violations(run, "goal_drift")


def test_content_hardened_keeps_the_constraint_and_flags_the_items() -> None:
    run, _ = _run("content_hardened_context_overflow")
    assert all(CONSTRAINT in payload for _, payload in _handoff_payloads(run))
    assert CONSTRAINT in run.output.instructions
    assert run.output.flagged == ["venue", "travel"]
    assert "[FLAG] travel" in run.output.text
    assert _violations(run, "goal_drift") == []
    assert _violations(run, "handoff_contract") == []


def test_content_naive_scratchpad_loses_a_concurrent_note_and_hardened_does_not() -> None:
    naive, _ = _run("content_naive")
    hardened, _ = _run("content_hardened")
    writers = ("researcher", "outliner", "writer", "fact_checker", "editor")
    naive_authors = [n.split(":")[0] for n in naive.output.notes]
    assert len(naive_authors) < len(writers)  # the writer's and fact-checker's notes raced
    assert _violations(naive, "lost_update")
    assert sorted(n.split(":")[0] for n in hardened.output.notes) == sorted(writers)
    assert _violations(hardened, "lost_update") == []


# -- negotiation: one lost message and both agents wait forever --------------------------------
def test_negotiation_naive_deadlocks_when_the_first_offer_is_lost() -> None:
    baseline, _ = _run("negotiation_naive")
    assert baseline.output.outcome == "deal"

    run, _ = _run("negotiation_naive_lost_offer")
    assert run.deadline_passed  # only the run's virtual deadline ended it
    assert run.status == "cancelled"
    waits = [e for e in run.log if e.kind == "wait" and e.phase == "begin"]
    assert {(e.waiter, e.waits_for) for e in waits} >= {("seller", "buyer"), ("buyer", "seller")}
    assert _violations(run, "liveness")


def test_negotiation_hardened_resends_after_its_liveness_deadline() -> None:
    run, _ = _run("negotiation_hardened_lost_offer")
    assert not run.deadline_passed and run.status == "ok"
    assert run.output.outcome in ("deal", "no_deal")
    if run.output.outcome == "no_deal":
        assert run.output.reason
    sends = [e for e in run.log if e.kind == "message_send" and e.channel == "to_seller"]
    assert sends[0].delivered is False and sends[1].delivered is True  # the re-send got through
    assert _violations(run, "liveness") == []
