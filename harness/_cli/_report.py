"""``brownout report``: re-render a stored report, merge shard reports, or list the kept ones.

- ``brownout report [DIR]`` re-renders ``report.html`` and ``summary.md`` (see :mod:`harness._report`);
- ``brownout report --merge DIR... --out OUT`` joins the reports of ``--chaos-shard`` runs;
- ``brownout report --list [DIR]`` lists the reports kept beside ``DIR`` (default ``reports/latest``),
  newest first, marking the one ``latest`` points at.
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
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the kept reports (the folders beside DIRECTORY, or in it), newest first",
    )


def main(args: argparse.Namespace) -> int:
    """Merge shard reports, or re-render one report."""
    from harness._report import main as render_main

    if args.list:
        return _list(Path(args.directory))
    if not args.merge:
        from harness._report._store import resolve_report_dir

        args.directory = str(resolve_report_dir(Path(args.directory)))  # reports/latest may be a pointer file
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


def _list(directory: Path) -> int:
    """Print one line per kept report: its folder, runs, tests and failing tests; mark ``latest``."""
    from harness._report import summarize_tests
    from harness._report._store import ReportError, read_results, resolve_report_dir

    root = directory.parent if directory.name == "latest" or directory.is_symlink() else directory
    if not root.is_dir():
        print(
            f"brownout report: {root} is not a directory. Run `pytest --chaos` to write a report.",
            file=sys.stderr,
        )
        return 2
    pointer = root / "latest"
    current = resolve_report_dir(pointer).resolve() if pointer.exists() else None
    found = 0
    for folder in sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True):
        try:
            rows = read_results(folder)
        except ReportError:
            continue  # not a report folder
        tests = summarize_tests(rows)
        failing = sum(1 for t in tests if t.failed)
        mark = "  <- latest" if current is not None and folder.resolve() == current else ""
        print(f"{folder}  {len(rows)} run(s), {len(tests)} test(s), {failing} failing{mark}")
        found += 1
    if not found:
        print(f"brownout report: no reports in {root}. Run `pytest --chaos` to write one.", file=sys.stderr)
        return 2
    return 0
