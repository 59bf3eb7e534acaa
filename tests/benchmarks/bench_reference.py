"""Benchmark: offline replay of every reference run (wall and CPU time per run, with its local services).

Run on demand, either way:

    python tests/benchmarks/bench_reference.py
    pytest tests/benchmarks/bench_reference.py

Each reference run is replayed from its committed cassette several times; the table (median
wall and CPU milliseconds per run, LLM calls, events, virtual seconds the run spans, cassette
size) goes into the "Reference systems" section of docs/benchmarks.md; other sections are left
as they are.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import benchdoc
import pytest

from scenarios import REFERENCE_RUNS, run_reference

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Reference systems"
REPEATS = 5


def _size_kb(path: Path) -> float:
    return path.stat().st_size / 1024 if path.exists() else 0.0  # a run that never asks the model has none


def measure() -> list[dict[str, Any]]:
    rows = []
    for ref in REFERENCE_RUNS:
        run_reference(ref)  # warm imports and caches
        walls, cpus = [], []
        for _ in range(REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            run = run_reference(ref)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        rows.append(
            {
                "run": ref.name,
                "wall_ms": statistics.median(walls) * 1000,
                "cpu_ms": statistics.median(cpus) * 1000,
                "llm_calls": sum(1 for e in run.log if e.kind == "llm_call"),
                "events": len(run.log),
                "virtual_s": run.log[-1].t,
                "cassette_kb": _size_kb(ref.cassette_path()),
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        HEADING,
        "",
        "Offline replay of each reference run from its committed cassette, local services included",
        f"(median of {REPEATS}; Python {platform.python_version()}, {cores} cores). Virtual s: how much time",
        "the run spans on its virtual clock, which costs no wall time.",
        "",
        "Command: `python tests/benchmarks/bench_reference.py`",
        "",
        "| reference run | wall ms | CPU ms | LLM calls | events | virtual s | cassette KiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['wall_ms']:.1f} | {r['cpu_ms']:.1f} | {r['llm_calls']} | {r['events']} "
            f"| {r['virtual_s']:.0f} | {r['cassette_kb']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace the "## Reference systems" section of docs/benchmarks.md (or append it), keeping the others."""
    benchdoc.write_section("## Reference systems", section)


@pytest.mark.benchmark
def test_reference_replay_benchmark() -> None:
    rows = measure()
    write_section(render(rows))
    assert sum(r["llm_calls"] for r in rows) > 0
    print(render(rows))


if __name__ == "__main__":
    table = render(measure())
    write_section(table)
    sys.stdout.write(table)
