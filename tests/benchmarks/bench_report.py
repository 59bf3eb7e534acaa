"""Benchmark: report rendering, OpenTelemetry export and `brownout demo` (target: demo < 5 min on 2 cores).

Run on demand, either way:

    python tests/benchmarks/bench_report.py
    pytest tests/benchmarks/bench_report.py

Writes the "## Reports and demo" section of docs/benchmarks.md (other sections are left as they are).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the _support helpers

import benchdoc
from _support.report_logs import LogBuilder, checkout_log

from harness import RunLog
from harness._report import row_from_log, write_report
from harness._report._otel import otlp_json, spans_for

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Reports and demo"
DEMO_TARGET = 300.0


def _timed(fn: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def _rows(n: int, failing_tests: int = 5) -> tuple[list, dict[str, RunLog]]:
    rows, logs = [], {}
    tests = [f"tests/test_shop.py::test_checkout[{i}]" for i in range(max(failing_tests * 2, 10))]
    for i in range(n):
        test = tests[i % len(tests)]
        fault = (None, "error", "timeout")[i % 3]
        dup = fault == "timeout" and (i % len(tests)) < failing_tests
        log = checkout_log(f"r{i:06d}", fault=fault, duplicate=dup)
        viol = (
            [{"checker": "duplicate_side_effects", "steps": [len(log) - 4], "message": "twice"}]
            if dup
            else []
        )
        rows.append(
            row_from_log(
                log,
                test=test,
                index=i // len(tests),
                mode="chaos",
                checkers_run=["duplicate_side_effects", "saga_compensation"],
                violations=viol,
                final=i >= n - len(tests),
                reproduce=f"pytest '{test}'",
            )
        )
        logs[log.run_id] = log
    return rows, logs


def _big_log(events: int) -> RunLog:
    b = LogBuilder("big")
    agents = 0
    while len(b.log) < events - 4:
        b.agent(f"worker{agents % 7}")
        b.llm()
        b.tool("lookup")
        b.tool("charge", side_effect=True, key=f"k{agents}")
        b.end_agent()
        agents += 1
    return b.end()


def measure() -> str:
    lines = [
        SECTION,
        "",
        "Reproduce with `python tests/benchmarks/bench_report.py`. Machine: "
        f"{platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPU core(s), load "
        "average "
        f"{os.getloadavg()[0]:.1f} at the start (other work on the machine slows wall times).",
        "",
        "Writing a report (`write_report`: results.parquet, failing run logs, report.html with the heatmap, "
        "both pass^k plots and one swimlane per failing test, summary.md), then re-rendering it from disk "
        "(`brownout report DIR`); 5 failing tests:",
        "",
        "| runs | write wall s | write CPU s | re-render wall s | report.html KB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in (100, 1_000, 10_000):
        rows, logs = _rows(n)
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu = _timed(lambda rows=rows, logs=logs, tmp=tmp: write_report(tmp, rows, logs=logs))
            from harness._report import render_report

            again, _ = _timed(lambda tmp=tmp: render_report(tmp))
            size = (Path(tmp) / "report.html").stat().st_size / 1024
        lines.append(f"| {n:,} | {wall:.2f} | {cpu:.2f} | {again:.2f} | {size:.0f} |")
    log = _big_log(10_000)
    wall, cpu = _timed(lambda: spans_for([log], epoch=0))
    spans = spans_for([log], epoch=0)
    jwall, _ = _timed(lambda: otlp_json(spans))
    lines += [
        "",
        f"OpenTelemetry export of one {len(log):,}-event run log: {len(spans):,} spans built through the "
        "SDK in "
        f"{wall:.2f} s wall / {cpu:.2f} s CPU ({len(spans) / cpu:,.0f} spans per CPU second); encoded as "
        "OTLP "
        f"JSON in {jwall:.2f} s.",
        "",
    ]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "demo", "--report", str(Path(tmp) / "demo")],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp,
        )
    demo = time.perf_counter() - started
    runs = re.search(r"finished in \d+ s: (\d+) runs", done.stdout)
    head = done.stdout.splitlines()[0] if done.stdout else done.stderr[:200]
    lines += [
        f"`brownout demo` with its defaults, end to end (a fresh interpreter, pytest --chaos over every "
        f"reference test with a cassette, the report): **{demo:.0f} s wall** for "
        f"{runs.group(1) if runs else '?'} runs (target < {DEMO_TARGET:.0f} s on 2 cores; exit status "
        f"{done.returncode}). It said: {head}",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace the "## Reports and demo" section of docs/benchmarks.md (or append it), keeping the others."""
    benchdoc.write_section("## Reports and demo", section)


@pytest.mark.benchmark
def test_report_benchmark() -> None:
    section = measure()
    write_section(section)
    assert SECTION in DOC.read_text(encoding="utf-8")


if __name__ == "__main__":
    text = measure()
    write_section(text)
    print(text)
