"""Benchmark: all default checkers on large run logs (target: a 100,000-event log in under 1 s).

Run on demand, either way:

    python tests/benchmarks/bench_checkers.py
    pytest tests/benchmarks/bench_checkers.py

It builds synthetic logs that use every event kind the checkers read (agents, LLM
calls with and without server usage, retried and failed tool calls, side effects with
idempotency keys, compensations, state reads and compare-and-set writes, fencing
tokens, waits, spawns and joins, handoffs carrying a task constraint, postconditions),
times ``run_checks(log, "default")`` at several sizes, and writes the table to the
"Checkers" section of docs/benchmarks.md (other sections are left as they are).
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import benchdoc
import pytest

from harness import RunLog, run_checks
from harness._checkers import _common
from harness.checkers import get_checkers
from harness.events import (
    AgentEnd,
    AgentStart,
    Constraint,
    Handoff,
    Join,
    LLMCall,
    Postcondition,
    RunEnd,
    RunStart,
    Spawn,
    StateRead,
    StateWrite,
    ToolCall,
    Wait,
    digest,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
SIZES = (10_000, 50_000, 100_000)
REPEATS = 5
TARGET_SECONDS = 1.0


class _Log:
    def __init__(self) -> None:
        self.log = RunLog("bench")
        self.scope: tuple[str, str] | None = None

    def add(self, cls: Any, **fields: Any) -> Any:
        seq = len(self.log)
        values: dict[str, Any] = {
            "run_id": "bench",
            "seq": seq,
            "t": seq * 0.01,
            "step_id": f"s{seq}",
            "parent_step_id": self.scope[1] if self.scope else None,
            "agent": self.scope[0] if self.scope else None,
        }
        values.update(fields)
        event = cls(**values)
        self.log.append(event)
        return event


def _tool(b: _Log, name: str, args: dict[str, Any], **fields: Any) -> None:
    b.add(ToolCall, name=name, args=args, args_digest=digest([name, args]), **fields)


def build_log(size: int, *, violating: bool) -> RunLog:
    """A run log of exactly ``size`` events; with ``violating``, every tenth unit breaks some checkers."""
    b = _Log()
    b.add(RunStart, entry="bench:system")
    b.add(Constraint, name="max_budget_usd", value=10000)
    unit = 0
    while len(b.log) < size - 40:
        name = f"researcher-{unit % 50}"
        start = b.add(AgentStart, name=name, agent=name, budget_tokens=4000)
        b.scope = (name, start.step_id)
        usage = None if unit % 10 == 0 else 1200
        b.add(
            LLMCall,
            path="/v1/chat/completions",
            model="smollm2",
            request_digest=f"d{unit}",
            messages=[{"role": "system", "content": "Summarise."}, {"role": "user", "content": "text " * 60}],
            prompt_tokens=usage,
        )
        url = {"url": f"https://example.com/{unit}"}
        _tool(b, "fetch", url, status="error", error="reset")
        if not (violating and unit % 10 == 0):
            _tool(b, "fetch", url, attempt=2)  # the retry
        key = None if violating and unit % 10 == 0 else f"k{unit}"
        note = {"user": f"u{unit}"}
        _tool(b, "notify", note, side_effect=True, idempotency_key=key)
        _tool(b, "notify", note, side_effect=True, idempotency_key=key, attempt=2)
        version = unit
        b.add(StateRead, store="kv", key=f"doc{unit % 20}", version=version)
        b.add(
            StateWrite,
            store="kv",
            key=f"doc{unit % 20}",
            op="cas",
            expected_version=version,
            current_version=version,
            new_version=version + 1,
            fencing_token=unit,
        )
        wait = b.add(Wait, phase="begin", waiter=name, waits_for=f"writer-{unit % 7}", resource=f"ch{unit}")
        b.add(Wait, phase="end", waiter=name, resource=f"ch{unit}", outcome="ok", step_id=wait.step_id)
        b.add(Spawn, task=f"t{unit}", target=f"t{unit}")
        b.add(Join, task=f"t{unit}", outcome="ok")
        payload: dict[str, Any] = {"topic": f"topic {unit}", "notes": "x" * 40}
        if not (violating and unit % 10 == 0):
            payload["max_budget_usd"] = 10000
        b.add(Handoff, source=name, target="writer", payload=payload, schema_name="Brief", valid=True)
        b.add(Postcondition, name="cites a source", holds=True)
        for i in range(3):
            digest_text = f"e{unit}-{i}"
            b.add(
                LLMCall,
                path="/v1/chat/completions",
                model="smollm2",
                request_digest=digest_text,
                prompt_tokens=800,
            )
            _tool(b, "lookup", {"q": f"{unit}-{i}"})
        b.scope = None
        b.add(AgentEnd, step_id=start.step_id, name=name, agent=name, status="ok", start_seq=start.seq)
        unit += 1
    while len(b.log) < size - 1:
        _tool(b, "lookup", {"q": f"pad-{len(b.log)}"})
    b.add(RunEnd, status="ok", output={"answer": "within the 10,000 budget", "max_budget_usd": 10000})
    assert len(b.log) == size
    return b.log


def _time(log: RunLog, selection: Any = "default", *, cold: bool = True) -> tuple[float, float, int]:
    """(median wall s, median CPU s, violations); ``cold`` rebuilds the kind index before each run."""
    wall, cpu = [], []
    found = 0
    run_checks(log, selection)  # warm-up: imports, tiktoken's encoding
    for _ in range(REPEATS):
        if cold:
            _common._LAST.clear()
        started, started_cpu = time.perf_counter(), time.process_time()
        found = len(run_checks(log, selection))
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu), found


def measure() -> dict[str, Any]:
    rows = []
    for size in SIZES:
        for violating in (False, True):
            log = build_log(size, violating=violating)
            wall, cpu, found = _time(log)
            rows.append((size, "every 10th unit violates" if violating else "clean", wall, cpu, found))
    big = build_log(SIZES[-1], violating=True)
    per_checker = [(spec.name, *_time(big, [spec.name], cold=False)[:2]) for spec in get_checkers("default")]
    return {"rows": rows, "per_checker": per_checker}


def render(result: dict[str, Any]) -> str:
    lines = [
        "## Checkers",
        "",
        'All default checkers (`run_checks(log, "default")`) on synthetic run logs that use every '
        "event kind the checkers read; median of 5 runs after a warm-up, each run building the "
        "shared index of the log's events by kind from scratch. Wall time counts "
        "whatever else the machine was doing; CPU time is the checkers' own cost. Reproduce with "
        "`python tests/benchmarks/bench_checkers.py`.",
        "",
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{_cpus()} CPU core(s), load average {_load()} while measuring. "
        f"Target: a 100,000-event log in under {TARGET_SECONDS:g} s.",
        "",
        "| events | log | violations | wall s | CPU s | CPU µs per event |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for size, kind, wall, cpu, found in result["rows"]:
        lines.append(f"| {size:,} | {kind} | {found:,} | {wall:.3f} | {cpu:.3f} | {cpu / size * 1e6:.2f} |")
    lines += [
        "",
        f"Per checker, on the {SIZES[-1]:,}-event log with violations (index already built):",
        "",
        "| checker | wall s | CPU s |",
        "|---|---:|---:|",
    ]
    for name, wall, cpu in result["per_checker"]:
        lines.append(f"| {name} | {wall:.3f} | {cpu:.3f} |")
    lines.append("")
    return "\n".join(lines)


def _load() -> str:
    import os

    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_section(section: str) -> None:
    """Replace the "## Checkers" section of docs/benchmarks.md (or append it), keeping the others."""
    benchdoc.write_section("## Checkers", section)


@pytest.mark.benchmark
def test_checkers_benchmark() -> None:
    result = measure()
    write_section(render(result))
    # Linear: the time per event at 100k is within 3x of that at 10k (a quadratic checker is ~10x).
    clean = {size: cpu / size for size, kind, _, cpu, _ in result["rows"] if kind == "clean"}
    assert clean[SIZES[-1]] < 3 * clean[SIZES[0]]
    print(render(result))


if __name__ == "__main__":
    outcome = measure()
    text = render(outcome)
    write_section(text)
    sys.stdout.write(text)
