"""Handoffs: payloads that break their declared contract, and constraints lost on the way (goal drift).

Rules (also in docs/checkers.md):

- ``handoff_contract``: a ``handoff`` event with ``valid=False`` (its payload failed the
  schema declared with ``harness.handoff(..., schema=...)``). ``valid=None`` means no
  schema was declared and nothing is checked.
- ``goal_drift``: every ``constraint`` event (``harness.constraint(name, value)``) must
  be *carried* by each later handoff payload (when declared with ``handoffs=True``) and
  by the final output of a run that ended ok (when ``output=True``). A carrier carries
  it when, anywhere within four levels, a field named like the constraint holds its
  value, a value equals it, or a text contains it (numbers also in their ``10,000`` form).
  Constraints listed on a handoff (``harness.handoff(..., constraints=[...])``) bind
  that handoff's payload and every later handoff sent by its receiver (downstream),
  transitively. Semantic checks registered
  for ``goal_drift`` (see ``harness._checkers._semantic``) can accept a paraphrase or
  reject a contradiction.
- ``goal_drift`` also answers the semantic assertions made at handoffs
  (``harness.handoff(..., rubric=...)``, or configured per handoff in ``judges``): the
  ``goal_drift.rubric`` semantic check (registered by ``judges``) asks a judge whether the
  payload still meets the assertion given the constraints in force there. ``False`` is
  drift (a major finding, the verdict's score and rationale in the message); an undecided
  verdict (unscored or indeterminate) is never taken as kept: it is a *minor* finding whose
  message begins "Undecided", so the test fails and says the judge could not decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness._checkers._common import brief, describe, events, run_end, step
from harness._checkers._registry import Violation, checker
from harness._checkers._semantic import semantic_checks
from harness._errors import ConfigError
from harness._log._events import Constraint, Handoff
from harness._log._runlog import RunLog

__all__ = ["carries", "goal_drift", "handoff_contract"]

_MAX_DEPTH = 4


@checker("handoff_contract")
def handoff_contract(log: RunLog, /, **context: Any) -> list[Violation]:
    """A handoff payload failed its declared schema."""
    found: list[Violation] = []
    for event in events(log, "handoff"):
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
    if isinstance(a, int | float | str) and isinstance(b, int | float | str):
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
    # Fast path: a top-level field of that name holding the value.
    if isinstance(carrier, Mapping) and name in carrier and _same(carrier[name], value):
        return True
    return _contains(carrier, name, value, _texts(value))


def _judged(constraint: Constraint, carrier: Any, where: str, literal: bool) -> tuple[bool, str]:
    """(carried, note): the deterministic answer, overruled by any semantic check that has an opinion."""
    opinions = [judge(constraint, carrier, where) for judge in semantic_checks("goal_drift")]
    if any(o is False for o in opinions):
        return False, " (a semantic check judged it dropped or contradicted)"
    if not literal and any(o is True for o in opinions):
        return True, ""
    return literal, ""


class _Obligation:
    """One constraint to carry: where it was declared, who must pass it on, what happened to it."""

    __slots__ = (
        "carried",
        "declared",
        "dropped",
        "dropped_count",
        "everywhere",
        "holders",
        "name",
        "output",
        "value",
    )

    def __init__(
        self, name: str, value: Any, declared: Constraint | Handoff, *, everywhere: bool, output: bool
    ):
        self.name = name
        self.value = value
        self.declared = declared
        self.everywhere = everywhere  # a task constraint binds every later handoff
        self.output = output
        self.holders: set[str | None] = set()  # agents that received it (handoff-declared constraints)
        self.carried: list[int] = []
        self.dropped: tuple[Handoff, str] | None = None
        self.dropped_count = 0


def _as_constraints(item: Any) -> list[tuple[str, Any]]:
    """A handoff's ``constraints`` item as (name, value) pairs."""
    if isinstance(item, Mapping):
        if "name" in item and "value" in item:
            return [(str(item["name"]), item["value"])]
        return [(str(k), v) for k, v in item.items()]
    return [(str(item), item)]


def _key(name: str, value: Any) -> tuple[str, str]:
    return name, brief(value, 10_000)


def _check(ob: _Obligation, handoff: Handoff) -> None:
    literal = carries(handoff.payload, ob.name, ob.value)
    as_event = ob.declared if isinstance(ob.declared, Constraint) else _synthetic(ob, handoff)
    ok, note = _judged(as_event, handoff.payload, "handoff", literal)
    if ok:
        ob.carried.append(handoff.seq)
    else:
        if ob.dropped is None:
            ob.dropped = (handoff, note)
        ob.dropped_count += 1


def _synthetic(ob: _Obligation, handoff: Handoff) -> Constraint:
    """A handoff-declared constraint as a Constraint event, for semantic checks."""
    d = ob.declared
    return Constraint(
        run_id=d.run_id,
        seq=d.seq,
        t=d.t,
        step_id=d.step_id,
        parent_step_id=d.parent_step_id,
        agent=d.agent,
        name=ob.name,
        value=ob.value,
        handoffs=True,
        output=False,
    )


@checker("goal_drift")
def goal_drift(log: RunLog, /, **context: Any) -> list[Violation]:
    """A hard constraint declared on the task is missing from a later handoff or the final output."""
    obligations: dict[tuple[str, str], _Obligation] = {}
    handoffs: list[tuple[Handoff, list[tuple[str, Any]]]] = []
    for event in events(log, "constraint", "handoff"):
        if isinstance(event, Constraint):
            key = _key(event.name, event.value)
            if key not in obligations:
                obligations[key] = _Obligation(
                    event.name, event.value, event, everywhere=event.handoffs, output=event.output
                )
            continue
        if not isinstance(event, Handoff):
            continue
        sender = event.source or event.agent
        for item in event.constraints:
            for name, value in _as_constraints(item):
                key = _key(name, value)
                if key not in obligations:
                    obligations[key] = _Obligation(name, value, event, everywhere=False, output=False)
                obligations[key].holders.add(sender)
        # What a semantic assertion here is judged against: every task constraint declared so
        # far (also one declared with handoffs=False: the assertion names what it checks) and
        # the handoff constraints its sender holds.
        in_force: list[tuple[str, Any]] = []
        for ob in obligations.values():
            if ob.everywhere:
                _check(ob, event)
            elif sender in ob.holders:
                _check(ob, event)
                ob.holders.add(event.target)  # the receiver must pass it on in turn
            elif not isinstance(ob.declared, Constraint):
                continue
            in_force.append((ob.name, ob.value))
        handoffs.append((event, in_force))
    end = run_end(log)
    found: list[Violation] = []
    for ob in obligations.values():
        output_note: str | None = None
        if ob.output and end is not None and end.status == "ok":
            literal = carries(end.output, ob.name, ob.value)
            as_event = ob.declared if isinstance(ob.declared, Constraint) else None
            ok, note = _judged(as_event, end.output, "output", literal) if as_event else (literal, "")
            if not ok:
                output_note = note
        if ob.dropped is None and output_note is None:
            continue
        declared = ob.declared
        if isinstance(declared, Constraint):
            parts = [f"Let {step(declared)} declare a hard constraint of the task"]
        else:
            parts = [f"Let {step(declared)} require the constraint {brief(ob.value, 60)}"]
        steps = [declared.seq]
        cutoff = ob.dropped[0].seq if ob.dropped is not None else len(log)
        carried = [s for s in ob.carried if s < cutoff]
        if carried:
            parts.append(f"step {carried[-1]} ({describe(log[carried[-1]])}) still carried it")
            steps.append(carried[-1])
        if ob.dropped is not None:
            handoff, note = ob.dropped
            more = ob.dropped_count - 1
            field = f"a {ob.name} field nor " if ob.name != str(ob.value) else ""
            parts.append(
                f"then {step(handoff)} dropped it{note}: its payload {brief(handoff.payload, 80)} holds "
                f"neither {field}{brief(ob.value, 40)}"
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
                message="; ".join(parts) + f". So the constraint {brief(ob.name, 60)} was lost on the way.",
                why=_DRIFT_WHY,
            )
        )
    found.extend(_rubric_findings(log, handoffs))
    return found


_DRIFT_WHY = (
    "A constraint paraphrased or dropped by one handoff is unknown to every agent after it: the $10,000 "
    "limit is gone by the fifth hop and the answer ignores it. Carry the task's constraints as typed data "
    "in every handoff and check the output against them."
)


def _rubric_findings(log: RunLog, handoffs: list[tuple[Handoff, list[tuple[str, Any]]]]) -> list[Violation]:
    """The semantic assertions at handoffs, answered by the ``goal_drift.rubric`` semantic checks."""
    judges = semantic_checks("goal_drift.rubric")
    found: list[Violation] = []
    for event, in_force in handoffs:
        if not judges:
            if event.rubric is not None:
                raise ConfigError(
                    f"{step(event)} carries a semantic assertion "
                    f"(handoff(..., rubric={brief(event.rubric, 60)})) but no judge answers it: no "
                    "'goal_drift.rubric' semantic check is registered. Rule: an "
                    "assertion is never skipped silently. Fix: install brownout with its judges package (it "
                    "registers the check through the brownout.checkers entry point), or import judges in "
                    "conftest.py."
                )
            continue
        for judge in judges:
            answer = judge(event, list(in_force), log)
            if answer is None:
                continue
            held, note = answer
            if held is True:
                continue
            where = f"Let {step(event)} pass {brief(event.payload, 80)} to {event.target}"
            if held is False:
                found.append(
                    Violation(
                        checker="goal_drift",
                        severity="major",
                        steps=[event.seq],
                        message=f"{where}; the judge says it drifted from the task: {note}",
                        why=_DRIFT_WHY,
                    )
                )
            else:
                found.append(
                    Violation(
                        checker="goal_drift",
                        severity="minor",
                        steps=[event.seq],
                        message=(
                            f"Undecided: {where}; the judge could not decide whether it still meets the "
                            f"assertion made there, so nothing shows the constraint survived: {note}"
                        ),
                        why=(
                            "An unscored or indeterminate verdict is not a pass: the handoff was never shown "
                            "to keep the task's constraints. Re-record the judge's call (or fix the judge) "
                            "to get a verdict."
                        ),
                    )
                )
    return found
