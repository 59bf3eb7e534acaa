"""The report's judge verdicts: variance next to each verdict, token cost per verdict and per run."""

from __future__ import annotations

import json
from pathlib import Path

from _support.report_logs import checkout_log

from harness._report import (
    ResultRow,
    read_results,
    results_frame,
    row_from_log,
    summarize_tests,
    write_results,
)
from harness._report._html import Figures, render_html
from harness._report._markdown import render_summary
from harness.events import Verdict as VerdictEvent

ENSEMBLE = {
    "score": 0.75,
    "passed": True,
    "status": "scored",
    "agreement": 0.6667,
    "spread": {"n": 3, "low": 0.25, "high": 1.0, "mean": 0.6667, "stdev": 0.3819, "majority": 0.6667},
    "prompt_tokens": 1260,
    "completion_tokens": 123,
}
SINGLE = {"score": 0.0, "passed": False, "status": "scored", "prompt_tokens": 400, "completion_tokens": 41}
CACHED = {
    "score": 1.0,
    "passed": True,
    "status": "scored",
    "prompt_tokens": 99,
    "completion_tokens": 9,
    "cached": True,
}


def _rows() -> list[ResultRow]:
    return [
        row_from_log(checkout_log("r1"), test="t::test_answer", judges={"answer": ENSEMBLE}, final=True),
        row_from_log(
            checkout_log("r2"), test="t::test_brief", judges={"brief": SINGLE, "tone": CACHED}, final=True
        ),
    ]


def test_rows_keep_variance_and_cost_and_sum_the_tokens_paid() -> None:
    ensemble, single = _rows()
    entry = ensemble.judge_map()["answer"]
    assert entry["spread"]["stdev"] == 0.3819 and entry["agreement"] == 0.6667
    assert (ensemble.judge_prompt_tokens, ensemble.judge_completion_tokens) == (1260, 123)
    # a cached verdict was not paid for again
    assert (single.judge_prompt_tokens, single.judge_completion_tokens) == (400, 41)


def test_verdict_events_in_the_log_carry_their_detail_into_the_row() -> None:
    log = checkout_log("r3")
    log.append(
        VerdictEvent(
            run_id=log.run_id,
            seq=len(log),
            t=0.0,
            step_id=f"s{len(log)}",
            rubric="answer",
            passed=True,
            score=0.75,
            detail={
                "agreement": 1.0,
                "spread": ENSEMBLE["spread"],
                "prompt_tokens": 7,
                "completion_tokens": 3,
            },
        )
    )
    row = row_from_log(log, test="t::x")
    assert row.judge_map()["answer"]["spread"]["n"] == 3.0
    assert (row.judge_prompt_tokens, row.judge_completion_tokens) == (7, 3)


def test_html_and_markdown_show_variance_next_to_each_verdict_and_the_cost() -> None:
    rows = _rows()
    tests = summarize_tests(rows)
    page = render_html(
        rows,
        tests,
        Figures(heatmap="data:,", pass_hat_k=None, pass_hat_k_faults=None, retention=None, swimlanes={}),
    )
    assert "<h2>Judge verdicts</h2>" in page
    assert "0.25..1.00, sd 0.38, 67% on the majority side (n=3)" in page
    assert "1260 + 123" in page and "99 + 9 (cached)" in page
    assert "3 judge verdict(s) cost 1660 prompt + 164 completion tokens" in page
    # the failing test's section lists its verdicts inline (no agreement or spread for one judge)
    assert (
        "<b>Judges:</b> brief: FAILED, score 0.00, tokens 400 + 41; tone: PASSED, score 1.00, tokens 99 + 9"
        in page
    )
    summary = render_summary(rows, tests)
    assert "### Judge verdicts (each test's last run)" in summary
    assert (
        "| `t::test_answer` | answer | PASSED | 0.75 | 67% | "
        "0.25..1.00, sd 0.38, 67% on the majority side (n=3) | 1260 + 123 |" in summary
    )
    assert "| `t::test_brief` | brief | FAILED | 0.00 | - | - (one judge) | 400 + 41 |" in summary
    assert "3 judge verdict(s) cost 1660 prompt + 164 completion tokens." in summary


def test_the_results_table_has_the_judge_token_columns(tmp_path: Path) -> None:
    rows = _rows()
    frame = results_frame(rows)
    assert list(frame["judge_prompt_tokens"]) == [1260, 400]
    assert list(frame["judge_completion_tokens"]) == [123, 41]
    write_results(tmp_path, rows)
    assert [r.judge_prompt_tokens for r in read_results(tmp_path)] == [1260, 400]
    assert json.loads(read_results(tmp_path)[0].judges)["answer"]["spread"]["majority"] == 0.6667


def test_a_table_written_before_the_token_columns_still_reads(tmp_path: Path) -> None:
    frame = results_frame(_rows()).drop(columns=["judge_prompt_tokens", "judge_completion_tokens"])
    frame.to_csv(tmp_path / "results.csv", index=False)
    assert [r.judge_prompt_tokens for r in read_results(tmp_path)] == [0, 0]
