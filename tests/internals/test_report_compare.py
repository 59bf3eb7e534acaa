"""`brownout compare`: exact binomial intervals (checked against scipy), verdicts and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._report import ResultRow, write_results
from harness._report._compare import (
    ALL_FAULTS,
    EXIT_CODES,
    clopper_pearson,
    compare_results,
    interval,
    wilson,
)
from harness.cli import main as cli_main

stats = pytest.importorskip("scipy.stats", reason="scipy (the `test` extra) checks the intervals")

TEST = "tests/test_shop.py::test_checkout"


def _rows(passed: int, runs: int, *, test: str = TEST, kind: str = "tool.timeout") -> list[ResultRow]:
    """``runs`` chaos runs of ``test`` hit by ``kind``, the first ``passed`` of them handled."""
    return [
        ResultRow(
            test=test,
            index=i,
            mode="chaos",
            fault_kinds=kind,
            faults_injected=1 if kind else 0,
            outcome=("handled" if kind else "pass") if i < passed else "silent",
            checkers_violated="" if i < passed else "duplicate_side_effects",
        )
        for i in range(runs)
    ]


def _store(tmp_path: Path, name: str, rows: list[ResultRow]) -> str:
    write_results(tmp_path / name, rows)
    return str(tmp_path / name)


@pytest.mark.parametrize("runs", [1, 5, 20, 50, 200, 5000])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_equal_scipy_exact_and_wilson(runs: int, confidence: float) -> None:
    for passed in sorted({0, 1, runs // 3, runs // 2, runs - 1, runs}):
        exact = stats.binomtest(passed, runs).proportion_ci(confidence, method="exact")
        assert clopper_pearson(passed, runs, confidence) == pytest.approx((exact.low, exact.high), abs=1e-9)
        score = stats.binomtest(passed, runs).proportion_ci(confidence, method="wilson")
        assert wilson(passed, runs, confidence) == pytest.approx((score.low, score.high), abs=1e-9)


def test_interval_rejects_impossible_counts() -> None:
    from harness._errors import ReportError

    with pytest.raises(ReportError, match=r"passed=6, runs=5"):
        interval(6, 5)
    with pytest.raises(ReportError, match="not supported"):
        interval(1, 5, method="normal")


def _cli(
    tmp_path: Path, base: list[ResultRow], head: list[ResultRow], capsys: pytest.CaptureFixture[str]
) -> tuple[int, pytest.CaptureResult[str]]:
    code = cli_main(["compare", _store(tmp_path, "base", base), _store(tmp_path, "head", head)])
    return code, capsys.readouterr()


def _table_row(markdown: str, fault_class: str) -> str:
    return next(line for line in markdown.splitlines() if f"| {fault_class} |" in line)


def test_clear_regression_is_regressed_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(tmp_path, _rows(50, 50), _rows(20, 50), capsys)
    assert code == EXIT_CODES["regressed"] == 1
    assert out.out.startswith("## brownout compare: **regressed**")
    line = _table_row(out.out, ALL_FAULTS)
    low, high = stats.binomtest(20, 50).proportion_ci(0.95, method="exact")
    assert "**regressed**" in line and f"`{TEST}`" in line
    assert f"20/50 = 40% [{low * 100:.1f}%, {high * 100:.1f}%]" in line
    assert "50/50 = 100%" in line
    assert "**regressed**" in _table_row(out.out, "tool.timeout")
    assert "regressed (exit status 1)" in out.err


def test_clear_improvement_is_improved_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(tmp_path, _rows(20, 50), _rows(50, 50), capsys)
    assert code == EXIT_CODES["improved"] == 4
    assert out.out.startswith("## brownout compare: **improved**")
    assert _table_row(out.out, ALL_FAULTS).startswith("| improved |")


def test_small_sample_is_inconclusive_exit_3_with_the_trials_that_would_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _cli(tmp_path, _rows(5, 5), _rows(4, 5), capsys)
    assert code == EXIT_CODES["inconclusive"] == 3
    comparison = compare_results(_rows(5, 5), _rows(4, 5))
    total = next(r for r in comparison.rows if r.fault_class == ALL_FAULTS)
    assert total.verdict == "inconclusive"
    needed = total.trials_needed
    assert needed is not None and needed > 5
    assert f"{needed} runs per side" in _table_row(out.out, ALL_FAULTS)
    # `needed` runs per side at the observed rates (100% and 80%) decide; one fewer does not.
    at = compare_results(_rows(needed, needed), _rows(round(0.8 * needed), needed))
    before = compare_results(_rows(needed - 1, needed - 1), _rows(round(0.8 * (needed - 1)), needed - 1))
    assert at.verdict == "regressed"
    assert before.verdict == "inconclusive"


def test_same_rate_with_enough_runs_passes_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(tmp_path, _rows(200, 200), _rows(199, 200), capsys)
    assert code == EXIT_CODES["pass"] == 0
    assert out.out.startswith("## brownout compare: **pass**")
    # the same data with few runs cannot tell a pass from a small regression
    assert compare_results(_rows(20, 20), _rows(19, 20)).verdict == "inconclusive"


def test_a_fault_class_regression_fails_the_gate_even_when_the_total_does_not(tmp_path: Path) -> None:
    base = _rows(100, 100, kind="tool.timeout") + _rows(30, 30, kind="llm.rate_limit")
    head = _rows(100, 100, kind="tool.timeout") + _rows(5, 30, kind="llm.rate_limit")
    comparison = compare_results(base, head)
    verdicts = {r.fault_class: r.verdict for r in comparison.rows}
    assert verdicts["llm.rate_limit"] == "regressed"
    assert verdicts["tool.timeout"] == "pass"
    assert comparison.verdict == "regressed"


def test_a_test_missing_on_one_side_is_inconclusive(tmp_path: Path) -> None:
    comparison = compare_results(_rows(50, 50), _rows(50, 50) + _rows(50, 50, test="t::new"))
    new = next(r for r in comparison.rows if r.test == "t::new" and r.fault_class == ALL_FAULTS)
    assert (new.verdict, new.note) == ("inconclusive", "no runs in base")
    assert comparison.verdict == "inconclusive"


def test_unreadable_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["compare", str(tmp_path / "nope"), str(tmp_path / "nope2")]) == 2
    assert "no results.parquet or results.csv" in capsys.readouterr().err
