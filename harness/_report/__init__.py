"""Reliability reports: result rows, outcome classes, the HTML/Markdown report and ``brownout report``.

``pytest --chaos-report DIR`` (default ``reports/latest``) writes, into DIR:

- ``report.html``: one self-contained page with the plots embedded;
- ``summary.md``: a short Markdown summary for a CI job summary;
- ``results.parquet`` (or ``results.csv`` without pyarrow): one row per run, for pandas;
- ``runs/``: the run logs of failing runs.

``brownout report DIR`` re-renders the page and summary from the stored table and logs,
byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness._report._build import log_name, render_report, write_report
from harness._report._rows import OUTCOMES, Outcome, ResultRow, classify, error_row, row_from_log
from harness._report._stats import heatmap, judge_retention, pass_hat_k, summarize_tests
from harness._report._store import ReportError, read_results, results_frame, write_results

__all__ = [
    "OUTCOMES",
    "Outcome",
    "ReportError",
    "ResultRow",
    "add_arguments",
    "classify",
    "error_row",
    "heatmap",
    "judge_retention",
    "log_name",
    "main",
    "pass_hat_k",
    "read_results",
    "render_report",
    "results_frame",
    "row_from_log",
    "summarize_tests",
    "write_report",
    "write_results",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout report``."""
    parser.add_argument(
        "directory",
        nargs="?",
        default="reports/latest",
        help="a report directory written by `pytest --chaos-report DIR` (default reports/latest)",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write report.html and summary.md here instead of into DIRECTORY",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="also print summary.md to standard output (e.g. >> $GITHUB_STEP_SUMMARY)",
    )


def main(args: argparse.Namespace) -> int:
    """Re-render the report in ``args.directory`` from its stored results."""
    try:
        page = render_report(Path(args.directory), args.out)
    except ReportError as exc:
        print(f"brownout report: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        sys.stdout.write((page.parent / "summary.md").read_text(encoding="utf-8"))
    else:
        print(f"report: {page}")
    return 0
