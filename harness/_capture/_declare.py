"""What a system declares so that the checkers can judge its run.

Each helper records one event in the active run and is a cheap no-op outside a run
(it still validates, returns and runs what it wraps):

- :func:`dead_letter` and :func:`escalate` record that a failure was handled
  (``unhandled_tool_failure``);
- :func:`postcondition` and :func:`redundant` record whether an agent's result is right
  (``phantom_completion``);
- :func:`constraint` declares a hard constraint of the task (``goal_drift``).
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from harness._capture._context import _RUN
from harness._errors import ConfigError
from harness._log._events import (
    Constraint,
    DeadLetter,
    Escalation,
    Postcondition,
    ToolCall,
)
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub, scrub_text

__all__ = ["constraint", "dead_letter", "escalate", "postcondition", "redundant"]

T = TypeVar("T")

_FAILED_TOOL = frozenset({"error", "timeout", "lost_ack", "cancelled", "killed"})
_SEARCH_BACK = 100_000  # how far back dead_letter looks for the failed call it parks


def _error_text(error: BaseException | str | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    else:
        text = str(error)
    return scrub_text(text)[:2000]


# -- failures handled -------------------------------------------------------------------
def dead_letter(
    tool: str | Callable[..., Any],
    args: dict[str, Any] | None = None,
    error: BaseException | str | None = None,
    *,
    for_step: str | None = None,
) -> None:
    """Park a failed tool call for later handling instead of dropping it.

    Records its tool, inputs, error and agent (a ``dead_letter`` event). Without
    ``for_step`` the latest failed call of ``tool`` in this run is the one parked, and
    its recorded arguments are used when ``args`` is not given. Secrets are scrubbed.

    Args:
        tool: The tool's name, or the ``@tool`` function itself.
        args: The call's arguments (default: those of the failed call).
        error: The exception or message it failed with.
        for_step: The ``step_id`` of the failed ``tool_call`` event, when known.
    """
    spec = getattr(tool, "__brownout_tool__", None)
    name = spec.name if spec is not None else tool if isinstance(tool, str) else getattr(tool, "__name__", "")
    if not name:
        raise ConfigError(f"dead_letter(tool={tool!r}): name the tool (a string) or pass the @tool function.")
    ctx = _RUN.get()
    if ctx is None:
        return
    if for_step is None:
        log = ctx.log
        for index in range(len(log) - 1, max(-1, len(log) - 1 - _SEARCH_BACK), -1):
            event = log[index]
            if isinstance(event, ToolCall) and event.name == name and event.status in _FAILED_TOOL:
                for_step = event.step_id
                if args is None:
                    args = dict(event.args)
                if error is None:
                    error = event.error
                break
    ctx.emit(
        DeadLetter,
        tool=name,
        args=scrub(jsonable(args or {})),
        error=_error_text(error),
        for_step=for_step,
    )


def escalate(reason: str | BaseException, *, for_step: str | None = None) -> None:
    """Hand a failure to a human or a supervisor (an ``escalation`` event).

    Without ``for_step`` it covers every failure so far in the current agent scope and
    the scopes inside it.

    Args:
        reason: Why; an exception is recorded as ``Type: message``.
        for_step: The ``step_id`` of the failed step it is about, when known.
    """
    ctx = _RUN.get()
    if ctx is None:
        return
    text = _error_text(reason) if isinstance(reason, BaseException) else scrub_text(str(reason))[:2000]
    ctx.emit(Escalation, reason=text or "escalated", for_step=for_step)


# -- results judged ---------------------------------------------------------------------
def postcondition(
    name: str,
    holds: bool | Callable[[Any], Any] | None,
    *,
    value: Any = None,
    detail: str | None = None,
    agent: str | None = None,
) -> bool | None:
    """Record whether an agent's declared postcondition holds on what it produced.

    Args:
        name: What is promised, e.g. ``"total matches line items"``.
        holds: The verdict, or a predicate called with ``value`` (a judge-backed check
            fits here too). A predicate that raises counts as not holding; one that
            returns ``None`` is undecided (never a violation).
        value: What the predicate checks.
        detail: Why it does not hold, for the violation message.
        agent: The agent whose result this judges, when it is not the current one
            (e.g. an orchestrator checking what a sub-agent returned).

    Returns:
        ``True``, ``False`` or ``None`` (undecided), so that the system can act on it.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"postcondition(name={name!r}): the name must be a non-empty string.")
    verdict: bool | None
    if callable(holds):
        try:
            result = holds(value)
        except Exception as exc:
            verdict, detail = False, detail or f"the predicate raised {_error_text(exc)}"
        else:
            verdict = None if result is None else bool(result)
    elif holds is None or isinstance(holds, bool):
        verdict = holds
    else:
        raise ConfigError(
            f"postcondition({name!r}, holds={holds!r}): holds must be True, False, None or a predicate "
            "called with value=..."
        )
    ctx = _RUN.get()
    if ctx is not None:
        fields: dict[str, Any] = {"name": name, "holds": verdict, "detail": detail}
        if agent is not None:
            fields["agent"] = agent
        ctx.emit(Postcondition, **fields)
    return verdict


Require = Literal["majority", "unanimous"]


def _canonical(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, default=str)


def _agree(name: str, results: list[Any], key: Callable[[Any], Any] | None, require: Require) -> Any:
    keys = [_canonical(key(r) if key else r) for r in results]
    counts = Counter(keys)
    winner, votes = counts.most_common(1)[0]
    k = len(results)
    holds = votes == k if require == "unanimous" else votes * 2 > k
    detail = None
    if votes < k:
        detail = (
            f"{k} runs gave {len(counts)} different results; the most common, {winner[:80]}, "
            f"got {votes} of {k} votes (required: {require})"
        )
    postcondition(f"agreement:{name}", holds, detail=detail)
    return results[keys.index(winner)]


def redundant(
    fn: Callable[..., Any],
    *args: Any,
    k: int = 3,
    name: str | None = None,
    require: Require = "majority",
    key: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Run the same sub-task ``k`` times and record whether the results agree.

    The runs are sequential (deterministic under replay). Results are compared by
    ``key(result)`` (default: the result itself, as JSON). A postcondition named
    ``agreement:<name>`` records whether a strict majority (``require="majority"``) or
    all runs (``"unanimous"``) agree; ``phantom_completion`` flags a disagreement that
    the system then reports as success.

    Args:
        fn: The sub-task; sync or async.
        *args: Its positional arguments.
        k: How many runs, at least 2.
        name: The sub-task's name in the log (default: ``fn``'s name).
        require: ``"majority"`` or ``"unanimous"``.
        key: What to compare of each result.
        **kwargs: Its keyword arguments.

    Returns:
        The most common result (for an async ``fn``, an awaitable of it).
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"redundant(k={k!r}): k must be an int of at least 2 (one run cannot disagree).")
    if require not in ("majority", "unanimous"):
        raise ConfigError(f"redundant(require={require!r}): accepted values are 'majority' and 'unanimous'.")
    label = name or getattr(fn, "__name__", None) or "subtask"
    if inspect.iscoroutinefunction(fn):

        async def runs() -> Any:
            results = [await fn(*args, **kwargs) for _ in range(k)]
            return _agree(label, results, key, require)

        return runs()
    return _agree(label, [fn(*args, **kwargs) for _ in range(k)], key, require)


# -- constraints ------------------------------------------------------------------------
def constraint(name: str, value: T, *, handoffs: bool = True, output: bool = True) -> T:
    """Declare a hard constraint of the task, as data (a ``constraint`` event).

    The ``goal_drift`` checker then requires every later handoff (``handoffs=True``)
    and the final output (``output=True``) to carry it: a field named ``name`` with
    this value, the value itself, or text containing it.

    Args:
        name: What the constraint is, e.g. ``"max_budget_usd"``.
        value: Its value, e.g. ``10000``; a list or mapping requires each item.
        handoffs: Whether later handoffs must carry it.
        output: Whether the final output must carry it.

    Returns:
        ``value``.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"constraint(name={name!r}): the name must be a non-empty string, e.g. 'max_budget_usd'."
        )
    if value is None or value == "" or value == [] or value == {}:
        raise ConfigError(
            f"constraint({name!r}, value={value!r}): an empty value cannot be looked for in handoffs; "
            "declare the value that must survive, e.g. constraint('max_budget_usd', 10000)."
        )
    ctx = _RUN.get()
    if ctx is not None:
        ctx.emit(Constraint, name=name, value=scrub(jsonable(value)), handoffs=handoffs, output=output)
    return value
