"""Handoffs: payloads that break their declared contract, and constraints lost on the way (goal drift).

Rules (also in docs/checkers.md):

- ``handoff_contract``: a ``handoff`` event with ``valid=False`` (its payload failed the
  schema declared with ``harness.handoff(..., schema=...)``). ``valid=None`` means no
  schema was declared and nothing is checked.
- ``goal_drift``: every ``constraint`` event (``harness.constraint(name, value)``) must
  be *carried* by each later handoff payload (when declared with ``handoffs=True``) and
  by the final output of a run that ended ok (when ``output=True``). A carrier carries
  it when, anywhere within four levels, a field named like the constraint holds its
  value, a value equals it, a text contains it (numbers also in their ``10,000`` form),
  or the handoff lists the constraint in its ``constraints``. Semantic checks registered
  for ``goal_drift`` (see ``harness._checkers._semantic``) can accept a paraphrase or
  reject a contradiction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness._checkers._common import brief, describe, run_end, step
from harness._checkers._semantic import semantic_checks
from harness._checks import Violation, checker
from harness._events import Constraint, Handoff
from harness._runlog import RunLog

__all__ = ["carries", "goal_drift", "handoff_contract"]

_MAX_DEPTH = 4


@checker("handoff_contract")
def handoff_contract(log: RunLog, /, **context: Any) -> list[Violation]:
    """A handoff payload failed its declared schema."""
    found: list[Violation] = []
    for event in log:
        if not isinstance(event, Handoff) or event.valid is not False:
            continue
        schema = f" schema {event.schema_name}" if event.schema_name else " declared schema"
        problems = "; ".join(event.errors[:5]) or "no details recorded"
        found.append(
            Violation(
                checker="handoff_contract",
                severity="major",
                steps=[event.seq],
                message=(
                    f"Let {step(event)} pass the payload {brief(event.payload, 80)} to {event.target}. It "
                    f"fails its{schema}: {problems}. So {event.target} received work it cannot rely on."
                ),
                why=(
                    "A malformed handoff is read by the next agent as if it were right: fields go missing, "
                    "types are guessed, and the error surfaces far from its cause. Validate payloads "
                    "against a typed schema at the handoff and repair or reject them there."
                ),
            )
        )
    return found


def _texts(value: Any) -> list[str]:
    """The texts that spell ``value`` in prose: ``10000`` also as ``10,000``."""
    if isinstance(value, bool) or value is None:
        return [str(value).lower()]
    if isinstance(value, int):
        return [str(value), f"{value:,}"]
    if isinstance(value, float):
        texts = [repr(value)]
        if value.is_integer():
            texts += [str(int(value)), f"{int(value):,}"]
        return texts
    return [str(value).lower()]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, int | float) and isinstance(b, str) or isinstance(a, str) and isinstance(b, int | float):
        return str(a).strip() == str(b).strip()
    return bool(a == b)


def _contains(carrier: Any, name: str, value: Any, texts: list[str], depth: int = 0) -> bool:
    if _same(carrier, value):
        return True
    if isinstance(carrier, str):
        if isinstance(value, str):
            lowered = carrier.lower()
            return any(t in lowered for t in texts)
        # A number is carried as a whole number: 10000 is not in "100000" nor in "10000.5".
        return any(re.search(rf"(?<![\d.,]){re.escape(t)}(?![\d]|[.,]\d)", carrier) for t in texts)
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(carrier, Mapping):
        for key, item in carrier.items():
            if str(key).lower() == name.lower() and _contains(item, name, value, texts, _MAX_DEPTH):
                return True
            if _contains(item, name, value, texts, depth + 1):
                return True
        return False
    if isinstance(carrier, list | tuple):
        return any(_contains(item, name, value, texts, depth + 1) for item in carrier)
    return False


def carries(carrier: Any, name: str, value: Any) -> bool:
    """Whether ``carrier`` (a payload or output) carries the constraint ``name = value``.

    A list or mapping ``value`` is carried when each of its items (values) is.
    """
    if isinstance(value, Mapping):
        return all(carries(carrier, str(k), v) for k, v in value.items()) if value else True
    if isinstance(value, list | tuple):
        return all(carries(carrier, name, v) for v in value)
    return _contains(carrier, name, value, _texts(value))


def _listed(handoff: Handoff, constraint: Constraint) -> bool:
    for item in handoff.constraints:
        if isinstance(item, str) and item == constraint.name:
            return True
        if isinstance(item, Mapping) and item.get("name") == constraint.name and _same(
            item.get("value"), constraint.value
        ):
            return True
    return False


def _judged(constraint: Constraint, carrier: Any, where: str, literal: bool) -> tuple[bool, str]:
    """(carried, note): the deterministic answer, overruled by any semantic check that has an opinion."""
    opinions = [judge(constraint, carrier, where) for judge in semantic_checks("goal_drift")]
    if any(o is False for o in opinions):
        return False, " (a semantic check judged it dropped or contradicted)"
    if not literal and any(o is True for o in opinions):
        return True, ""
    return literal, ""


@checker("goal_drift")
def goal_drift(log: RunLog, /, **context: Any) -> list[Violation]:
    """A hard constraint declared on the task is missing from a later handoff or the final output."""
    constraints: list[Constraint] = []
    carried_by: dict[int, list[int]] = {}  # constraint seq -> handoffs that carried it
    dropped: dict[int, tuple[Handoff, str]] = {}  # constraint seq -> first handoff without it
    dropped_count: dict[int, int] = {}
    for event in log:
        if isinstance(event, Constraint):
            constraints.append(event)
        elif isinstance(event, Handoff):
            for constraint in constraints:
                if not constraint.handoffs:
                    continue
                literal = _listed(event, constraint) or carries(event.payload, constraint.name, constraint.value)
                ok, note = _judged(constraint, event.payload, "handoff", literal)
                if ok:
                    carried_by.setdefault(constraint.seq, []).append(event.seq)
                else:
                    dropped.setdefault(constraint.seq, (event, note))
                    dropped_count[constraint.seq] = dropped_count.get(constraint.seq, 0) + 1
    end = run_end(log)
    found: list[Violation] = []
    for constraint in constraints:
        output_note: str | None = None
        if constraint.output and end is not None and end.status == "ok":
            literal = carries(end.output, constraint.name, constraint.value)
            ok, note = _judged(constraint, end.output, "output", literal)
            if not ok:
                output_note = note
        lost = dropped.get(constraint.seq)
        if lost is None and output_note is None:
            continue
        parts = [f"Let {step(constraint)} declare a hard constraint of the task"]
        carried = [s for s in carried_by.get(constraint.seq, []) if lost is None or s < lost[0].seq]
        if carried:
            parts.append(f"step {carried[-1]} ({describe(log[carried[-1]])}) still carried it")
        steps = [constraint.seq, *carried[-1:]]
        if lost is not None:
            handoff, note = lost
            more = dropped_count[constraint.seq] - 1
            parts.append(
                f"then {step(handoff)} dropped it{note}: its payload {brief(handoff.payload, 80)} holds "
                f"neither a {constraint.name} field nor {brief(constraint.value, 30)}"
                + (f" (and {more} later handoff{'s' if more > 1 else ''} lack it too)" if more > 0 else "")
            )
            steps.append(handoff.seq)
        if output_note is not None and end is not None:
            parts.append(
                f"the final output at step {end.seq} ({brief(end.output, 80)}) does not carry it{output_note}"
            )
            steps.append(end.seq)
        found.append(
            Violation(
                checker="goal_drift",
                severity="major",
                steps=sorted(set(steps)),
                message="; ".join(parts) + f". So the constraint {constraint.name} was lost on the way.",
                why=(
                    "A constraint paraphrased or dropped by one handoff is unknown to every agent after it: "
                    "the $10,000 limit is gone by the fifth hop and the answer ignores it. Carry the task's "
                    "constraints as typed data in every handoff and check the output against them."
                ),
            )
        )
    return found
