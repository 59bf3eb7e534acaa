"""What a judge is shown, and where it came from.

The candidate and the context are rendered to text (strings as they are, anything else as
indented JSON with secrets scrubbed). Provenance is the run that produced the candidate:
if any of its LLM calls was answered by *substituted* content (a cassette miss under the
``nearest`` policy), a score would judge another path's text, so the verdict is
indeterminate.
"""

from __future__ import annotations

import json
from typing import Any

from harness.events import LLMCall, RunLog, jsonable
from harness.hooks import RunContext, current_run
from harness.secrets import scrub
from judges._errors import JudgeConfigError

__all__ = ["active_run", "candidate_text", "context_text", "log_of", "split_run", "substituted_steps"]


def candidate_text(value: Any) -> str:
    """The text a judge sees for ``value``: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(scrub(jsonable(value)), indent=2, sort_keys=True, ensure_ascii=False, default=str)


def context_text(context: Any) -> str | None:
    """The task/context text shown to the judge, or None when there is none."""
    return None if context is None else candidate_text(context)


def split_run(candidate: Any, run: Any) -> tuple[Any, Any]:
    """A harness ``Run`` given as the candidate is its output *and* its provenance."""
    from harness import Run

    if isinstance(candidate, Run):
        return candidate.output, candidate if run is None else run
    return candidate, run


def log_of(run: Any) -> RunLog | None:
    """The RunLog of a Run, a RunLog itself, or None."""
    if run is None:
        return None
    if isinstance(run, RunLog):
        return run
    log = getattr(run, "log", None)
    if isinstance(log, RunLog):
        return log
    raise JudgeConfigError(
        f"run={type(run).__name__} is neither a harness Run nor a RunLog. Rule: pass the Run that "
        "produced the candidate (what chaos.run returns) or its .log, so that substituted LLM content can "
        "be detected. Fix: judge(run.output, rubric, run=run)."
    )


def substituted_steps(log: RunLog | None, start: int = 0) -> list[int]:
    """``seq`` of every LLM call from ``start`` on that was answered by substituted content."""
    if log is None:
        return []
    return [e.seq for e in list(log)[start:] if isinstance(e, LLMCall) and e.source == "substituted"]


def active_run() -> RunContext | None:
    """The run the current code executes in, if any."""
    return current_run()
