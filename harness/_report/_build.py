"""Build a report directory from result rows, and re-render one from what it stores."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness._errors import RunLogError
from harness._log._files import write_atomically
from harness._log._runlog import RunLog
from harness._log._secrets import scrub_text, scrub_values
from harness._report._html import Figures, render_html
from harness._report._markdown import render_summary
from harness._report._plots import (
    data_uri,
    heatmaps_svg,
    pass_hat_k_faults_svg,
    pass_hat_k_svg,
    retention_svg,
    swimlane_svg,
)
from harness._report._rows import ResultRow
from harness._report._stats import heatmap, judge_retention, summarize_tests
from harness._report._store import read_results, write_results

__all__ = ["log_name", "render_report", "write_report"]

HTML = "report.html"
SUMMARY = "summary.md"
RUNS = "runs"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def log_name(test: str, index: int, run_id: str) -> str:
    """The stored run log's path, relative to the report directory (the name the plugin prints too)."""
    safe = _UNSAFE.sub("_", test).strip("_") or "test"
    return f"{RUNS}/{safe}-{index}-{run_id}.jsonl"


_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


def _scrub_page(text: str) -> str:
    # Rows are scrubbed already; this is the net. Embedded images (base64) are left alone.
    out, pos = [], 0
    for match in _DATA_URI.finditer(text):
        out += [scrub_text(text[pos : match.start()]), match[0]]
        pos = match.end()
    out.append(scrub_text(text[pos:]))
    return "".join(out)


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, _scrub_page(text).encode("utf-8"))


def write_report(
    directory: str | os.PathLike[str],
    rows: Sequence[ResultRow],
    *,
    logs: Mapping[str, RunLog] | None = None,
    fmt: str | None = None,
) -> Path:
    """Write a full report into ``directory``: results table, failing run logs, report.html, summary.md.

    Args:
        directory: The report directory (created if missing).
        rows: One :class:`ResultRow` per run.
        logs: Run logs by run id; those of failing runs without a stored log are written
            under ``runs/`` and linked from their rows.
        fmt: ``"parquet"`` or ``"csv"`` for the results table (default parquet when pyarrow is installed).

    Returns:
        The path of ``report.html``.

    The page is rendered from the table as read back from disk, so ``brownout report
    DIR`` later produces the same bytes.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    stored: list[ResultRow] = []
    for row in rows:
        log = (logs or {}).get(row.run_id)
        if not row.ok and not row.log and log is not None:
            name = log_name(row.test, row.index, row.run_id)
            log.write(target / name)
            row = row.model_copy(update={"log": name})
        stored.append(ResultRow(**scrub_values(row.model_dump())))
    write_results(target, stored, fmt=fmt)
    return render_report(target)


def _figures(directory: Path, rows: Sequence[ResultRow]) -> Figures:
    tests = summarize_tests(rows)
    by_test: dict[str, list[ResultRow]] = {}
    for row in rows:
        by_test.setdefault(row.test, []).append(row)
    per_test = [(t, sorted(g, key=lambda r: r.index)) for t, g in sorted(by_test.items())]
    repeated = any(len(g) >= 2 for _, g in per_test)
    retention = judge_retention(rows)
    lanes: dict[str, str] = {}
    for summary in tests:
        final = summary.final
        if not summary.failed or not final.log:
            continue
        try:
            log = RunLog.read(directory / final.log)
        except RunLogError:
            continue  # the page says where the log should be; a missing one leaves no swimlane
        steps = [s for v in final.violation_list() for s in v.get("steps", [])]
        title = f"{final.test} · run {final.run_id} · {final.outcome}"
        lanes[summary.test] = data_uri(swimlane_svg(log, steps, title))
    return Figures(
        heatmap=data_uri(heatmaps_svg([(s.test, heatmap(by_test[s.test])) for s in tests])),
        pass_hat_k=data_uri(pass_hat_k_svg(per_test)) if repeated else None,
        pass_hat_k_faults=data_uri(pass_hat_k_faults_svg(rows)) if len(rows) >= 2 else None,
        retention=data_uri(retention_svg(retention)) if retention else None,
        swimlanes=lanes,
    )


def render_report(directory: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Render report.html and summary.md from the results stored in ``directory``.

    Args:
        directory: A report directory written by ``pytest --chaos-report`` or :func:`write_report`.
        out: Where to write the page and summary (default: ``directory`` itself).

    Returns:
        The path of ``report.html``.
    """
    source = Path(directory)
    rows = read_results(source)
    target = Path(out) if out is not None else source
    tests = summarize_tests(rows)
    page = render_html(rows, tests, _figures(source, rows))
    _write_text(target / HTML, page)
    _write_text(target / SUMMARY, render_summary(rows, tests))
    return target / HTML
