"""Result rows, outcome classes and the aggregates behind the report (no rendering here)."""

from __future__ import annotations

import json
from math import comb

import pytest
from _support.report_logs import LogBuilder, checkout_log

from harness._errors import ReportError
from harness._report import (
    ResultRow,
    classify,
    heatmap,
    judge_retention,
    pass_hat_k,
    row_from_log,
    summarize_tests,
)
from harness._report._stats import pass_hat_k_by_faults, pass_hat_k_curve

VIOLATION = {
    "checker": "duplicate_side_effects",
    "severity": "critical",
    "steps": [10, 11],
    "message": "Let step 10 send the email, then step 11 send it again, so the customer got two.",
    "why": "duplicated side effects",
}


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, "pass"),
        ({"faults_injected": 2}, "handled"),
        ({"error": True, "violated": True}, "loud"),
        ({"violated": True, "substituted": True, "judged": True}, "silent"),
        ({"assertion_failed": True}, "silent"),
        ({"judge_failed": True, "judged": True}, "silent"),
        ({"assertion_failed": True, "substituted": True}, "indeterminate"),
        ({"judged": True, "substituted": True}, "indeterminate"),
        ({"judge_indeterminate": True, "judged": True}, "indeterminate"),
        ({"substituted": True, "faults_injected": 1}, "handled"),
    ],
)
def test_classify_rules(facts: dict[str, object], expected: str) -> None:
    base = {
        "error": False,
        "violated": False,
        "assertion_failed": False,
        "judge_failed": False,
        "judged": False,
        "substituted": False,
        "judge_indeterminate": False,
        "faults_injected": 0,
    }
    base.update(facts)
    assert classify(**base) == expected  # type: ignore[arg-type]


def test_pass_hat_k_is_the_combinatorial_estimator() -> None:
    assert pass_hat_k(10, 10, 8) == 1.0
    assert pass_hat_k(10, 7, 8) == 0.0
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(8, 6, 3) == pytest.approx(comb(6, 3) / comb(8, 3))
    # pass^1 is the plain pass rate
    assert pass_hat_k(7, 3, 1) == pytest.approx(3 / 7)


@pytest.mark.parametrize(
    ("n", "c", "k", "needle"), [(3, 4, 1, "between 0 and the trials"), (3, 2, 4, "at least k")]
)
def test_pass_hat_k_rejects_impossible_counts(n: int, c: int, k: int, needle: str) -> None:
    with pytest.raises(ReportError, match=needle):
        pass_hat_k(n, c, k)


def test_baseline_row_counts_calls_tokens_and_time() -> None:
    row = row_from_log(checkout_log("r1"), test="t.py::test_a", checkers_run=["duplicate_side_effects"])
    assert row.outcome == "pass"
    assert row.system == "shop.checkout:run"
    assert (row.llm_replayed, row.llm_substituted, row.llm_live) == (2, 0, 0)
    assert (row.prompt_tokens, row.completion_tokens) == (60, 35)
    assert row.tool_calls == 2
    assert row.duration == pytest.approx(1.2)
    assert row.fault_plan == "" and row.faults_planned == 0
    assert row.checkers() == ["duplicate_side_effects"] and row.violated() == []


def test_faulted_run_that_recovers_is_handled_and_names_its_fault_kind() -> None:
    row = row_from_log(checkout_log("r2", fault="error"), test="t.py::test_a")
    assert row.outcome == "handled"
    assert row.faults_injected == 1 and row.faults_planned == 1
    assert row.kinds() == ["tool.error"]
    assert json.loads(row.fault_plan) == {"faults": [{"effect": "error", "site": "tool"}]}


def test_crash_is_loud_and_violation_is_silent() -> None:
    loud = row_from_log(checkout_log("r3", crash=True), test="t")
    assert loud.outcome == "loud" and loud.error == "smtp down" and loud.error_type == "RuntimeError"
    silent = row_from_log(checkout_log("r4", duplicate=True), test="t", violations=[VIOLATION])
    assert silent.outcome == "silent"
    assert silent.violated() == ["duplicate_side_effects"]
    assert silent.violation_list()[0]["steps"] == [10, 11]


def test_assertion_failure_is_silent_unless_it_rests_on_substituted_content() -> None:
    plain = row_from_log(checkout_log("r5"), test="t", assertion="assert 'refund' in output")
    assert plain.outcome == "silent"
    substituted = row_from_log(checkout_log("r6", substituted=True), test="t", assertion="assert ...")
    assert substituted.outcome == "indeterminate"
    assert substituted.llm_substituted == 1


def test_judge_verdicts_from_the_log_and_from_the_caller() -> None:
    b = LogBuilder("r7")
    b.llm()
    b.verdict("helpfulness", 2.0, False)
    row = row_from_log(b.end(), test="t", judges={"accuracy": {"score": 4.5, "passed": True}})
    assert row.outcome == "silent"
    assert row.judge_map() == {
        "accuracy": {"passed": True, "score": 4.5, "status": "scored"},
        "helpfulness": {"passed": False, "score": 2.0, "status": "scored"},
    }


def test_secrets_in_error_and_assertion_text_are_scrubbed() -> None:
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0"
    row = row_from_log(
        checkout_log("r8"), test="t", error=RuntimeError(f"auth failed for {key}"), assertion=f"Bearer {key}"
    )
    assert key not in row.model_dump_json()
    assert "[REDACTED]" in row.error and "[REDACTED]" in row.assertion


def _rows() -> list[ResultRow]:
    rows = [
        row_from_log(checkout_log("a0"), test="t::a", index=0, checkers_run=["dup", "saga"]),
        row_from_log(checkout_log("a1", fault="error"), test="t::a", index=1, checkers_run=["dup", "saga"]),
        row_from_log(
            checkout_log("a2", fault="timeout", duplicate=True),
            test="t::a",
            index=2,
            checkers_run=["dup", "saga"],
            violations=[{**VIOLATION, "checker": "dup"}],
        ),
        row_from_log(
            checkout_log("a3", fault="timeout"),
            test="t::a",
            index=3,
            checkers_run=["dup", "saga"],
            final=True,
        ),
        row_from_log(checkout_log("b0", crash=True), test="t::b", index=0, checkers_run=["dup"], final=True),
    ]
    return rows


def test_heatmap_rates_per_fault_kind_and_checker() -> None:
    hm = heatmap(_rows())
    assert hm.kinds == ["(no fault)", "tool.error", "tool.timeout"]
    assert hm.checkers == ["dup", "saga", "assertions"]
    cell = dict(zip(hm.checkers, hm.rates[hm.kinds.index("tool.timeout")], strict=True))
    assert cell == {"dup": 0.5, "saga": 1.0, "assertions": 1.0}
    baseline = dict(zip(hm.checkers, hm.counts[0], strict=True))
    # t::b ran only "dup", so "saga" saw one baseline run, "dup" two
    assert baseline == {"dup": 2, "saga": 1, "assertions": 2}
    assert hm.rates[0][2] == 0.5  # the crash fails the assertions column


def test_tests_are_summarized_dangerous_first() -> None:
    tests = summarize_tests(_rows())
    assert [t.test for t in tests] == ["t::a", "t::b"]
    assert tests[0].worst == "silent" and tests[0].counts["silent"] == 1 and tests[0].runs == 4
    assert tests[1].worst == "loud" and tests[1].failed


def test_pass_hat_k_curves() -> None:
    rows = _rows()[:4]  # 3 of 4 succeed
    assert pass_hat_k_curve(rows) == [(1, 0.75), (2, 0.5), (3, 0.25), (4, 0.0)]
    by_faults = pass_hat_k_by_faults(rows, ks=(1, 2))
    assert by_faults[1] == [(0, 1.0), (1, pytest.approx(2 / 3))]
    assert by_faults[2] == [(1, pytest.approx(1 / 3))]  # one baseline run: no pass^2 point


def test_judge_retention_compares_faulted_to_baseline_scores() -> None:
    rows = []
    for i, (fault, score) in enumerate([(None, 4.0), (None, 5.0), ("error", 3.0), ("timeout", None)]):
        b = LogBuilder(f"j{i}", plan={"faults": [{"site": "tool", "effect": fault}]} if fault else None)
        if fault:
            b.fault("tool", fault)
        b.verdict(
            "accuracy",
            score,
            score is not None and score >= 3,
            status="scored" if score is not None else "unscored",
        )
        rows.append(row_from_log(b.end(), test="t::j", index=i))
    assert judge_retention(rows) == [("accuracy", 4.5, 3.0, 2, 1)]
