"""Honest degradation is handled, error text passed off as a result is not.

Each checker that judges "did the run admit the failure?" accepts the same things
(docs/checkers.md, "What counts as handled"): a failure status or marker field in the
output (``needs_review``, ``payment_pending``, ``partial``), an escalation or a dead
letter, a status the project declared, or the project's own predicate.
"""

from __future__ import annotations

from typing import Any

import pytest

import harness
from harness import agent, run_checks, tool
from harness.checkers import get_checkers


@tool("lookup")
def lookup(q: str) -> str:
    raise ConnectionError(f"search backend refused the connection for {q!r}")


def _names(violations: list[Any]) -> list[str]:
    return sorted({v.checker for v in violations})


# -- tool_error_as_result ------------------------------------------------------------------------
def test_error_text_returned_as_the_answer_is_flagged() -> None:
    def buggy(q: str) -> dict[str, Any]:
        with agent("researcher"):
            try:
                facts = lookup(q)
            except ConnectionError as exc:
                facts = str(exc)  # the error message becomes "the facts"
            return {"answer": facts}

    run = harness.run_system(buggy, ("tides",))
    assert _names(run_checks(run.log)) == ["tool_error_as_result"]
    [violation] = run_checks(run.log)
    assert "search backend refused the connection" in violation.message
    assert "error message dressed as an answer" in violation.message


def test_a_framework_error_string_as_the_answer_is_flagged() -> None:
    def buggy() -> str:
        with agent("assistant"):
            return "An error occurred while running the tool. Please try again. Error: boom"

    run = harness.run_system(buggy)
    assert _names(run_checks(run.log)) == ["tool_error_as_result"]


@pytest.mark.parametrize(
    "output",
    [
        {"answer": None, "errors": ["search backend refused the connection for 'tides'"]},  # errors field
        {"answer": "search backend refused the connection for 'tides'", "status": "degraded"},
        "The search service is unavailable: search backend refused the connection for 'tides'",
        {"answer": "cached tide table", "source": "cache"},  # a correct fallback value
    ],
)
def test_an_error_admitted_or_replaced_by_a_fallback_is_handled(output: Any) -> None:
    def correct(q: str) -> Any:
        with agent("researcher"):
            try:
                lookup(q)
            except ConnectionError:
                pass
            return output

    run = harness.run_system(correct, ("tides",))
    assert run_checks(run.log) == []


# -- honest degradation accepted by every checker ---------------------------------------------
@tool("charge", side_effect=True)
def charge(cents: int) -> str:
    raise TimeoutError("payment gateway did not answer in 30 s")


def _pay(status: str, *, escalate: bool = False) -> Any:
    def system() -> dict[str, Any]:
        with agent("orchestrator"):
            with agent("payer"):
                try:
                    charge(100)
                except TimeoutError as exc:
                    if escalate:
                        harness.escalate(f"charge timed out: {exc}")
                    raise
            return {"status": status}

    def outer() -> dict[str, Any]:
        try:
            return system()
        except TimeoutError:
            return {"status": status}

    return harness.run_system(outer)


@pytest.mark.parametrize("status", ["needs_review", "payment_pending", "rolled_back", "PartialResult"])
def test_statuses_that_admit_trouble_are_handled(status: str) -> None:
    run = _pay(status)
    assert run_checks(run.log) == []


def test_a_success_status_after_a_failed_part_is_a_silent_partial_failure() -> None:
    run = _pay("paid")
    assert _names(run_checks(run.log)) == ["silent_partial_failure"]


def test_an_escalation_admits_the_failure() -> None:
    run = _pay("paid", escalate=True)
    assert run_checks(run.log) == []


def test_a_project_declares_its_own_statuses_or_a_predicate() -> None:
    run = _pay("awaiting_human")
    assert _names(run_checks(run.log)) == ["silent_partial_failure"]  # not a failure word by default
    assert run_checks(run.log, degraded=["awaiting_human"]) == []
    assert run_checks(run.log, degraded=lambda out: out.get("status") == "awaiting_human") == []
    # A predicate that cannot judge the output has no opinion: the finding stands.
    assert _names(run_checks(run.log, degraded=lambda out: out["missing_key"])) == ["silent_partial_failure"]


def test_the_default_set_has_twelve_checkers_and_unhandled_tool_failure_is_opt_in() -> None:
    default = [c.name for c in get_checkers("default")]
    assert "tool_error_as_result" in default
    assert "unhandled_tool_failure" not in default
    assert "unhandled_tool_failure" in [c.name for c in get_checkers("all")]
