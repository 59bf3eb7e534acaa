"""Benchmark: chaos runs per second, pytest-xdist scaling, and what a 30 s timeout fault costs.

- **Virtual time**: wall time of one run whose only step is a 30 s timeout fault, (a) on a
  tool, (b) on an LLM call made with the official openai SDK (client timeout 30 s) over an
  in-process transport. Target: < 100 ms.
- **Runs per second** on the research reference system (``scenarios/research.py``), naive and
  hardened, replayed offline from its reference cassette with its web-search service running:
  (a) through ``pytest --chaos`` in one process -- runs (baseline + examples) over the wall time
  of the exploration, timed inside the test so interpreter start-up and collection stay out;
  (b) through ``run_system`` + fault hooks + default checkers directly, plans drawn up front
  (no Hypothesis, no pytest). Target: >= 100 runs/s on one core.
- **xdist scaling**: the same total number of examples as 2 test items (naive, hardened) under
  ``-n 0`` and ``-n 2``; speed-up of the exploration and of the session wall time, with the
  start-up (pytest, xdist workers) reported apart. Target: >= 1.8x.

Every number is recorded with the 1-minute load average at the time.

Run on demand: ``python tests/benchmarks/bench_chaos.py`` (or ``pytest tests/benchmarks/bench_chaos.py``).
It rewrites only the "Chaos runs" section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import benchdoc
import httpx2
import openai
import pytest

from faults import Fault, FaultPlan, Timeout
from faults._clock import _real_perf_counter as clock
from harness import agent, run_checks, run_system, tool

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
from harness._pytest._fixture import ViolationsFound
from chaos_system import system

@pytest.mark.chaos(faults=["tool", "message", "state", "worker"], checks="default", max_faults=3)
def test_orders_{n}(chaos):
    try:
        run = chaos.run(system, "order-{n}")
    except ViolationsFound as found:
        run = found.run
    assert run.output["answered"] + run.output["failed"] == 3
"""


def _machine(load: float) -> str:
    return (
        f"Machine: {platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPU core(s); "
        f"load average {load:.1f} at the start, and beside each number below (other work on the machine "
        "slows wall times)."
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


# -- runs per second on the research reference system ----------------------------------------
# A chaos test per variant of scenarios/research.py, replayed offline from its reference cassette
# (cassettes/reference/research_<variant>.json) with the local web-search service running, as
# `brownout demo` and harness/_cli/_demo_suite do. Every checker runs on every run; the test accepts what
# they find (it measures throughput, so every example must run instead of stopping at the first
# finding to shrink it). Each item times its own exploration (baseline + examples) and counts the
# runs, and conftest.py writes those per process, so interpreter and xdist start-up stay out of it.
CONFTEST = """
import json, os
from pathlib import Path
import pytest

TIMES = []  # (item, runs, first run started, last run ended, CPU seconds in between) on the real clock


@pytest.fixture(scope="session")
def web():
    from scenarios.research import SearchService
    with SearchService() as service:
        yield service


def pytest_sessionfinish(session):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["BENCH_OUT"], f"{worker}.json").write_text(json.dumps(TIMES))
"""

TEST = """
import time

import pytest
from faults._clock import _real_perf_counter as clock
from scenarios import research
from scenarios import cassette_dir
import conftest

KINDS = {kinds!r}


@pytest.mark.chaos(faults=KINDS, checks="default", max_faults=2, deadline=3600.0,
                   cassette=str(cassette_dir() / "research_{variant}.json"))
def test_research_{variant}_{n}(chaos, web):
    global started, cpu, runs
    if not chaos.runs and chaos.plan is None:  # the baseline: the exploration starts here
        started, cpu, runs = clock(), time.process_time(), 0
    runs += 1
    try:
        chaos.run(research.run, variant="{variant}", web=web)
    except Exception:  # violations and the system's own failures under faults: counted, not stopped at
        pass
    if not conftest.TIMES or conftest.TIMES[-1][0] != "{variant}_{n}":
        conftest.TIMES.append(["{variant}_{n}", 0, started, 0.0, 0.0])
    conftest.TIMES[-1][1:] = [runs, started, clock(), time.process_time() - cpu]
"""

KINDS = ["tool", "llm"]


def _load() -> float:
    """The 1-minute load average (what `uptime` prints first)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _write_project(directory: Path, items: list[tuple[str, int]]) -> None:
    (directory / "conftest.py").write_text(CONFTEST)
    for variant, n in items:
        text = TEST.replace("{variant}", variant).replace("{n}", str(n)).replace("{kinds!r}", repr(KINDS))
        (directory / f"test_research_{variant}_{n}.py").write_text(text)
    (directory / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")


def _pytest(directory: Path, *args: str) -> tuple[float, list[list[Any]]]:
    """Run pytest in ``directory``; return its wall time and every item's (name, runs, start, end)."""
    out = directory / "out"
    out.mkdir(exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    path = os.pathsep.join(p for p in (str(directory), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "BENCH_OUT": str(out)}
    started = clock()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args],
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
    times: list[list[Any]] = []
    for path in sorted(out.glob("*.json")):
        times.extend(json.loads(path.read_text()))
    return wall, [[*row, started] for row in times]  # + when the pytest process was started


def _chaos_args(directory: Path, examples: int) -> tuple[str, ...]:
    return (
        "--chaos",
        "--chaos-seed=1",
        f"--chaos-examples={examples}",
        "--chaos-report",
        str(directory / "report"),
    )


def measure_pytest(variant: str, examples: int) -> dict[str, float]:
    """``pytest --chaos`` on one research test, one process: runs / wall time of its exploration."""
    load = _load()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _write_project(directory, [(variant, 0)])
        wall, times = _pytest(directory, *_chaos_args(directory, examples), "-p", "no:xdist")
    [(_, runs, first, last, cpu, _)] = times
    seconds = last - first
    return {
        "runs": runs,
        "seconds": seconds,
        "per_second": runs / seconds,
        "cpu": cpu,
        "wall": wall,
        "load": load,
    }


def measure_direct(variant: str, runs: int) -> dict[str, float]:
    """``run_system`` + fault hooks + default checkers, replayed from the cassette, plans drawn up front."""
    from harness.cassettes import Cassette
    from scenarios import call_sites, fault_plans, research
    from scenarios import find_reference as find

    ref = find(f"research_{variant}")
    cassette = Cassette(ref.cassette_path(), record_mode="none", miss="nearest")
    with research.SearchService() as web, cassette:
        kwargs = {"variant": variant, "web": web}
        baseline = run_system(research.run, (), kwargs, cassette=cassette, deadline=ref.deadline)
        strategy = fault_plans(call_sites([baseline.log]), kinds=tuple(KINDS), max_faults=2)
        assert strategy is not None
        plans = [strategy.example() for _ in range(runs)]
        load = _load()
        started, cpu = clock(), time.process_time()
        for plan in plans:
            try:
                run = run_system(
                    research.run,
                    (),
                    kwargs,
                    hooks=plan.hooks(),
                    cassette=cassette,
                    deadline=ref.deadline,
                    fault_plan=plan.model_dump(mode="json"),
                )
            except Exception:  # a harness error the system swallowed (a cassette miss): still a run
                continue
            run_checks(run.log, "default", output=run.output)
        seconds, cpu = clock() - started, time.process_time() - cpu
    return {
        "runs": runs,
        "seconds": seconds,
        "per_second": runs / seconds,
        "cpu": cpu,
        "events": len(baseline.log),
        "load": load,
    }


_REPLY = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "smollm2",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {
                "role": "assistant",
                "content": "Cold-climate heat pumps keep working well below freezing when sized for it.",
                "tool_calls": [
                    {
                        "id": "call-1",
                        "type": "function",
                        "function": {"name": "search", "arguments": '{"query": "heat pumps cold climate"}'},
                    }
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
}


def measure_system_alone(variant: str, runs: int) -> dict[str, float]:
    """The floor: the research system with no harness at all, its openai SDK client answered in-process.

    Same code path as a replayed run (a fresh ``AsyncOpenAI`` per run, 5-6 SDK calls, the web-search
    service over HTTP), one new event loop per run, but no capture, cassette, faults or checkers.
    """
    from scenarios import research
    from scenarios._common import RECORDED_BASE_URL

    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=_REPLY))

    async def once(web: Any) -> Any:
        client = openai.AsyncOpenAI(
            base_url=RECORDED_BASE_URL,
            api_key="sk-local",
            max_retries=2,
            timeout=120.0,
            http_client=httpx2.AsyncClient(transport=transport),
        )
        async with client:
            return await research.run(web=web, variant=variant, client=client)  # type: ignore[arg-type]

    def one_loop(web: Any) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(once(web))
        finally:
            loop.close()

    with research.SearchService() as web:
        one_loop(web)
        load = _load()
        started, cpu = clock(), time.process_time()
        for _ in range(runs):
            one_loop(web)
        seconds, cpu = clock() - started, time.process_time() - cpu
    return {"runs": runs, "seconds": seconds, "per_second": runs / seconds, "cpu": cpu, "load": load}


def measure_xdist(examples: int) -> dict[str, Any]:
    """The same 2 x ``examples`` examples, as 2 test items, under ``-n 0`` and ``-n 2``."""
    items = [("naive", 0), ("hardened", 0)]
    out: dict[str, Any] = {"examples": examples}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _write_project(directory, items)
        for label, args in (("one", ("-n", "0")), ("two", ("-n", "2"))):
            load = _load()
            wall, times = _pytest(directory, *_chaos_args(directory, examples), *args)
            runs = sum(row[1] for row in times)
            first = min(row[2] for row in times)
            last = max(row[3] for row in times)
            out[label] = {
                "wall": wall,
                "runs": runs,
                "explore": last - first,  # first item's baseline started -> last item's last run ended
                "startup": first - times[0][5],  # pytest (and xdist workers) start-up until the first run
                "cpu": sum(row[4] for row in times),
                "load": load,
            }
    out["speedup_wall"] = out["one"]["wall"] / out["two"]["wall"]
    out["speedup_explore"] = out["one"]["explore"] / out["two"]["explore"]
    return out


def build_section(examples: int = 300, direct_runs: int = 300, xdist_examples: int = 600) -> str:
    load_start = _load()
    timeout = measure_timeout()
    rates = []
    for variant in ("naive", "hardened"):
        rates.append((variant, "pytest", measure_pytest(variant, examples)))
        rates.append((variant, "direct", measure_direct(variant, direct_runs)))
        rates.append((variant, "alone", measure_system_alone(variant, direct_runs)))
    xdist = measure_xdist(xdist_examples)
    events = next(r for _, how, r in rates if how == "direct")["events"]

    def cpu_ms(how: str) -> float:
        chosen = [r for _, h, r in rates if h == how]
        return 1000 * sum(r["cpu"] for r in chosen) / sum(r["runs"] for r in chosen)

    floor_ms, direct_ms, pytest_ms = cpu_ms("alone"), cpu_ms("direct"), cpu_ms("pytest")
    what = {
        "pytest": "`pytest --chaos`, one process: runs / wall time of the exploration (baseline + examples)",
        "direct": "`run_system` + fault hooks + default checkers (plans drawn up front, no Hypothesis)",
        "alone": "the system alone, no harness: SDK answered by an in-process `MockTransport`, no faults "
        "(the floor)",
    }
    lines = [
        SECTION,
        "",
        "Reproduce with `python tests/benchmarks/bench_chaos.py` (about 3 minutes). " + _machine(load_start),
        "",
        "A 30 s timeout fault, wall time of the whole run (median of 30; target < 100 ms):",
        "",
        "| fault site | virtual s | wall ms |",
        "|---|---:|---:|",
        *(f"| {label} | 30 | {ms:.1f} |" for label, ms in timeout.items()),
        "",
        "Chaos runs per second on the **research reference system** (`scenarios/research.py`: orchestrator, "
        "3 sub-agents in parallel, a synthesizer; 5-6 LLM calls through the openai SDK, "
        f"{int(events)} events per baseline run), replayed offline from "
        "`cassettes/reference/research_<variant>.json` with its "
        f"web-search service on 127.0.0.1; fault kinds {KINDS}, up to 2 faults a plan, `--chaos-seed=1`, "
        "misses answered `nearest`, every default checker on every run (target >= 100 runs/s on one core):",
        "",
        "| variant | how | runs | wall s | runs/s (wall) | CPU ms per run | runs per CPU s | load (1 min) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {variant} | {what[how]} | {int(r['runs'])} | {r['seconds']:.2f} | {r['per_second']:.0f} | "
            f"{1000 * r['cpu'] / r['runs']:.1f} | {r['runs'] / r['cpu']:.0f} | {r['load']:.1f} |"
            for variant, how, r in rates
        ),
        "",
        f"pytest-xdist scaling: the same {2 * xdist_examples} examples as 2 chaos test items (research naive "
        f"and hardened, {xdist_examples} examples each), `-n 0` against `-n 2` (target >= 1.8x). "
        "Exploration: from the first item's baseline run to the last item's last run; start-up: pytest "
        "(and, with `-n 2`, starting the workers) until the first run began.",
        "",
        "| workers | runs | exploration s | CPU s (all items) | cores obtained | start-up s | "
        "session wall s | speed-up (exploration) | speed-up (wall) | load (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| `{label}` | {x['runs']} | {x['explore']:.2f} | {x['cpu']:.2f} | "
            f"{x['cpu'] / x['explore']:.2f} | {x['startup']:.2f} | {x['wall']:.2f} | {up} | {up_wall} | "
            f"{x['load']:.1f} |"
            for label, x, up, up_wall in (
                ("-n 0", xdist["one"], "1.00x", "1.00x"),
                ("-n 2", xdist["two"], f"{xdist['speedup_explore']:.2f}x", f"{xdist['speedup_wall']:.2f}x"),
            )
        ),
        "",
        "What limits these numbers:",
        "",
        f"- **The system itself.** The research system alone, with no harness, costs "
        f"{floor_ms:.1f} ms of CPU a run (5-6 openai SDK calls -- the SDK's request transformation and "
        "response parsing dominate the profile --, a fresh `AsyncOpenAI` client, an HTTP call to the "
        f"web-search service): at most ~{1000 / floor_ms:.0f} runs per CPU second before brownout adds "
        "anything"
        + (
            ", so >= 100 runs/s cannot be reached on this system with the official SDK"
            if 1000 / floor_ms < 100
            else ""
        )
        + ". brownout's share (capture, cassette replay, fault hooks, virtual clock, every checker; "
        "runs under "
        "faults take other paths than the floor's, so roughly) is about "
        f"{direct_ms - floor_ms:.1f} ms a run; Hypothesis, pytest and the report rows add "
        f"{pytest_ms - direct_ms:.1f} ms more.",
        "- **A shared machine.** Wall rates are CPU rates divided by the share of a core the process got: "
        "other work on these 2 cores (the load column) leaves each process well under a core.",
        "- **xdist.** 'cores obtained' is CPU seconds over exploration seconds: the 2 workers split the work "
        "evenly, but together got only that many cores from the loaded machine, which bounds the speed-up. "
        "Start-up (controller and 2 workers each importing pytest, Hypothesis, the harness and the system, "
        "on the same 2 cores) and writing the report at the end are paid per session, not per run.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace the "## Chaos runs" section of docs/benchmarks.md (or append it), keeping the others."""
    benchdoc.write_section("## Chaos runs", section)


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
