"""``python -m judges.calibration``: calibrate the judge on the shipped labelled set.

Replays the recorded judge calls (``cassettes/judges/calibration.json``) offline and prints
accuracy and Cohen's kappa per prompt style and per system; ``--record`` records missing
calls against the local llama.cpp server (or ``--base-url``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from judges._attacks import _with_endpoint
from judges._calibrate import calibrate, labelled_set
from judges._judge import Judge

__all__ = ["main"]

DEFAULT_CASSETTE = Path("cassettes") / "judges" / "calibration.json"


def _run(judge: Judge, args: argparse.Namespace) -> int:
    examples, rubrics = labelled_set()
    for style in args.prompt:
        result = calibrate(examples, judge.replace(prompt=style), rubrics=rubrics)
        print(result.table())
        print()
        systems = sorted({str(e.system) for e in examples})
        print("| system | examples | accuracy | judge said pass | labelled pass |")
        print("|---|---|---|---|---|")
        for system in systems:
            rows = [r for r in result.rows if r.system == system]
            right = sum(1 for r in rows if r.predicted == r.label)
            said = sum(1 for r in rows if r.predicted is True)
            truth = sum(1 for r in rows if r.label)
            print(f"| {system} | {len(rows)} | {right / len(rows):.3f} | {said} | {truth} |")
        print()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m judges.calibration",
        description="Accuracy and Cohen's kappa of the judge against the shipped human labels.",
    )
    parser.add_argument("--cassette", default=str(DEFAULT_CASSETTE), help="cassette of the judge calls")
    parser.add_argument("--record", action="store_true", help="record missing calls against a live model")
    parser.add_argument("--base-url", default=None, help="a running OpenAI-compatible endpoint")
    parser.add_argument(
        "--model",
        default="smollm2",
        help="the judge model: smollm2 (default) or qwen (the judge-model extra)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per judge request when recording"
    )
    parser.add_argument("--prompt", nargs="+", default=["hardened"], choices=["hardened", "naive"])
    return _with_endpoint(parser.parse_args(argv), _run)


if __name__ == "__main__":
    raise SystemExit(main())
