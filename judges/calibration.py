"""``python -m judges.calibration``: calibrate the judge on the shipped labelled set.

Replays the recorded judge calls (``cassettes/judges/calibration.json``) offline and prints,
for both prompt styles side by side, accuracy, coverage and Cohen's kappa with their 95%
intervals (exact Clopper-Pearson for accuracy and coverage, a seeded bootstrap for kappa),
overall and per system, and the confusion counts. ``--record`` records missing calls against
the local llama.cpp server (``--model qwen`` serves the Qwen judge; or ``--base-url``).

``--harvest`` rebuilds the labelled set itself (``judges/data/labelled.yaml``) from the
reference systems' real outputs, offline (see ``judges._harvest``); ``--harvest --record``
first records the extra inputs' happy-path runs from the local SmolLM2 server.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from judges._attacks import DECODING, _with_endpoint, held_requests, is_held
from judges._calibrate import Calibration, LabelledExample, calibrate, labelled_set, per_system, side_by_side
from judges._candidate import candidate_text, context_text
from judges._judge import Judge
from judges._rubric import Rubric

__all__ = ["DECODING", "DEFAULT_CASSETTE", "calibrations", "main", "recorded", "report"]

DEFAULT_CASSETTE = Path("cassettes") / "judges" / "calibration.json"


def recorded(
    judge: Judge, examples: Sequence[LabelledExample], rubrics: dict[str, Rubric], prompts: Sequence[str]
) -> tuple[list[LabelledExample], list[str]]:
    """The examples whose first judge request the judge's cassette holds for every prompt style,
    and the ids of the rest.

    Read from the cassette file (each recorded request's messages), without calling the judge:
    a replay that misses is an error, and finding the nearest recording for it is slow.
    """
    held = held_requests(judge)
    kept: list[LabelledExample] = []
    missing: list[str] = []
    for example in examples:
        rubric = rubrics[str(example.rubric)]
        text = candidate_text(example.candidate)
        context = context_text(example.context)
        if all(is_held(held, judge, style, rubric, text, context) for style in prompts):
            kept.append(example)
        else:
            missing.append(example.id)
    return kept, missing


def calibrations(
    judge: Judge, prompts: Sequence[str] = ("hardened", "naive"), *, complete: bool = True
) -> list[Calibration]:
    """The judge calibrated on the shipped labelled set, once per prompt style.

    With ``complete=False`` (replay only) the examples the cassette does not hold for every
    style are left out (see :func:`recorded`).
    """
    examples, rubrics = labelled_set()
    if not complete:
        examples, _ = recorded(judge, examples, rubrics, prompts)
    return [calibrate(examples, judge.replace(prompt=style), rubrics=rubrics) for style in prompts]


def report(results: Sequence[Calibration]) -> str:
    """The Markdown tables ``python -m judges.calibration`` prints."""
    parts = [side_by_side(results), per_system(results), *(r.table() for r in results)]
    return "\n\n".join(parts)


def _run(judge: Judge, args: argparse.Namespace) -> int:
    examples, rubrics = labelled_set()
    if not args.record:
        kept, missing = recorded(judge, examples, rubrics, args.prompt)
        if missing:
            print(
                f"The cassette {args.cassette} holds the judge calls of {len(kept)} of the {len(examples)} "
                f"labelled examples for every prompt; left out (not recorded): {', '.join(missing)}. "
                "Record them: python -m judges.calibration --record\n"
            )
    print(report(calibrations(judge, args.prompt, complete=args.record)))
    return 0


def _harvest(args: argparse.Namespace) -> int:
    from judges._harvest import harvest, record_inputs, select, write_labelled

    if args.record:
        import os

        from scenarios import LocalLLMServer

        with LocalLLMServer() as server:  # the reference systems' own small model
            os.environ["OPENAI_BASE_URL"] = server.base_url
            for path in record_inputs():
                print(f"recorded {path}")
    found = harvest()
    kept = select(found)
    write_labelled(kept, harvested=len(found))
    passing = sum(1 for h in kept if h.label)
    print(
        f"judges/data/labelled.yaml: {len(found)} distinct outputs harvested, {len(kept)} kept: "
        f"{passing} pass, {len(kept) - passing} fail"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m judges.calibration",
        description="Accuracy, coverage and Cohen's kappa (95% intervals) of the judge on the labelled set.",
    )
    parser.add_argument("--cassette", default=str(DEFAULT_CASSETTE), help="cassette of the judge calls")
    parser.add_argument("--record", action="store_true", help="record missing calls against a live model")
    parser.add_argument("--base-url", default=None, help="a running OpenAI-compatible endpoint")
    parser.add_argument(
        "--model",
        default="qwen",
        help="the judge model: qwen (default; the judge-model extra) or smollm2",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per judge request when recording"
    )
    parser.add_argument("--prompt", nargs="+", default=["hardened", "naive"], choices=["hardened", "naive"])
    parser.add_argument(
        "--harvest",
        action="store_true",
        help="rebuild judges/data/labelled.yaml from the reference systems' outputs (offline; with "
        "--record, first record the extra inputs from the local SmolLM2 server)",
    )
    args = parser.parse_args(argv)
    if args.harvest:
        return _harvest(args)
    args.decoding = DECODING
    return _with_endpoint(args, _run)


if __name__ == "__main__":
    raise SystemExit(main())
