"""Benchmark: chaos runs per second, pytest-xdist scaling, and what a 30 s timeout fault costs.

- **Virtual time**: wall time of one run whose only step is a 30 s timeout fault, (a) on a
  tool, (b) on an LLM call made with the official openai SDK (client timeout 30 s) over an
  in-process transport. Target: < 100 ms.
- **Runs per second**: a small async multi-agent system (orchestrator, three workers, tool
  calls, a channel, a shared store; ~40 events a run) explored by ``pytest --chaos`` with
  the default checkers, one process, single core. Measured from the test's call phase, so
  it includes Hypothesis generation and every checker. Also the raw rate of
  ``run_system`` + fault hooks + checkers without Hypothesis. Target: >= 100 runs/s.
- **xdist scaling**: the same session of 4 chaos tests run with ``-p no:xdist`` and with
  ``-n 2``; speed-up of the whole session wall time. Target: >= 1.8x.

Run on demand: ``python tests/benchmarks/bench_chaos.py`` (or ``pytest tests/benchmarks/bench_chaos.py``).
It rewrites only the "Chaos runs" section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from faults import Fault, FaultPlan, Timeout
from faults._clock import _real_perf_counter as clock
from harness import agent, run_system, tool
from harness._checks import run_checks

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Chaos runs"

SYSTEM = """
import asyncio

from harness import Channel, StateStore, WorkerKilled, agent, tool


@tool("fetch")
async def fetch(q):
    return {"q": q, "hits": 3}


@tool("charge", side_effect=True)
async def charge(amount, *, idempotency_key=None):
    return {"ok": True, "amount": amount}


async def worker(name, inbox, store):
    async with agent(name):
        task = await inbox.receive(timeout=30, receiver=name)
        data = await asyncio.wait_for(fetch(task), 20)
        current = await store.aread("total")
        await store.acompare_and_set("total", current.version, (current.value or 0) + data["hits"])
        return data


NAMES = ("w1", "w2", "w3")


async def system(order):
    try:  # a supervisor around the whole flow: a hung or crashed orchestrator is reported
        return await asyncio.wait_for(orchestrate(order), 300)
    except (TimeoutError, WorkerKilled):
        return {"answered": 0, "failed": 3, "paid": False}


async def orchestrate(order):
    inbox, store = Channel("inbox", producer="orchestrator"), StateStore("ledger")
    if True:
        async with agent("orchestrator"):
            for name in NAMES:
                await inbox.send(f"{order}-{name}", recipient=name)
            results = await asyncio.wait_for(
                asyncio.gather(*(worker(n, inbox, store) for n in NAMES), return_exceptions=True),
                120,
            )
            ok = [r for r in results if isinstance(r, dict)]
            try:
                paid = await asyncio.wait_for(charge(len(ok), idempotency_key=order), 20)
            except Exception:
                paid = None
            return {"answered": len(ok), "failed": 3 - len(ok), "paid": paid is not None}
"""

# Every checker runs on every run; the test accepts what they find (it measures throughput,
# so every example must run instead of stopping at the first finding to shrink it).
TEST = """
import pytest
from harness._fixture import ViolationsFound
from chaos_system import system

@pytest.mark.chaos(faults=["tool", "message", "state", "worker"], checks="default", max_faults=3)
def test_orders_{n}(chaos):
    try:
        run = chaos.run(system, "order-{n}")
    except ViolationsFound as found:
        run = found.run
    assert run.output["answered"] + run.output["failed"] == 3
"""


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Machine: {platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPU core(s); "
        f"load average {load:.1f} when measured (other work on the machine slows wall times)."
    )


# -- virtual time --------------------------------------------------------------------------
@tool("slow_service")
async def slow_service() -> str:
    return "ok"


async def _tool_system() -> Any:
    async with agent("caller"):
        try:
            return await slow_service()
        except TimeoutError:
            return "timed out"


def _llm_system() -> Any:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json={}))

    async def system() -> Any:
        client = openai.AsyncOpenAI(
            base_url="http://127.0.0.1:9/v1",
            api_key="sk-bench",
            max_retries=0,
            timeout=30.0,
            http_client=httpx2.AsyncClient(transport=transport),
        )
        async with agent("caller"):
            try:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            except openai.APITimeoutError:
                return "timed out"
        return "answered"

    return system


def measure_timeout(repeats: int = 30) -> dict[str, float]:
    out = {}
    for label, fn, site, target in (
        ("tool", _tool_system, "tool", "slow_service"),
        ("llm (openai SDK)", _llm_system(), "llm", "caller"),
    ):
        plan = FaultPlan(faults=(Fault(site=site, target=target, call=1, effect=Timeout(after=30.0)),))  # type: ignore[arg-type]
        times = []
        for _ in range(repeats):
            started = clock()
            run = run_system(fn, hooks=plan.hooks())
            times.append(clock() - started)
            assert run.output == "timed out" and run.log[-1].t == pytest.approx(30.0), run.output
        out[label] = statistics.median(times) * 1000
    return out


# -- runs per second ------------------------------------------------------------------------
def _write_project(directory: Path, tests: int) -> None:
    (directory / "chaos_system.py").write_text(SYSTEM)
    for n in range(tests):
        (directory / f"test_orders_{n}.py").write_text(TEST.replace("{n}", str(n)))
    (directory / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")


def _pytest(directory: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(directory)}
    started = clock()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--durations=0", "--durations-min=0", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = clock() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"pytest failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        )
    return wall, proc.stdout


def _call_seconds(output: str) -> list[float]:
    return [float(m) for m in re.findall(r"^([\d.]+)s call ", output, re.MULTILINE)]


def measure_runs_per_second(examples: int = 400) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _write_project(directory, 2)
        _, output = _pytest(
            directory,
            "--chaos",
            "--chaos-seed=1",
            f"--chaos-examples={examples}",
            "-p",
            "no:xdist",
            "--chaos-report",
            str(directory / "report"),
        )
        # The faster of the two tests: the first one also pays for importing Hypothesis.
        call = min(_call_seconds(output))
    runs = examples + 1  # the baseline, then one run per plan
    return {"runs": runs, "seconds": call, "per_second": runs / call}


def measure_raw_rate(runs: int = 400) -> dict[str, float]:
    """run_system + plan hooks + default checkers, plans drawn once up front (no Hypothesis)."""
    namespace: dict[str, Any] = {}
    exec(compile(SYSTEM, "chaos_system", "exec"), namespace)
    system = namespace["system"]
    from hypothesis import strategies as st  # noqa: F401

    from scenarios._strategies import call_sites, fault_plans

    baseline = run_system(system, ("order",))
    strategy = fault_plans(call_sites([baseline.log]), kinds=("tool", "message", "state", "worker"))
    assert strategy is not None
    plans = [strategy.example() for _ in range(runs)]
    started = clock()
    for plan in plans:
        run = run_system(system, ("order",), hooks=plan.hooks(), fault_plan=plan.model_dump(mode="json"))
        run_checks(run.log, "default", output=run.output)
    seconds = clock() - started
    return {"runs": runs, "seconds": seconds, "per_second": runs / seconds, "events": len(baseline.log)}


def measure_xdist(tests: int = 4, examples: int = 250) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _write_project(directory, tests)
        common = (
            "--chaos",
            "--chaos-seed=1",
            f"--chaos-examples={examples}",
            "--chaos-report",
            str(directory / "report"),
        )
        one, _ = _pytest(directory, *common, "-p", "no:xdist")
        two, _ = _pytest(directory, *common, "-n", "2")
    return {"tests": tests, "examples": examples, "one": one, "two": two, "speedup": one / two}


def build_section() -> str:
    timeout = measure_timeout()
    explored = measure_runs_per_second()
    raw = measure_raw_rate()
    xdist = measure_xdist()
    lines = [
        SECTION,
        "",
        "Reproduce with `python tests/benchmarks/bench_chaos.py`. " + _machine(),
        "",
        "A 30 s timeout fault, wall time of the whole run (median of 30; target < 100 ms):",
        "",
        "| fault site | virtual s | wall ms |",
        "|---|---:|---:|",
        *(f"| {label} | 30 | {ms:.1f} |" for label, ms in timeout.items()),
        "",
        "Chaos runs per second on a small async multi-agent system (orchestrator, 3 workers, tool calls, a "
        f"channel and a shared store; {int(raw['events'])} events per baseline run), one process "
        "(target >= 100 runs/s):",
        "",
        "| what | runs | seconds | runs/s |",
        "|---|---:|---:|---:|",
        f"| `pytest --chaos` (Hypothesis + fault hooks + default checkers), test call phase | "
        f"{int(explored['runs'])} | {explored['seconds']:.2f} | {explored['per_second']:.0f} |",
        f"| `run_system` + fault hooks + default checkers, no Hypothesis | {int(raw['runs'])} | "
        f"{raw['seconds']:.2f} | {raw['per_second']:.0f} |",
        "",
        f"pytest-xdist scaling: {int(xdist['tests'])} chaos tests x {int(xdist['examples'])} examples, whole "
        "session wall time including interpreter start-up (target >= 1.8x):",
        "",
        "| workers | wall s | speed-up |",
        "|---|---:|---:|",
        f"| 1 (`-p no:xdist`) | {xdist['one']:.2f} | 1.00x |",
        f"| 2 (`-n 2`) | {xdist['two']:.2f} | {xdist['speedup']:.2f}x |",
        "",
        "The research reference system replaces the small system here once its cassettes are recorded.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace the "## Chaos runs" section of docs/benchmarks.md (or append it), keeping the others."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    if SECTION in lines:
        begin = lines.index(SECTION)
        end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[begin:end] = [*section.rstrip("\n").splitlines(), ""]
    else:
        lines += ["", *section.rstrip("\n").splitlines()]
    DOC.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


def test_bench_chaos() -> None:
    section = build_section()
    write_section(section)
    print(section)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    section = build_section()
    write_section(section)
    print(section)
    print(textwrap.shorten(f"written to {DOC}", 200))
