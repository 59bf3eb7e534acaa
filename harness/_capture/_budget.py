"""Budget: a shared capacity (tokens, slots, dollars) that branches of a system draw from, recorded.

A bulkhead is the decision to give each branch its own budget, so that one branch running
away cannot starve the others. :class:`Budget` is the primitive both designs are built
from: one shared ``Budget("llm_tokens", 10_000)`` for everyone, or one per branch. Every
acquire, release and denial is a ``budget`` event carrying the branch, the amount, what is
in use and the capacity, from which the ``bulkhead`` checker works. Budget faults are
applied here, as the run's hooks decide (the capacity shrinks, a branch's use balloons).
Outside a run a budget is a plain counter.
"""

from __future__ import annotations

import threading
from typing import Any

from harness._capture._context import _FRAME, _RUN, BudgetSite, RunContext
from harness._capture._decisions import InflateUse, ShrinkBudget
from harness._errors import ConfigError
from harness._log._events import BudgetUse

__all__ = ["Budget"]


def _number(value: Any, what: str, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise ConfigError(f"{what}={value!r}: must be a number > 0, e.g. {example}.")
    return float(value)


def _branch(branch: str | None) -> str:
    if branch is not None:
        if not isinstance(branch, str) or not branch:
            raise ConfigError(f"branch={branch!r}: a branch is a non-empty name, e.g. branch='research'.")
        return branch
    frame = _FRAME.get()
    return frame.name if frame else "main"


class Budget:
    """A shared capacity that branches acquire from and release to; a denial is recorded too.

    ``acquire`` never waits: it grants ``amount`` when that much is still available and
    returns ``True``, else it records a denial and returns ``False`` (a bulkhead rejects;
    it does not queue). ``release`` gives back what a branch holds (tokens spent are simply
    never released). A branch is named explicitly or is the current agent.

    Args:
        name: The budget's name (fault plans select it as ``budget[<name>]``).
        capacity: How much there is, a number > 0.
    """

    def __init__(self, name: str, capacity: float) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"Budget(name={name!r}): the name must be a non-empty string, e.g. 'llm_tokens'."
            )
        self.name = name
        self._initial = _number(capacity, f"Budget({name!r}, capacity", "capacity=10000)")
        self._lock = threading.RLock()
        self._run: RunContext | None = None
        self._reset()

    def _reset(self) -> None:
        self._capacity = self._initial
        self._held: dict[str, float] = {}
        self._scale: dict[str, float] = {}
        self._calls = 0

    def _for_run(self) -> RunContext | None:
        """The active run; a budget starts afresh in each run (its state is the run's)."""
        ctx = _RUN.get()
        if ctx is not None and ctx is not self._run:
            self._run = ctx
            self._reset()
        return ctx

    @property
    def capacity(self) -> float:
        """The capacity now (a fault may have shrunk it)."""
        with self._lock:
            self._for_run()
            return self._capacity

    @property
    def in_use(self) -> float:
        """How much is held, by all branches."""
        with self._lock:
            self._for_run()
            return sum(self._held.values())

    def held(self, branch: str) -> float:
        """How much ``branch`` holds."""
        with self._lock:
            self._for_run()
            return self._held.get(branch, 0.0)

    def acquire(self, amount: float = 1, *, branch: str | None = None) -> bool:
        """Take ``amount`` for ``branch`` (default: the current agent) if it is available.

        Returns:
            ``True`` when granted; ``False`` when denied (the denial is recorded).
        """
        amount = _number(amount, f"{self.name}.acquire(amount", "amount=1")
        who = _branch(branch)
        with self._lock:
            ctx = self._for_run()
            if ctx is not None:
                ctx.refuse_if_dead()
            self._calls += 1
            taken = amount
            if ctx is not None:
                site = BudgetSite(self.name, who, self._calls, amount, self._capacity)
                decision = ctx.hooks.budget_op(ctx, site)
                if isinstance(decision, ShrinkBudget):
                    self._capacity = max(0.0, min(self._capacity, decision.capacity))
                elif isinstance(decision, InflateUse):
                    taken = amount * decision.factor
                    self._scale[who] = decision.factor
            in_use = sum(self._held.values())
            granted = in_use + taken <= self._capacity + 1e-9
            if granted:
                self._held[who] = self._held.get(who, 0.0) + taken
            self._record(ctx, "acquire" if granted else "deny", who, taken)
            return granted

    def release(self, amount: float = 1, *, branch: str | None = None) -> None:
        """Give back ``amount`` held by ``branch`` (at most what it holds)."""
        amount = _number(amount, f"{self.name}.release(amount", "amount=1")
        who = _branch(branch)
        with self._lock:
            ctx = self._for_run()
            given = min(self._held.get(who, 0.0), amount * self._scale.get(who, 1.0))
            self._held[who] = self._held.get(who, 0.0) - given
            self._record(ctx, "release", who, given)

    def _record(self, ctx: RunContext | None, op: str, branch: str, amount: float) -> None:
        if ctx is None:
            return
        ctx.emit(
            BudgetUse,
            budget=self.name,
            op=op,
            branch=branch,
            amount=amount,
            in_use=sum(self._held.values()),
            held=self._held.get(branch, 0.0),
            capacity=self._capacity,
        )

    def __repr__(self) -> str:
        return f"Budget({self.name!r}, capacity={self._capacity:g}, in_use={sum(self._held.values()):g})"
