"""Crash and restart: side effects redone after a restart, and resumed runs that end differently.

Rules (also in docs/checkers.md):

- An *effect* is a call of a ``side_effect=True`` tool whose body ran in this run
  (``executed``, not replayed) and did not fail with the tool's own error (status ``ok``,
  ``lost_ack``, ``timeout``, ``cancelled`` or ``killed``): as in ``duplicate_side_effects``,
  once the body started the effect may have happened. A crash in the ambiguous window
  (``crash_after_effect``) leaves exactly such a call, status ``killed``.
- ``redone_side_effect``: an effect of incarnation *i* is executed again, same tool and same
  arguments, by a later incarnation (after a ``restart``). Handled: both calls carry the same
  idempotency key (the service deduplicates it: the key notion of
  ``duplicate_side_effects``), or the restarted incarnation made a *reconciliation read*
  before redoing it (a call of a tool without side effects, after the restart, whose
  arguments share a value with the effect's arguments or result: it asked the world whether
  the effect had happened). A repeat the uninterrupted baseline also makes (the same number
  of effects of that intent) is the system's own behaviour, not a redo.
- ``resume_parity``: a run that restarted ended ``ok`` but its effects or its final output
  differ from the uninterrupted baseline run of the same call (under ``pytest --chaos``, the
  baseline's run; with ``--chaos-plan``, one run without faults made first). Only a run whose
  every injected fault was a crash is compared: other faults would strike other calls after a
  restart than without one (call numbers move), so the comparison would not be fair. Effects are
  compared in order, deduplicated by idempotency key; tools the test declares
  ``order_free`` (``["*"]``: all) as a multiset. Handled: a run that admits trouble (the
  honest degradation every checker accepts). Where an LLM reply in the restarted run was
  substituted (a cassette miss served under ``nearest``), only the tools' names are compared
  and not the output: the substituted text is not what the model would have said.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from harness._checkers._common import admits_failure, brief, events, leaves, run_end, step
from harness._checkers._registry import Violation, checker
from harness._log._events import LLMCall, Restart, ToolCall
from harness._log._runlog import RunLog

__all__ = ["effects_of", "redone_side_effect", "resume_parity"]

_TOOK_EFFECT = frozenset({"ok", "lost_ack", "timeout", "cancelled", "killed"})


def _took_effect(call: ToolCall) -> bool:
    return call.side_effect and call.executed and not call.replayed and call.status in _TOOK_EFFECT


def effects_of(log: RunLog) -> list[ToolCall]:
    """The effects of a run, in order, each idempotency key counted once (per tool)."""
    seen: set[tuple[str, str]] = set()
    out: list[ToolCall] = []
    for call in events(log, "tool_call"):
        if not isinstance(call, ToolCall) or not _took_effect(call):
            continue
        if call.idempotency_key is not None:
            if (call.name, call.idempotency_key) in seen:
                continue
            seen.add((call.name, call.idempotency_key))
        out.append(call)
    return out


def _intent_counts(log: RunLog) -> Counter[tuple[str, str]]:
    return Counter((c.name, c.args_digest) for c in effects_of(log))


def _restarts(log: RunLog) -> list[Restart]:
    return [e for e in events(log, "restart") if isinstance(e, Restart)]


@checker("redone_side_effect")
def redone_side_effect(log: RunLog, /, **context: Any) -> list[Violation]:
    """A side effect that took effect before a crash was executed again after the restart, with
    neither the same idempotency key nor a reconciliation read."""
    restarts = _restarts(log)
    if not restarts:
        return []
    baseline = context.get("baseline")
    allowed = _intent_counts(baseline) if isinstance(baseline, RunLog) else Counter()
    reads = [
        c
        for c in events(log, "tool_call")
        if isinstance(c, ToolCall) and not c.side_effect and c.status == "ok" and (c.executed or c.replayed)
    ]
    done: dict[tuple[str, str], list[ToolCall]] = {}
    found: list[Violation] = []
    flagged: set[tuple[str, str]] = set()
    for call in events(log, "tool_call"):
        if not isinstance(call, ToolCall) or not _took_effect(call):
            continue
        intent = (call.name, call.args_digest)
        earlier = [e for e in done.get(intent, []) if e.incarnation < call.incarnation]
        done.setdefault(intent, []).append(call)
        if not earlier or intent in flagged:
            continue
        first = earlier[0]
        if first.idempotency_key is not None and call.idempotency_key == first.idempotency_key:
            continue
        if len(done[intent]) <= allowed.get(intent, 0):
            continue  # the uninterrupted run makes this many too
        began = call.began_at if call.began_at is not None else call.seq
        restart = next(r for r in reversed(restarts) if r.seq < began)
        wanted = leaves(first.args) | leaves(first.result)
        if any(restart.seq < r.seq < began and wanted & leaves(r.args) for r in reads):
            continue  # it asked the world first (and the world said the effect was not there)
        flagged.add(intent)
        keys = (
            f"idempotency keys {first.idempotency_key!r} and {call.idempotency_key!r}"
            if first.idempotency_key is not None or call.idempotency_key is not None
            else "no idempotency key"
        )
        found.append(
            Violation(
                checker="redone_side_effect",
                severity="critical",
                steps=[first.seq, restart.seq, call.seq],
                message=(
                    f"Let {step(first)} take effect in incarnation {first.incarnation}. Then the system "
                    f"crashed ({restart.point} at {restart.site}) and step {restart.seq} started it again; "
                    f"{step(call)} executed {call.name} again with the same arguments, {keys}, and no "
                    "reconciliation read after the restart. So the effect of "
                    f"{call.name} happened twice for one intent."
                ),
                why=(
                    "A workflow resumed from its last checkpoint redoes every step after it, and the "
                    "step the crash interrupted may already have taken effect (the ambiguous window "
                    "between an effect and the checkpoint recording it): a second charge, a second "
                    "email. Derive the idempotency key from the step's content so the redo carries the "
                    "same key, or ask the service whether the effect exists before redoing it."
                ),
            )
        )
    return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _differences(
    mine: list[ToolCall], theirs: list[ToolCall], order_free: frozenset[str], names_only: bool
) -> list[str]:
    every = "*" in order_free

    def ident(call: ToolCall) -> str:
        return call.name if names_only else f"{call.name}({brief(call.args, 60)})"

    def split(calls: Iterable[ToolCall]) -> tuple[list[str], Counter[str]]:
        ordered: list[str] = []
        loose: Counter[str] = Counter()
        for call in calls:
            if every or call.name in order_free:
                loose[ident(call)] += 1
            else:
                ordered.append(ident(call))
        return ordered, loose

    got, got_loose = split(mine)
    want, want_loose = split(theirs)
    problems: list[str] = []
    if got != want:
        extra = list((Counter(got) - Counter(want)).elements())
        missing = list((Counter(want) - Counter(got)).elements())
        if extra:
            problems.append(f"extra effects {', '.join(extra[:4])}")
        if missing:
            problems.append(f"missing effects {', '.join(missing[:4])}")
        if not extra and not missing:
            problems.append(
                f"the effects in another order ({', '.join(got[:6])} instead of {', '.join(want[:6])})"
            )
    if got_loose != want_loose:
        extra = list((got_loose - want_loose).elements())
        missing = list((want_loose - got_loose).elements())
        if extra:
            problems.append(f"extra effects {', '.join(extra[:4])}")
        if missing:
            problems.append(f"missing effects {', '.join(missing[:4])}")
    return problems


@checker("resume_parity")
def resume_parity(log: RunLog, /, **context: Any) -> list[Violation]:
    """A crash-restarted run ended with other effects or another output than the uninterrupted run."""
    baseline = context.get("baseline")
    restarts = _restarts(log)
    if not restarts or not isinstance(baseline, RunLog):
        return []
    end, their_end = run_end(log), run_end(baseline)
    if end is None or their_end is None or end.status != "ok" or their_end.status != "ok":
        return []
    if admits_failure(log, end, (), context):
        return []
    if len(events(log, "fault_injected")) != len(restarts):
        return []  # other faults too: the uninterrupted run is no fair comparison
    substituted = any(isinstance(c, LLMCall) and c.source == "substituted" for c in events(log, "llm_call"))
    order_free = frozenset(context.get("order_free") or ())
    problems = _differences(effects_of(log), effects_of(baseline), order_free, substituted)
    if not substituted and _canonical(end.output) != _canonical(their_end.output):
        problems.append(f"the output {brief(end.output, 80)} instead of {brief(their_end.output, 80)}")
    if not problems:
        return []
    crash = restarts[0]
    return [
        Violation(
            checker="resume_parity",
            severity="major",
            steps=[crash.seq, end.seq],
            message=(
                f"Let the system crash ({crash.point} at {crash.site}) and restart at step {crash.seq}. "
                f"The restarted run ended ok at step {end.seq} with {'; '.join(problems)}, compared with "
                "the same call run without faults. So resuming from the checkpoint did not reach the "
                "state an uninterrupted run reaches."
            ),
            why=(
                "Recovery must be invisible: a resumed workflow that skips a step (its checkpoint was "
                "written before the effect), redoes one, or answers differently leaves the world in a "
                "state no uninterrupted run produces. Checkpoint after each effect with the effect's "
                "key, and on resume reconcile the step the crash interrupted."
            ),
        )
    ]
