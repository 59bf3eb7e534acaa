"""``brownout compare BASE HEAD``: the statistical reliability gate over two stored reports.

Prints a Markdown table (for a CI job summary) of each test's pass rate, and each fault
class's, in both reports with their confidence intervals and a verdict; exits with the
overall verdict's status: 0 pass, 1 regressed, 3 inconclusive, 4 improved (2: usage error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout compare``."""
    parser.add_argument("base", help="the baseline report directory (e.g. the main branch's)")
    parser.add_argument("head", help="the report directory to judge against it")
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence level of each interval (default 0.95)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="a drop in pass rate smaller than this is not a regression (default 0.05: 5 points)",
    )
    parser.add_argument(
        "--method",
        choices=("clopper-pearson", "wilson"),
        default="clopper-pearson",
        help="the interval: exact Clopper-Pearson (default) or Wilson",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="also write the Markdown table to FILE",
    )


def main(args: argparse.Namespace) -> int:
    """Compare ``args.head`` against ``args.base``; the exit status is the overall verdict's."""
    from harness._report._compare import compare_results
    from harness._report._store import ReportError, read_results, resolve_report_dir

    try:
        base_dir, head_dir = resolve_report_dir(Path(args.base)), resolve_report_dir(Path(args.head))
        comparison = compare_results(
            read_results(base_dir),
            read_results(head_dir),
            confidence=args.confidence,
            tolerance=args.tolerance,
            method=args.method,
        )
    except ReportError as exc:
        print(f"brownout compare: {exc}", file=sys.stderr)
        return 2
    text = comparison.markdown(args.base, args.head)
    sys.stdout.write(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    print(f"brownout compare: {comparison.verdict} (exit status {comparison.exit_code})", file=sys.stderr)
    return comparison.exit_code
