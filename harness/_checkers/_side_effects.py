"""Side effects: duplicated (retry storms) and uncompensated (sagas).

Rules (also in docs/checkers.md):

- A tool call *took effect* when the tool is declared ``side_effect=True``, its body ran
  in this run (``executed=True``; replayed calls did not run), and it did not fail with
  an error raised by the tool itself (``status`` ok, ``lost_ack``, ``timeout``,
  ``cancelled`` or ``killed``: once the body started, the effect may have happened).
- Calls of the same tool with the same arguments, in the same incarnation of the system,
  are one *intent* (a repeat by a later incarnation, after a crash and restart, is
  ``redone_side_effect``'s to judge). Calls that carry
  the same idempotency key are one effect: the harness cannot see inside the service,
  so a service that receives a repeated key is trusted to deduplicate it. Calls with no
  key, or with different keys, are separate effects.
- A compensation that itself failed but was parked (a ``dead_letter`` of the compensating
  tool, or an ``escalation`` naming the failed compensation's step) is handed to an
  operator, not left silently: ``saga_compensation`` counts that effect as handled. It
  still never counts as *undone* for the reverse-order rule.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from harness._checkers._common import describe, events, leaves, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import Compensation, DeadLetter, Escalation, ToolCall
from harness._log._runlog import RunLog

__all__ = ["duplicate_side_effects", "reports_failure", "saga_compensation"]

_TOOK_EFFECT = frozenset({"ok", "lost_ack", "timeout", "cancelled", "killed"})
_COMPLETED = frozenset({"ok", "lost_ack"})
_FAILED_OUTCOMES = frozenset(
    {
        "failed",
        "failure",
        "error",
        "aborted",
        "cancelled",
        "canceled",
        "rolled_back",
        "rollback",
        "compensated",
    }
)


@checker("duplicate_side_effects")
def duplicate_side_effects(log: RunLog, /, **context: Any) -> list[Violation]:
    """The same side-effecting tool call executed more than once with no idempotency key deduplicating it."""
    intents: dict[tuple[str, str, int], list[ToolCall]] = {}
    for event in events(log, "tool_call"):
        if (
            isinstance(event, ToolCall)
            and event.side_effect
            and event.executed
            and not event.replayed
            and event.status in _TOOK_EFFECT
        ):
            intents.setdefault((event.name, event.args_digest, event.incarnation), []).append(event)
    found: list[Violation] = []
    for (name, _digest, _incarnation), calls in intents.items():
        if len(calls) < 2:
            continue
        keys = {c.idempotency_key for c in calls if c.idempotency_key is not None}
        unkeyed = [c for c in calls if c.idempotency_key is None]
        effects = len(keys) + len(unkeyed)
        if effects < 2:
            continue
        first, rest = calls[0], calls[1:]
        then = "; then ".join(step(c) for c in rest)
        if len(keys) > 1:
            how = (
                f"with different idempotency keys ({', '.join(repr(k) for k in sorted(keys))}), so the "
                "service cannot recognise the repeats as one request"
            )
        elif keys:
            how = "and only some calls carry an idempotency key, so the service cannot deduplicate them"
        else:
            how = "and no idempotency key, so nothing deduplicates them"
        found.append(
            Violation(
                checker="duplicate_side_effects",
                severity="critical",
                steps=[c.seq for c in calls],
                message=(
                    f"Let {step(first)} execute {name}; then {then} execute it again with the same "
                    f"arguments {how}. So the side effect of {name} happened {effects} times for one intent."
                ),
                why=(
                    "A retried side effect is applied twice: two emails, two charges, two reservations. "
                    "Give each intent one idempotency key, reuse it on every retry, and have the tool's "
                    "service honour it."
                ),
            )
        )
    return found


def reports_failure(output: Any) -> bool:
    """Whether a run's output says the work failed (a failed ``status``/``outcome``, ``ok`` false)."""
    if not isinstance(output, Mapping):
        return False
    for key in ("status", "outcome", "result", "state"):
        value = output.get(key)
        if isinstance(value, str) and value.lower() in _FAILED_OUTCOMES:
            return True
    return any(output.get(key) is False for key in ("ok", "success", "succeeded"))


def _pick(outstanding: list[ToolCall], compensation: ToolCall | None) -> int:
    """Index of the effect a compensation undoes: the latest sharing a value with it, else the latest."""
    if compensation is not None and compensation.args:
        wanted = leaves(compensation.args)
        for index in range(len(outstanding) - 1, -1, -1):
            effect = outstanding[index]
            if wanted & leaves(effect.args) or wanted & leaves(effect.result):
                return index
    return len(outstanding) - 1


@checker("saga_compensation")
def saga_compensation(log: RunLog, /, **context: Any) -> list[Violation]:
    """A failed or cancelled run left side effects uncompensated, or compensated them out of reverse order."""
    outstanding: dict[str, list[ToolCall]] = {}
    compensator_of: dict[str, str] = {}  # compensating tool -> the tool it undoes
    keyed: set[tuple[str, str]] = set()
    pairs: list[tuple[ToolCall, Any]] = []  # (effect, compensating event), in compensation order
    previous: Any = None
    failed_compensations: dict[str, ToolCall] = {}  # step id -> a compensating call that failed
    for event in events(log, "tool_call", "compensation", "dead_letter", "escalation"):
        if isinstance(event, DeadLetter | Escalation):
            # A failed compensation parked for an operator: the effect is handled, visibly.
            parked = failed_compensations.pop(event.for_step, None) if event.for_step else None
            name = parked.name if parked is not None else getattr(event, "tool", None)
            undone = compensator_of.get(name) if name else None
            if undone and outstanding.get(undone):
                effects = outstanding[undone]
                effects.pop(_pick(effects, parked))
            previous = event
            continue
        if isinstance(event, ToolCall):
            if compensator_of.get(event.name) and event.status not in _COMPLETED:
                failed_compensations[event.step_id] = event
            if (
                event.side_effect
                and event.compensate
                and event.status in _COMPLETED
                and (event.executed or event.replayed)
            ):
                if event.idempotency_key is not None:
                    if (event.name, event.idempotency_key) in keyed:
                        previous = event
                        continue  # a deduplicated repeat: the same effect
                    keyed.add((event.name, event.idempotency_key))
                outstanding.setdefault(event.name, []).append(event)
                compensator_of[event.compensate] = event.name
            undone = event.compensates or compensator_of.get(event.name)
            if undone and event.status in _COMPLETED and outstanding.get(undone):
                effects = outstanding[undone]
                pairs.append((effects.pop(_pick(effects, event)), event))
        elif (
            isinstance(event, Compensation)
            and event.status == "ok"
            # The instrumentation emits one right after the compensating tool call (handled above);
            # a Compensation on its own is a user-declared compensation.
            and not (
                isinstance(previous, ToolCall)
                and previous.name == event.tool
                and previous.seq == event.seq - 1
            )
        ):
            effects = outstanding.get(event.for_tool, [])
            index = next(
                (i for i, e in enumerate(effects) if event.for_step and e.step_id == event.for_step),
                len(effects) - 1,
            )
            if index >= 0:
                pairs.append((effects.pop(index), event))
        previous = event

    found: list[Violation] = []
    end = run_end(log)
    failed = end is not None and (end.status != "ok" or reports_failure(end.output))
    if failed and end is not None:
        how = (
            f"ended {end.status}" + (f" ({end.error_type})" if end.error_type else "")
            if end.status != "ok"
            else "reported failure in its output"
        )
        for effects in outstanding.values():
            for effect in effects:
                lost = " Its reply was lost, but it took effect." if effect.status == "lost_ack" else ""
                found.append(
                    Violation(
                        checker="saga_compensation",
                        severity="critical",
                        steps=[effect.seq, end.seq],
                        message=(
                            f"Let {step(effect)} take effect.{lost} Then the run {how} at step {end.seq} "
                            f"({describe(end)}), and no {effect.compensate} ran after step {effect.seq}. "
                            f"So the effect of {effect.name} outlives the failed run."
                        ),
                        why=(
                            "A failed multi-step operation must undo what it did (saga): otherwise stock "
                            "stays reserved, money stays captured. On failure, run each completed step's "
                            "compensating tool, latest first."
                        ),
                    )
                )
    # Out of reverse order: e1 < e2 < c1 < c2 (the earlier effect undone while the later one stood).
    later_effects: list[int] = []
    by_seq: dict[int, tuple[ToolCall, Any]] = {}
    for effect, comp in reversed(pairs):
        index = bisect.bisect_right(later_effects, effect.seq)
        if index < len(later_effects) and later_effects[index] < comp.seq:
            other_effect, other_comp = by_seq[later_effects[index]]
            found.append(
                Violation(
                    checker="saga_compensation",
                    severity="major",
                    steps=sorted({effect.seq, other_effect.seq, comp.seq, other_comp.seq}),
                    message=(
                        f"Let {step(effect)} and then {step(other_effect)} take effect. Step {comp.seq} "
                        f"({describe(comp)}) undid the earlier one while the later one still stood; step "
                        f"{other_comp.seq} ({describe(other_comp)}) undid the later one only afterwards. "
                        "So the compensations ran out of reverse order."
                    ),
                    why=(
                        "Compensations undo a saga in reverse: a later step may depend on an earlier one "
                        "(a charge on a reservation), and undoing the earlier first leaves a state that "
                        "never existed. Compensate latest first."
                    ),
                )
            )
        bisect.insort(later_effects, effect.seq)
        by_seq[effect.seq] = (effect, comp)
    return found
