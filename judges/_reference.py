"""Rubric verdicts on the reference systems' outputs, recorded from the real local model.

For each reference system (``scenarios``: research, checkout, content, negotiation) the
naive and the hardened variant run under the fault that shows the naive bug, replayed from
the reference cassettes; the judge scores each output against the system's rubric. The
judge's calls are recorded in ``cassettes/judges/reference.json`` and the verdicts stored in
``cassettes/judges/reference_verdicts.json``, so the offline test suite re-scores every
stored candidate and checks the verdict is identical.

``python -m judges.reference --record`` re-records (starting the local llama.cpp server
unless ``--base-url`` is given); without ``--record`` it replays and prints the verdicts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.cassettes import write_atomically
from judges._calibrate import labelled_set
from judges._candidate import candidate_text
from judges._errors import JudgeError
from judges._judge import Judge
from judges._model import validated
from judges._rubric import Rubric
from judges._verdict import Verdict

__all__ = ["RUBRIC_FOR", "judge_reference_runs", "load_verdicts", "main", "rescore_offline", "task_of"]

ROOT = Path(__file__).resolve().parent.parent
JUDGE_CASSETTE = ROOT / "cassettes" / "judges" / "reference.json"
VERDICTS = ROOT / "cassettes" / "judges" / "reference_verdicts.json"

# system -> the rubric (in judges/data/labelled.yaml) its output is graded on
RUBRIC_FOR: dict[str, str] = {
    "research": "research_answer",
    "checkout": "checkout_outcome",
    "content": "content_constraint",
    "negotiation": "negotiation_outcome",
}


def task_of(system: str) -> str:
    """The task the reference system is given, as the judge's context."""
    from scenarios import checkout, content, negotiation, research

    defaults: dict[str, Any] = {
        "research": research.DEFAULT_TASK,
        "checkout": checkout.DEFAULT_ORDER,
        "content": content.DEFAULT_TASK,
        "negotiation": negotiation.DEFAULT_DEAL,
    }
    return candidate_text(defaults[system])


def _rubrics() -> dict[str, Rubric]:
    return labelled_set()[1]


def judge_reference_runs(
    judge: Judge,
    *,
    names: Sequence[str] | None = None,
    run_record_mode: str = "none",
    run_directory: Path | None = None,
    record_missing_in: Path | None = None,
) -> dict[str, Verdict]:
    """Run the selected reference runs (default: every faulted run) and judge each output.

    Args:
        judge: The judge.
        names: Reference-run names (default: each system's naive and hardened run under its fault).
        run_record_mode: Record mode of the system runs' cassettes (``none`` replays them).
        run_directory: Where the system runs' cassettes are (default: ``cassettes/reference``).
        record_missing_in: Record a run whose cassette is missing or out of date (a replay miss)
            into this directory instead.
    """
    from harness import CassetteMiss
    from scenarios import REFERENCE_RUNS, run_reference

    rubrics = _rubrics()
    chosen = [r for r in REFERENCE_RUNS if (r.name in names if names else r.fault is not None)]
    verdicts: dict[str, Verdict] = {}
    for ref in chosen:
        mode, directory = run_record_mode, run_directory
        if record_missing_in is not None and mode == "none" and not ref.cassette_path(directory).exists():
            mode, directory = "all", record_missing_in
        try:
            run = run_reference(ref, record_mode=mode, directory=directory)
        except CassetteMiss:
            if record_missing_in is None:
                raise
            run = run_reference(ref, record_mode="all", directory=record_missing_in)
        verdicts[ref.name] = judge(
            run.output, rubrics[RUBRIC_FOR[ref.system]], context=task_of(ref.system), run=run
        )
    return verdicts


def save_verdicts(verdicts: dict[str, Verdict], path: Path = VERDICTS) -> None:
    doc = {name: v.model_dump(mode="json") for name, v in sorted(verdicts.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())


def load_verdicts(path: Path = VERDICTS) -> dict[str, Verdict]:
    """The stored verdicts by reference-run name.

    Raises:
        JudgeError: The file is missing, not JSON, or holds something that is not a verdict.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JudgeError(
            f"load_verdicts({str(path)!r}): cannot read the stored verdicts ({exc}). Rule: a JSON object of "
            "verdicts by reference-run name, written by save_verdicts. Fix: re-record them with "
            "python -m judges.reference --record."
        ) from None
    if not isinstance(data, dict):
        raise JudgeError(
            f"load_verdicts({str(path)!r}): the top level is a {type(data).__name__}, not an object. Rule: "
            "verdicts by reference-run name. Fix: re-record them with python -m judges.reference --record."
        )
    return {name: validated(Verdict, v, source=f"{path}: {name}") for name, v in data.items()}


def rescore_offline(stored: Verdict, cassette: Path = JUDGE_CASSETTE) -> Verdict:
    """Score a stored verdict's candidate again, replaying the judge's recorded calls (no network)."""
    spec = dict(stored.judge.args)
    with Judge(
        spec.pop("model"), base_url=spec.pop("base_url"), cassette=cassette, record_mode="none", **spec
    ) as judge:
        return judge(stored.candidate, stored.rubric, context=stored.context)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m judges.reference``: judge the reference runs' outputs (replayed, or --record)."""
    parser = argparse.ArgumentParser(prog="python -m judges.reference", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--record", action="store_true", help="re-record the judge calls against a live model"
    )
    parser.add_argument("--base-url", default=None, help="a running OpenAI-compatible endpoint")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not args.record:
        for name, stored in load_verdicts().items():
            again = rescore_offline(stored)
            print(f"{name}: {again.outcome} (identical to the recording: {again == stored})")
        return 0
    from judges._attacks import _with_endpoint

    def body(judge: Judge, _: argparse.Namespace) -> int:
        import os
        import tempfile

        # The systems ask $OPENAI_BASE_URL; a run without a reference cassette is recorded aside.
        os.environ["OPENAI_BASE_URL"] = str(judge.base_url)
        with tempfile.TemporaryDirectory() as scratch:
            verdicts = judge_reference_runs(judge, record_missing_in=Path(scratch))
        save_verdicts(verdicts)
        for name, verdict in verdicts.items():
            print(f"{name}: {verdict.outcome}")
        return 0

    args.cassette = str(JUDGE_CASSETTE)
    return _with_endpoint(args, body)
