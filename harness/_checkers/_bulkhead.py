"""Missing bulkhead: one branch took more than its share of a shared budget, and another was denied.

Rule (also in docs/checkers.md): the branches of a ``harness.Budget`` are every branch that
acquired from it or was denied in the run; a branch's *share* is the capacity at the time
divided by their number. A denial of branch ``B`` is starvation when ``B`` asked for no
more than its share (what it held plus the amount it asked for) while another branch ``A``
held more than its share at that moment. One violation per budget and starved branch
(major), naming the branch that ran away, what it held, the capacity and the denial.

Handled: one budget per branch (a bulkhead: no other branch can take from it); a shared
budget whose branches each keep within their share (a quota in code); a branch denied
because it asked for more than its own share itself.

Opt-in: a task-wide budget that everyone stops at is a legitimate design; the checker
judges whether branches are isolated from each other, which only some systems promise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from harness._checkers._common import events, step
from harness._checkers._registry import Violation, checker
from harness._log._events import BudgetUse
from harness._log._runlog import RunLog

__all__ = ["bulkhead"]


def _n(value: float) -> str:
    return f"{value:g}"


@checker("bulkhead", default=False)
def bulkhead(log: RunLog, /, **context: object) -> list[Violation]:
    """A branch was denied a shared budget while another branch held more than its share."""
    uses = cast(list[BudgetUse], events(log, "budget"))
    branches: dict[str, set[str]] = defaultdict(set)
    for use in uses:
        branches[use.budget].add(use.branch)
    held: dict[str, dict[str, float]] = defaultdict(dict)
    last_grant: dict[tuple[str, str], BudgetUse] = {}
    reported: set[tuple[str, str]] = set()
    found: list[Violation] = []
    for use in uses:
        holdings = held[use.budget]
        if use.op != "deny":
            holdings[use.branch] = use.held
            if use.op == "acquire":
                last_grant[(use.budget, use.branch)] = use
            continue
        if (use.budget, use.branch) in reported or len(branches[use.budget]) < 2:
            continue
        share = use.capacity / len(branches[use.budget])
        own = holdings.get(use.branch, 0.0)
        if own + use.amount > share + 1e-9:
            continue  # it asked for more than its own share
        hogs = sorted(
            ((b, h) for b, h in holdings.items() if b != use.branch and h > share + 1e-9),
            key=lambda item: -item[1],
        )
        if not hogs:
            continue
        reported.add((use.budget, use.branch))
        hog, amount = hogs[0]
        grant = last_grant.get((use.budget, hog))
        steps = sorted({use.seq, *([grant.seq] if grant is not None else [])})
        took = f" (its latest grant: {step(grant)})" if grant is not None else ""
        found.append(
            Violation(
                checker="bulkhead",
                severity="major",
                steps=steps,
                message=(
                    f"Let branch {hog} hold {_n(amount)} of budget {use.budget} (capacity "
                    f"{_n(use.capacity)}, {len(branches[use.budget])} branches: a share of {_n(share)})"
                    f"{took}. Then {step(use)} denied branch {use.branch} {_n(use.amount)}, although it "
                    f"held only {_n(own)} and asked for no more than its share. So branch {hog} ran away "
                    f"with the shared budget and starved branch {use.branch}."
                ),
                why=(
                    "Without bulkheads one runaway branch (a retry loop, a ballooning prompt) takes the "
                    "capacity every other branch needs, and a fault in one part becomes an outage of all. "
                    "Give each branch its own budget, or cap each branch's share of the shared one."
                ),
            )
        )
    return found
