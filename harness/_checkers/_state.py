"""Shared state: lost updates (read-modify-write races) and stale fencing tokens (split brain).

Rules (also in docs/checkers.md):

- ``lost_update``: an accepted ``state_write`` whose base version is older than the
  key's current version at write time. The base is ``based_on_version`` when the store
  recorded it; for a blind write (no base recorded) it is the version the writing agent
  last read or wrote of that key, if it did. An accepted compare-and-set whose
  ``expected_version`` differs from the current version is a lost update too (the store
  did not enforce its own check).
- ``stale_fencing_token``: an action accepted with a fencing token lower than the
  highest token already accepted by the same resource: per state store for
  ``state_write`` events, per tool for ``tool_call`` events (accepted = ran and did not
  fail with an error). A rejected action is the fencing working, not a violation.
"""

from __future__ import annotations

from typing import Any

from harness._checkers._common import events, step
from harness._checkers._registry import Violation, checker
from harness._log._events import StateRead, StateWrite, ToolCall
from harness._log._runlog import RunLog

__all__ = ["lost_update", "stale_fencing_token"]


@checker("lost_update")
def lost_update(log: RunLog, /, **context: Any) -> list[Violation]:
    """A write based on a version older than the current one was accepted (read-modify-write race)."""
    known: dict[tuple[str, str, str], tuple[int, int]] = {}  # (store, key, agent) -> (version, seq seen)
    made_by: dict[tuple[str, str], dict[int, int]] = {}  # (store, key) -> {version: seq of the write}
    found: list[Violation] = []
    for event in events(log, "state_read", "state_write"):
        if isinstance(event, StateRead):
            known[(event.store, event.key, event.agent or "")] = (event.version, event.seq)
            continue
        if not isinstance(event, StateWrite):
            continue
        where = (event.store, event.key)
        mine = (event.store, event.key, event.agent or "")
        base: int | None
        basis = ""
        if event.op == "cas" and event.expected_version is not None:
            base = event.expected_version
            basis = f"expected version {base}"
        elif event.based_on_version is not None:
            base = event.based_on_version
            basis = f"based on version {base}"
        elif mine in known:
            base, seen = known[mine]
            basis = f"a blind write by an agent that last saw version {base} at step {seen}"
        else:
            base = None
        if event.accepted and base is not None and base < event.current_version:
            overwritten = [made_by.get(where, {}).get(v) for v in range(base + 1, event.current_version + 1)]
            between = [s for s in overwritten if s is not None]
            read = known.get(mine)
            read_text = ""
            if read:
                read_text = f"Let step {read[1]} see {event.store}/{event.key} at version {read[0]}; "
            later = (
                "then "
                + ", ".join(step(log[s]) for s in between[:3])
                + f" moved it to version {event.current_version}; "
                if between
                else f"meanwhile the key moved to version {event.current_version}; "
            )
            found.append(
                Violation(
                    checker="lost_update",
                    severity="critical",
                    steps=sorted({*(s for s in between[:3]), event.seq, *([read[1]] if read else [])}),
                    message=(
                        f"{read_text}{later}then {step(event)} was accepted, {basis}. So the update"
                        f"{'s' if len(between) > 1 else ''} made after version {base} "
                        f"{'were' if len(between) > 1 else 'was'} overwritten without being seen."
                    ),
                    why=(
                        "Two agents read the same value, both changed it, and the last write silently "
                        "erased the other: a lost update. Write with compare-and-set on the version you "
                        "read (retry on conflict), or serialise writers."
                    ),
                )
            )
        if event.accepted and event.new_version is not None:
            made_by.setdefault(where, {})[event.new_version] = event.seq
            if mine in known:  # the writer has seen its own write; blind writers are not tracked
                known[mine] = (event.new_version, event.seq)
    return found


@checker("stale_fencing_token")
def stale_fencing_token(log: RunLog, /, **context: Any) -> list[Violation]:
    """An action was accepted with a fencing token lower than one already seen (split brain)."""
    highest: dict[str, tuple[int, int]] = {}  # resource -> (token, seq of the action that presented it)
    found: list[Violation] = []
    for event in events(log, "state_write", "tool_call"):
        if isinstance(event, StateWrite):
            if event.fencing_token is None or not event.accepted:
                continue
            resource, label = f"store:{event.store}", f"state store {event.store}"
        elif isinstance(event, ToolCall):
            ran = event.executed or event.replayed
            if event.fencing_token is None or event.status == "error" or not ran:
                continue
            resource, label = f"tool:{event.name}", f"tool {event.name}"
        else:
            continue
        token = event.fencing_token
        seen = highest.get(resource)
        if seen is not None and token < seen[0]:
            found.append(
                Violation(
                    checker="stale_fencing_token",
                    severity="critical",
                    steps=[seen[1], event.seq],
                    message=(
                        f"Let {step(log[seen[1]])} be accepted by {label} with fencing token {seen[0]}; "
                        f"then {step(event)} was accepted with the lower token {token}. So a holder whose "
                        "lease had already passed to someone else still acted: two leaders at once."
                    ),
                    why=(
                        "A paused or partitioned leader that wakes up keeps issuing orders (split brain) "
                        "unless every resource rejects tokens lower than the highest it has seen. Pass the "
                        "lease's fencing token on every action and reject stale ones at the resource."
                    ),
                )
            )
        elif seen is None or token > seen[0]:
            highest[resource] = (token, event.seq)
    return found
