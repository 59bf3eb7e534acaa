"""Error text as a result: a tool's error message (or a framework's error string) became the answer.

Rule (also in docs/checkers.md): in a run that ended ``ok``, the final output *leaks an
error* when one of its strings contains

- the error message of a ``tool_call`` that failed before ``run_end`` (at least 12
  characters of it, so that short messages such as ``"timeout"`` never match by chance), or
- a framework's error template: "An error occurred while running the tool", "Error running
  tool", "Traceback (most recent call last)", ...

outside a field that exists to carry errors (``error``, ``errors``, ``failures``,
``warnings``, ...). It is *handled* when the run admits the failure anyway: with the error
text taken out, the output still surfaces a failure (a ``partial``/``degraded`` field, a
status such as ``needs_review``, or words such as "unavailable" in free text), or the run
escalated or dead-lettered work (see ``admits_failure``). Anything else hands the caller
an error message dressed as an answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from harness._checkers._common import MARKER_KEYS, admits_failure, brief, describe, events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import ToolCall
from harness._log._runlog import RunLog

__all__ = ["FRAMEWORK_ERROR_TEMPLATES", "tool_error_as_result"]

_FAILED = frozenset({"error", "timeout", "lost_ack", "cancelled", "killed"})
_MIN_MESSAGE = 12
# Strings agent frameworks put where a tool's result would be when the tool raised.
FRAMEWORK_ERROR_TEMPLATES = re.compile(
    r"An error occurred while running the tool|Error running tool|Error executing tool|"
    r"Tool execution failed|Traceback \(most recent call last\)",
    re.IGNORECASE,
)


def _strings(value: Any, depth: int = 0) -> list[str]:
    """Every string in ``value`` outside error-carrying fields, down to a bounded depth."""
    if depth > 6:
        return []
    if isinstance(value, str):
        return [value]
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in MARKER_KEYS:
                continue  # a field that exists to carry errors: putting the error there is honest
            found.extend(_strings(item, depth + 1))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(_strings(item, depth + 1))
    return found


def _without(value: Any, texts: list[str], depth: int = 0) -> Any:
    """``value`` with every occurrence of ``texts`` cut out of its strings."""
    if depth > 6:
        return value
    if isinstance(value, str):
        for text in texts:
            value = value.replace(text, "")
        return FRAMEWORK_ERROR_TEMPLATES.sub("", value)
    if isinstance(value, Mapping):
        return {k: _without(v, texts, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without(v, texts, depth + 1) for v in value]
    return value


@checker("tool_error_as_result")
def tool_error_as_result(log: RunLog, /, **context: Any) -> list[Violation]:
    """A tool's error text (or a framework's "an error occurred" string) reached the output as a result."""
    end = run_end(log)
    if end is None or end.status != "ok" or end.output is None:
        return []
    failures = [
        c
        for c in cast(list[ToolCall], events(log, "tool_call"))
        if c.seq < end.seq and c.status in _FAILED and c.error and len(c.error.strip()) >= _MIN_MESSAGE
    ]
    strings = _strings(end.output)
    leaked: list[ToolCall] = []
    texts: list[str] = []
    for failure in failures:
        message = (failure.error or "").strip()
        if any(message in s for s in strings):
            leaked.append(failure)
            texts.append(message)
    template = next((m.group(0) for s in strings for m in [FRAMEWORK_ERROR_TEMPLATES.search(s)] if m), None)
    if not leaked and template is None:
        return []
    cleaned = end.model_copy(update={"output": _without(end.output, texts)})
    if admits_failure(log, cleaned, tuple(f.name for f in leaked), context):
        return []
    if leaked:
        first = leaked[0]
        what = f"the error message of {step(first)} ({first.error_type or 'error'}: {brief(first.error, 80)})"
    else:
        what = f"the framework's error string {template!r}"
    return [
        Violation(
            checker="tool_error_as_result",
            severity="major",
            steps=sorted({*(f.seq for f in leaked), end.seq}),
            message=(
                f"Let the run end ok at step {end.seq} ({describe(end)}) with the output "
                f"{brief(end.output, 100)}. It carries {what} where a result belongs, and nothing else in "
                "the output, no escalation and no dead letter admits the failure. So the caller receives an "
                "error message dressed as an answer."
            ),
            why=(
                'Agent frameworks turn a failed tool call into text ("An error occurred while running the '
                'tool...") that the model or the app passes on as if it were the result. Check tool results '
                "before using them: retry, fall back to a documented default, or mark the output "
                "(status='degraded', errors=[...]) so that callers can tell."
            ),
        )
    ]
