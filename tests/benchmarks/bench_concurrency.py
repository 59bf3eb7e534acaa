"""Concurrent live LLM calls inside a run go out concurrently: a run costs about its slowest call.

Three sub-agents ``asyncio.gather`` one chat completion each, on a fresh openai client,
against a local OpenAI-compatible server that takes ``DELAY`` seconds per reply. Measured
inside ``harness.run_system`` (live, recording into a cassette) and outside any run; both
should take about ``DELAY`` (the slowest call), not ``3 x DELAY``.

Run: ``.venv/bin/python tests/benchmarks/bench_concurrency.py`` (writes docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support.fake_openai import FakeOpenAI
from benchdoc import write_section

from harness import agent, run_system
from harness.cassettes import Cassette

DELAY = 0.5
CALLS = 3
REPEATS = 5


def _system(url: str):  # type: ignore[no-untyped-def]
    async def run() -> list[str]:
        async with openai.AsyncOpenAI(base_url=url, api_key="sk-bench", max_retries=0) as client:

            async def sub_agent(i: int) -> str:
                async with agent(f"researcher{i}"):
                    reply = await client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": f"question {i}"}]
                    )
                    return reply.choices[0].message.content or ""

            return list(await asyncio.gather(*(sub_agent(i) for i in range(CALLS))))

    return run


def main() -> None:
    inside, outside = [], []
    with FakeOpenAI() as server:
        server.set_delay(DELAY)
        for _ in range(REPEATS):
            started = time.perf_counter()
            asyncio.run(_system(server.url)())
            outside.append(time.perf_counter() - started)
            with tempfile.TemporaryDirectory() as tmp:
                cassette = Cassette(Path(tmp) / "c.json", record_mode="all")
                started = time.perf_counter()
                run = run_system(_system(server.url), cassette=cassette)
                inside.append(time.perf_counter() - started)
                cassette.close()
                assert run.error is None, run.error
    load = os.getloadavg()[0]
    rows = [
        ("outside any run", statistics.median(outside), min(outside)),
        ("inside run_system, live, recording", statistics.median(inside), min(inside)),
    ]
    table = [
        "## Concurrent live calls",
        "",
        f"{CALLS} sub-agents `asyncio.gather` one chat completion each on a fresh openai client; the local "
        f"server takes {DELAY:g} s per reply (so the slowest call is {DELAY:g} s, all {CALLS} in sequence "
        f"{CALLS * DELAY:g} s). Median and best of {REPEATS}, load {load:.1f}. Command: "
        "`.venv/bin/python tests/benchmarks/bench_concurrency.py`.",
        "",
        "| where | median (s) | best (s) |",
        "|---|---:|---:|",
        *(f"| {name} | {median:.2f} | {best:.2f} |" for name, median, best in rows),
        "",
        "Before executor results were released as soon as the loop was idle (they waited for unrelated "
        "socket activity), the same run took 20.4 s.",
    ]
    write_section("## Concurrent live calls", "\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
