"""report.html, summary.md, the results table and `brownout report` re-rendering byte for byte."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _support.report_logs import checkout_log

from harness import RunLog
from harness._report import ReportError, ResultRow, read_results, render_report, row_from_log, write_report
from harness.cli import main as cli_main

VIOLATION = {
    "checker": "duplicate_side_effects",
    "severity": "critical",
    "steps": [11, 12],
    "message": "Let step 11 send the email, then step 12 send it again, so the customer got two.",
    "why": "a duplicated side effect reached a customer",
}


def _runs() -> tuple[list[ResultRow], dict[str, RunLog]]:
    rows, logs = [], {}
    specs = [
        ("t/test_shop.py::test_checkout[naive]", dict(fault="timeout", duplicate=True), [VIOLATION]),
        ("t/test_shop.py::test_checkout[naive]", dict(fault="error"), []),
        ("t/test_shop.py::test_checkout[naive]", dict(), []),
        ("t/test_shop.py::test_checkout[naive]", dict(fault="timeout", duplicate=True), [VIOLATION]),
        ("t/test_shop.py::test_checkout[hardened]", dict(fault="timeout"), []),
        ("t/test_shop.py::test_checkout[hardened]", dict(fault="error"), []),
        ("t/test_shop.py::test_checkout[hardened]", dict(), []),
        ("t/test_mail.py::test_notify", dict(crash=True), []),
    ]
    index: dict[str, int] = {}
    for n, (test, kwargs, violations) in enumerate(specs):
        log = checkout_log(f"run{n:02d}", **kwargs)  # type: ignore[arg-type]
        i = index.get(test, 0)
        index[test] = i + 1
        final = n in (3, 6, 7)
        rows.append(
            row_from_log(
                log,
                test=test,
                index=i,
                mode="chaos",
                checkers_run=["duplicate_side_effects", "saga_compensation"],
                violations=violations,
                final=final,
                reproduce=f"pytest '{test}' --chaos-plan='{{}}'" if final else "",
            )
        )
        logs[log.run_id] = log
    return rows, logs


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows, logs = _runs()
    directory = tmp_path_factory.mktemp("report")
    page = write_report(directory, rows, logs=logs)
    assert page == directory / "report.html"
    return directory


def test_writes_every_artifact(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == [
        "report.html",
        "results.parquet",
        "runs",
        "summary.md",
    ]
    stored = sorted(p.name for p in (report_dir / "runs").iterdir())
    # the failing runs' logs only: two silent runs of the naive test and the loud one
    assert stored == [
        "t_test_mail.py_test_notify-0-run07.jsonl",
        "t_test_shop.py_test_checkout_naive-0-run00.jsonl",
        "t_test_shop.py_test_checkout_naive-3-run03.jsonl",
    ]
    log = RunLog.read(report_dir / "runs" / stored[1])
    assert log.run_id == "run00"


def test_results_table_is_pandas_readable(report_dir: Path) -> None:
    frame = pd.read_parquet(report_dir / "results.parquet")
    assert len(frame) == 8
    assert frame.groupby("outcome").size().to_dict() == {"handled": 3, "loud": 1, "pass": 2, "silent": 2}
    naive = frame[frame.test.str.endswith("[naive]")]
    assert list(naive.checkers_violated) == ["duplicate_side_effects", "", "", "duplicate_side_effects"]
    assert frame.llm_replayed.sum() == 16


def test_rerender_is_byte_for_byte(report_dir: Path, tmp_path: Path) -> None:
    html = (report_dir / "report.html").read_bytes()
    summary = (report_dir / "summary.md").read_bytes()
    moved = tmp_path / "elsewhere"
    shutil.copytree(report_dir, moved)
    assert cli_main(["report", str(moved)]) == 0
    assert (moved / "report.html").read_bytes() == html
    assert (moved / "summary.md").read_bytes() == summary
    render_report(report_dir)
    assert (report_dir / "report.html").read_bytes() == html


def test_csv_table_renders_the_same_page(report_dir: Path, tmp_path: Path) -> None:
    rows = read_results(report_dir)
    shutil.copytree(report_dir / "runs", tmp_path / "runs")
    write_report(tmp_path, rows, fmt="csv")
    assert not (tmp_path / "results.parquet").exists()
    assert read_results(tmp_path) == rows
    assert (tmp_path / "report.html").read_bytes() == (report_dir / "report.html").read_bytes()


def test_page_is_self_contained_and_shows_the_plots(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:|//)', page)
    images = re.findall(r'<img class="plot" alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)"', page)
    alts = [alt for alt, _ in images]
    assert "heatmap" in alts and "pass^k per test" in alts and "pass^k vs faults" in alts
    assert alts.count("swimlane of t/test_shop.py::test_checkout[naive]") == 1
    assert "swimlane of t/test_mail.py::test_notify" in alts
    for _alt, data in images:
        svg = base64.b64decode(data).decode("utf-8")
        assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg
    # silent failures are listed before loud ones
    assert page.index("test_checkout[naive]</code></h3>") < page.index("test_notify</code></h3>")
    assert "Let step 11 send the email" in page
    assert "pytest &#x27;t/test_shop.py::test_checkout[naive]&#x27;" in page


def test_summary_markdown_lists_failures_and_commands(report_dir: Path) -> None:
    text = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert "**3 test(s), 8 run(s):** 2 silent, 1 loud, 3 handled, 2 pass." in text
    failing = text.split("failing test(s)")[1]
    assert failing.index("test_checkout[naive]") < failing.index("test_notify")
    assert "test_checkout[hardened]" not in failing.split("Reproduce")[0]
    assert "pytest 't/test_shop.py::test_checkout[naive]' --chaos-plan='{}'" in text
    assert "| `t/test_shop.py::test_checkout[naive]` | 🔇 silent | 4 (2 / 0 / 0) |" in text


def test_missing_results_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReportError, match=r"no results.parquet or results.csv here.*--chaos-report"):
        read_results(tmp_path)
    assert cli_main(["report", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_foreign_table_is_rejected_with_the_missing_columns(tmp_path: Path) -> None:
    pd.DataFrame({"test": ["a"], "outcome": ["pass"]}).to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(ReportError, match=r"columns system, run_id.* are missing"):
        read_results(tmp_path)


def test_missing_run_log_leaves_no_swimlane_but_renders(report_dir: Path, tmp_path: Path) -> None:
    shutil.copy(report_dir / "results.parquet", tmp_path / "results.parquet")
    render_report(tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "swimlane of" not in page
    assert "runs/t_test_shop.py_test_checkout_naive-3-run03.jsonl" in page


def test_summary_flag_prints_markdown(
    report_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli_main(["report", str(report_dir), "--out", str(out), "--summary"]) == 0
    assert capsys.readouterr().out == (out / "summary.md").read_text(encoding="utf-8")
