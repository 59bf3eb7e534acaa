"""``brownout report``: re-render a stored report, merge shard reports, or list the kept ones.

- ``brownout report [DIR]`` re-renders ``report.html`` and ``summary.md`` (see :mod:`harness._report`);
- ``brownout report --merge DIR... --out OUT`` joins the reports of ``--chaos-shard`` runs;
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout report``."""
    from harness._report import add_arguments as report_arguments

    report_arguments(parser)
    parser.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="merge these shard reports (from --chaos-shard i/n runs) into the report at --out",
    )


def main(args: argparse.Namespace) -> int:
    """Merge shard reports, or re-render one report."""
    from harness._report import main as render_main

    if not args.merge:
        return int(render_main(args))
    from harness._report._merge import merge_reports
    from harness._report._store import ReportError

    if not args.out:
        print(
            "brownout report: --merge needs --out DIR, where the merged report goes "
            "(e.g. brownout report --merge shard-1 shard-2 --out reports/merged).",
            file=sys.stderr,
        )
        return 2
    try:
        page = merge_reports([Path(d) for d in args.merge], Path(args.out))
    except ReportError as exc:
        print(f"brownout report: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        sys.stdout.write((page.parent / "summary.md").read_text(encoding="utf-8"))
    else:
        print(f"report: {page}")
    return 0
