"""``--chaos-baseline DIR``: the session's pass rates against a stored report, at session end.

The comparison is :func:`harness._report._compare.compare_results` (what ``brownout compare``
prints); its table is written beside the report as ``compare.md`` and its verdict is shown in
the terminal summary. A regression fails the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

__all__ = ["COMPARE_FILE", "compare_with_baseline", "summary_lines"]

COMPARE_FILE = "compare.md"


def compare_with_baseline(config: pytest.Config, rows: Sequence[Any], report_dir: Path | None) -> Any:
    """The comparison of ``rows`` with the report ``--chaos-baseline`` names, or None without the option.

    Raises:
        ReportError: If the baseline report cannot be read.
    """
    option = config.getoption("--chaos-baseline", None)
    if not option:
        return None
    from harness._report._compare import compare_results
    from harness._report._store import ReportError, read_results, resolve_report_dir

    base = Path(option)
    base = resolve_report_dir(base if base.is_absolute() else config.rootpath / base)
    if report_dir is not None and base.resolve() == report_dir.resolve():
        # `--chaos-baseline reports/latest`: latest points at this session now; compare with the one before.
        kept = config.pluginmanager.get_plugin(f"brownout-report-dir-{id(config)}")
        previous = getattr(kept, "previous", None)
        if kept is None or previous is None:
            raise ReportError(
                f"--chaos-baseline {option} is this session's own report and there is no earlier one. "
                "Pass the directory of a stored report (e.g. reports/<session id>)."
            )
        base = kept.pointer.parent / previous
    comparison = compare_results(read_results(base), rows)
    if report_dir is not None:
        (report_dir / COMPARE_FILE).write_text(comparison.markdown(option, "this session"), encoding="utf-8")
    return comparison


def summary_lines(comparison: Any, limit: int = 30) -> list[tuple[str, bool]]:
    """Terminal lines for the comparison: ``(text, is_bad)``; bad rows first."""
    counts = ", ".join(f"{n} {name}" for name, n in comparison.counts().items() if n)
    lines = [(f"against the baseline: {comparison.verdict} ({counts})", comparison.verdict == "regressed")]
    for row in comparison.rows[:limit]:
        # every regressed row; a test's total when it is inconclusive or improved
        if row.verdict == "regressed" or (row.verdict != "pass" and row.fault_class == "(all)"):
            extra = f"; to conclude: {row.note}" if row.note else ""
            lines.append(
                (
                    f"  {row.verdict:<12} {row.test} [{row.fault_class}]: "
                    f"{row.base.text()} -> {row.head.text()}{extra}",
                    row.verdict == "regressed",
                )
            )
    return lines
