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

from harness.cassettes import write_atomically
from judges._calibrate import labelled_set
from judges._errors import JudgeError
from judges._harvest import RUBRIC_OF, Input, inputs, run_view
from judges._judge import Judge
from judges._model import validated
from judges._rubric import Rubric
from judges._verdict import Verdict

__all__ = ["RUBRIC_FOR", "judge_reference_runs", "load_verdicts", "main", "rescore_offline", "task_of"]

ROOT = Path(__file__).resolve().parent.parent
JUDGE_CASSETTE = ROOT / "cassettes" / "judges" / "reference.json"
VERDICTS = ROOT / "cassettes" / "judges" / "reference_verdicts.json"

# system -> the rubric (in judges/data/rubrics.yaml) its output is graded on
RUBRIC_FOR: dict[str, str] = dict(RUBRIC_OF)


def task_of(system: str) -> str:
    """The task the reference system is given, as the judge's context (as in the labelled set)."""
    return _default_input(system).context()


def _default_input(system: str) -> Input:
    return next(i for i in inputs() if i.system == system and i.name == "default")


def _rubrics() -> dict[str, Rubric]:
    return labelled_set()[1]


def judge_reference_runs(
    judge: Judge,
    *,
    names: Sequence[str] | None = None,
    run_record_mode: str = "none",
    run_directory: Path | None = None,
) -> dict[str, Verdict]:
    """Run the selected reference runs (default: every faulted run) and judge each output.

    The judge sees the same view of an output as in the labelled set (``judges._harvest``). A
    run that raised has no output and gets no verdict.

    Args:
        judge: The judge.
        names: Reference-run names (default: each system's naive and hardened run under its fault).
        run_record_mode: ``none`` replays each system's happy-path cassette (a request the fault
            opened gets the nearest recording); ``all`` records the runs afresh into ``run_directory``.
        run_directory: Where recorded runs' cassettes go (with ``run_record_mode="all"``).
    """
    from scenarios import REFERENCE_RUNS

    rubrics = _rubrics()
    chosen = [
        r
        for r in REFERENCE_RUNS
        if r.system in RUBRIC_FOR and (r.name in names if names else r.fault is not None)
    ]
    verdicts: dict[str, Verdict] = {}
    for ref in chosen:
        inp = _default_input(ref.system)
        record = run_record_mode == "all"
        cassette = ref.cassette_path(run_directory) if record else None
        if cassette is not None:
            cassette.parent.mkdir(parents=True, exist_ok=True)
        view = run_view(inp, ref.variant, ref.plan, record=record, cassette=cassette)
        if view is None:
            continue
        verdicts[ref.name] = judge(view, rubrics[RUBRIC_FOR[ref.system]], context=inp.context())
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
    parser.add_argument("--model", default="qwen", help="the judge model: qwen (default) or smollm2")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not args.record:
        for name, stored in load_verdicts().items():
            again = rescore_offline(stored)
            print(f"{name}: {again.outcome} (identical to the recording: {again == stored})")
        return 0
    from judges._attacks import DECODING, _with_endpoint

    def body(judge: Judge, _: argparse.Namespace) -> int:
        from scenarios import REFERENCE_RUNS

        verdicts: dict[str, Verdict] = {}
        for ref in (r for r in REFERENCE_RUNS if r.fault is not None and r.system in RUBRIC_FOR):
            verdicts.update(judge_reference_runs(judge, names=[ref.name]))
            save_verdicts(verdicts)  # as we go: an interrupted recording keeps what it judged
            if ref.name in verdicts:
                print(f"{ref.name}: {verdicts[ref.name].outcome}", flush=True)
        return 0

    args.cassette = str(JUDGE_CASSETTE)
    args.decoding = DECODING
    return _with_endpoint(args, body)
