"""Benchmark: per-call cassette replay and cassette load time, at 10, 1,000 and 10,000 interactions.

Compares one chat-completion call made through the official openai SDK

- replayed from a brownout cassette inside a run (digest index; the LLMCall event included),
- (a) over an in-process transport (``httpx2.MockTransport``), no harness at all,
- (b) replayed by vcrpy's own matching: its default matchers (method, scheme, host,
  port, path, query) plus ``body``, which is what it takes to answer a request by its
  content; the calls ask for interactions spread over the whole cassette,

and the time to load a cassette of each size. Run on demand:

    python tests/benchmarks/bench_replay.py        (or: pytest tests/benchmarks/bench_replay.py)

It rewrites only the "Replay" section of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchdoc
import httpx2
import openai
import pytest

from harness import run_system
from harness._capture._llm import describe_request
from harness.cassettes import Cassette

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
SIZES = (10, 1_000, 10_000)
URL = "http://127.0.0.1:9/v1"  # nothing listens there: a replay that touched the network would fail
CALLS = 300
REPEAT = 5  # batches per measurement; the best is reported (CPU time, so neighbours add noise only upwards)
VCR_CALLS = {10: 300, 1_000: 60, 10_000: 8}
# CPU time of this process: on a shared machine wall time mostly measures the neighbours.
clock = time.process_time


def _request(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are the planner of a multi-agent checkout system."},
            {"role": "user", "content": f"Order {i}: reserve 2 units of SKU-{i % 97} and charge the card."},
        ],
        "model": "smollm2",
        "temperature": 0,
    }


def _response(i: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{i}",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "smollm2",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": f"Plan for order {i}: reserve inventory, then charge, then confirm by email.",
                },
            }
        ],
        "usage": {"prompt_tokens": 41, "completion_tokens": 17, "total_tokens": 58},
    }


def _body(i: int) -> bytes:
    # What the openai SDK sends for `create(model=..., messages=..., temperature=0)`.
    return json.dumps(_request(i), separators=(",", ":")).encode()


def write_brownout_cassette(path: Path, size: int) -> None:
    interactions = []
    for i in range(size):
        key = describe_request("POST", "/v1/chat/completions", "", _body(i))
        interactions.append(
            {
                "digest": key.digest,
                "agent": None,
                "call": i + 1,
                "occurrence": 1,
                "request": {
                    "method": "POST",
                    "uri": f"{URL}/chat/completions",
                    "headers": {"content-type": "application/json", "authorization": "[REDACTED]"},
                    "body": _request(i),
                },
                "response": {
                    "status": 200,
                    "headers": {"content-type": "application/json"},
                    "body": _response(i),
                    "encoding": "json",
                },
            }
        )
    doc = {"format": "brownout-cassette", "version": 1, "interactions": interactions, "tools": []}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True))


def write_vcrpy_cassette(path: Path, size: int) -> None:
    interactions = [
        {
            "request": {
                "method": "POST",
                "uri": f"{URL}/chat/completions",
                "body": _body(i).decode(),
                "headers": {"content-type": ["application/json"]},
            },
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"content-type": ["application/json"]},
                "body": {"string": json.dumps(_response(i))},
            },
        }
        for i in range(size)
    ]
    path.write_text(json.dumps({"interactions": interactions, "version": 1}, indent=2))


def _picks(size: int, calls: int) -> list[int]:
    """Distinct interactions spread evenly over the cassette."""
    calls = min(calls, size)
    return [(k * size) // calls for k in range(calls)]


def _ask(client: openai.OpenAI, i: int) -> str:
    req = _request(i)
    reply = client.chat.completions.create(model=req["model"], messages=req["messages"], temperature=0)
    return reply.choices[0].message.content or ""


def per_call_brownout(path: Path, size: int) -> tuple[float, float]:
    """(warm, cold) CPU seconds per replayed call.

    Cold: the first run on a freshly loaded cassette with no memoised request keys (each
    interaction parsed on first use). Warm: the best of ``REPEAT`` batches of later runs,
    each batch at least ``CALLS`` calls (a 10-interaction cassette is replayed run after
    run, as Hypothesis replays a test's cassette example after example).
    """
    from harness._capture import _llm_request as _llm

    picks = _picks(size, CALLS)
    runs = max(1, CALLS // len(picks))
    _llm._KEYS.clear()
    cassette = Cassette(path)
    client = openai.OpenAI(base_url=URL, api_key="sk-bench", max_retries=0)
    timing: dict[str, float] = {}

    def system() -> None:
        started = clock()
        for i in picks:
            _ask(client, i)
        timing["elapsed"] = clock() - started

    run = run_system(system, cassette=cassette)  # occurrence counters reset on every run
    assert run.error is None, run.error
    assert {e.source for e in run.log.kinds("llm_call")} == {"replayed"}
    cold = timing["elapsed"] / len(picks)
    batches = []
    for _ in range(REPEAT):
        total = 0.0
        for _ in range(runs):
            run_system(system, cassette=cassette)
            total += timing["elapsed"]
        batches.append(total / (runs * len(picks)))
    return min(batches), cold


def per_call_mock_transport() -> float:
    """CPU seconds per SDK call over ``httpx2.MockTransport``: the best of ``REPEAT`` batches."""
    bodies = {i: json.dumps(_response(i)).encode() for i in range(CALLS)}

    def handler(request: httpx2.Request) -> httpx2.Response:
        i = int(json.loads(request.content)["messages"][1]["content"].split()[1].rstrip(":"))
        return httpx2.Response(200, content=bodies[i], headers={"content-type": "application/json"})

    client = openai.OpenAI(
        base_url=URL,
        api_key="sk-bench",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    _ask(client, 0)
    samples = []
    for _ in range(REPEAT):
        started = clock()
        for i in range(CALLS):
            _ask(client, i)
        samples.append((clock() - started) / CALLS)
    return min(samples)


def per_call_vcrpy(path: Path, size: int) -> float:
    import vcr

    picks = _picks(size, VCR_CALLS[size])
    recorder = vcr.VCR(
        serializer="json",
        record_mode="none",
        match_on=("method", "scheme", "host", "port", "path", "query", "body"),
    )
    client = openai.OpenAI(base_url=URL, api_key="sk-bench", max_retries=0)
    with recorder.use_cassette(str(path)):
        started = clock()
        for i in picks:
            _ask(client, i)
        return (clock() - started) / len(picks)


def _median_time(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of ``repeat`` calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        started, wall_started = clock(), time.perf_counter()
        fn()
        cpu.append(clock() - started)
        wall.append(time.perf_counter() - wall_started)
    return statistics.median(cpu), statistics.median(wall)


def load_vcrpy(path: Path) -> None:
    from vcr.cassette import Cassette as VcrCassette
    from vcr.serializers import jsonserializer

    VcrCassette.load(path=str(path), serializer=jsonserializer)


def measure() -> dict[str, Any]:
    rows = []
    load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        # Warm the process (imports, first use of the SDK's and the event models' code paths),
        # so the first size's "first run" measures the cassette, not the interpreter.
        write_brownout_cassette(Path(tmp) / "warm.json", 10)
        per_call_brownout(Path(tmp) / "warm.json", 10)
        for size in SIZES:
            ours, theirs = Path(tmp) / f"b{size}.json", Path(tmp) / f"v{size}.json"
            write_brownout_cassette(ours, size)
            write_vcrpy_cassette(theirs, size)
            # (a) is measured right before and right after each size's replay, under the same load.
            mock = per_call_mock_transport()
            replay, cold = per_call_brownout(ours, size)
            mock = min(mock, per_call_mock_transport())
            rows.append(
                {
                    "size": size,
                    "file_mb": ours.stat().st_size / 1e6,
                    "replay_us": replay * 1e6,
                    "cold_us": cold * 1e6,
                    "mock_us": mock * 1e6,
                    "vcrpy_us": per_call_vcrpy(theirs, size) * 1e6,
                    "ratio": replay / mock,
                    "load": _median_time(lambda p=ours: Cassette(p)),  # type: ignore[misc]
                    "vcrpy_load": _median_time(lambda p=theirs: load_vcrpy(p), repeat=3),  # type: ignore[misc]
                }
            )
    return {"rows": rows, "load_average": load_average, "load_average_end": os.getloadavg()[0]}


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def render(result: dict[str, Any]) -> str:
    rows = result["rows"]
    flat = rows[-1]["replay_us"] / rows[0]["replay_us"]
    ratios = [r["ratio"] for r in rows]
    lines = [
        "## Replay",
        "",
        "One `client.chat.completions.create(...)` through the official openai SDK (sync client), per call: "
        "replayed from a brownout cassette inside a run (hash index, occurrence matching, the `llm_call` "
        "event included); (a) the same SDK call over an in-process `httpx2.MockTransport` with no harness, "
        "measured right before and after each size's replay (best of both); (b) replayed by vcrpy's own "
        "matching (its default matchers plus `body`, "
        "so that it answers by content), asking for interactions spread over the cassette. Replay is the "
        "best of 5 batches of at least 300 calls after a first run; *first run* is that first run on a "
        "freshly loaded cassette (each interaction parsed on first use, no memoised request keys). Load: "
        "constructing a `Cassette` from the file (median of 5), and vcrpy's `Cassette.load` of the same "
        "interactions (JSON serializer). Per-call times are CPU time of the benchmark process (the machine "
        "is shared, so wall time mostly measures the neighbours); loads show both. "
        "Reproduce with `python tests/benchmarks/bench_replay.py`.",
        "",
        f"Machine: {platform.machine()}, CPython {platform.python_version()}, {_cpus()} CPU core(s), "
        f"load average {result['load_average']:.1f} at the start and {result['load_average_end']:.1f} at "
        "the end. Targets: replay <= 1.3x the in-process SDK call and flat across sizes; a "
        "10,000-interaction cassette loads in < 0.2 s.",
        "",
        "| interactions | file MB | replay µs/call | (a) MockTransport µs/call | replay / (a) "
        "| first run µs/call | (b) vcrpy µs/call | load s (CPU / wall) | vcrpy load s (CPU / wall) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['file_mb']:.1f} | {r['replay_us']:.0f} | {r['mock_us']:.0f} "
            f"| {r['ratio']:.2f}x | {r['cold_us']:.0f} | {r['vcrpy_us']:.0f} "
            f"| {r['load'][0]:.3f} / {r['load'][1]:.3f} "
            f"| {r['vcrpy_load'][0]:.3f} / {r['vcrpy_load'][1]:.3f} |"
        )
    lines += [
        "",
        f"Replay per call at 10,000 interactions is {flat:.2f}x its time at 10 (flat = 1.0); "
        f"replay / (a) ranges {min(ratios):.2f}x-{max(ratios):.2f}x.",
        "",
        "Where a replayed call's time goes: the capture layer (`harness/_capture/_llm_request.py`) "
        "parses the request body and takes its digest once (memoised: a test asks the same requests "
        "run after run); the "
        "transport patch installed with vcrpy's stubs answers a request the capture layer described from "
        "the recording's cached status, headers and body bytes, without vcrpy rebuilding a "
        "`vcr.request.Request`; the rest is the `llm_call` event (a validated pydantic model). Recording "
        "and requests the capture layer did not see go through vcrpy's stubs.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace the "## Replay" section of docs/benchmarks.md (or append it), keeping the others."""
    benchdoc.write_section("## Replay", section)


@pytest.mark.benchmark
def test_replay_benchmark() -> None:
    text = render(measure())
    write_section(text)
    print(text)


if __name__ == "__main__":
    output = render(measure())
    write_section(output)
    sys.stdout.write(output)
