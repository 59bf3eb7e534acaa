"""harness.Budget, its faults (shrink, balloon) and the bulkhead checker."""

from __future__ import annotations

import asyncio

import pytest

from faults import Balloon, Fault, FaultPlan, Shrink
from harness import Budget, ConfigError, agent, run_system
from harness._checkers._bulkhead import bulkhead
from harness.events import BudgetUse, FaultInjected
from scenarios import call_sites


def _branches(shared: bool) -> object:
    """Two branches draw 3 units each, one at a time, from one budget of 6 or from 3 each."""

    async def system() -> dict[str, int]:
        pools = (
            {"a": Budget("calls", 6), "b": None}
            if shared
            else {"a": Budget("calls:a", 3), "b": Budget("calls:b", 3)}
        )

        async def branch(name: str) -> int:
            pool = pools[name] or pools["a"]
            assert pool is not None
            got = 0
            async with agent(name):
                for _ in range(3):
                    await asyncio.sleep(1)
                    got += pool.acquire(1)
            return got

        a, b = await asyncio.gather(branch("a"), branch("b"))
        return {"a": a, "b": b}

    return system


def test_budget_records_acquire_release_and_denial() -> None:
    def system() -> list[bool]:
        budget = Budget("slots", 2)
        with agent("worker"):
            out = [budget.acquire(), budget.acquire(), budget.acquire()]
            budget.release()
            out.append(budget.acquire(branch="other"))
            return out

    run = run_system(system)
    assert run.output == [True, True, False, True]
    uses = run.log.of(BudgetUse)
    assert [(u.op, u.branch, u.in_use, u.held) for u in uses] == [
        ("acquire", "worker", 1, 1),
        ("acquire", "worker", 2, 2),
        ("deny", "worker", 2, 2),
        ("release", "worker", 1, 1),
        ("acquire", "other", 2, 1),
    ]
    assert [str(s) for s in call_sites([run.log]) if s.site == "budget"] == [
        "budget[slots]#1",
        "budget[slots]#2",
        "budget[slots]#3",
        "budget[slots]#4",
    ]


def test_budget_outside_a_run_and_bad_arguments() -> None:
    budget = Budget("slots", 1)
    assert budget.acquire() and not budget.acquire() and budget.in_use == 1
    with pytest.raises(ConfigError, match="capacity=0"):
        Budget("x", 0)
    with pytest.raises(ConfigError, match="amount=-1"):
        budget.acquire(-1)


def test_shrink_and_balloon() -> None:
    def system() -> list[bool]:
        budget = Budget("slots", 4)
        return [budget.acquire(branch="a"), budget.acquire(branch="a"), budget.acquire(branch="b")]

    shrink = FaultPlan(faults=[Fault(site="budget", call=2, effect=Shrink())])
    shrunk = run_system(system, hooks=shrink.hooks())
    assert shrunk.output == [True, True, False]  # capacity 4 -> 2 at the second acquire
    assert shrunk.log.of(BudgetUse)[-1].capacity == 2
    balloon = FaultPlan(faults=[Fault(site="budget", target="slots", call=1, effect=Balloon(factor=3))])
    ballooned = run_system(system, hooks=balloon.hooks())
    assert ballooned.output == [True, True, False]  # the first acquire took 3 of 4, the second the last
    assert [u.held for u in ballooned.log.of(BudgetUse)] == [3, 4, 0]
    assert ballooned.log.of(FaultInjected)[0].effect == "balloon(3)"


def test_bulkhead_flags_a_shared_budget_starved_by_a_ballooning_branch() -> None:
    plan = FaultPlan(faults=[Fault(site="budget", target="calls", call=1, effect=Balloon(factor=4))])
    run = run_system(_branches(shared=True), hooks=plan.hooks())
    assert run.output == {"a": 2, "b": 1}
    [v] = bulkhead(run.log)
    assert v.message.startswith("Let branch a hold 5 of budget calls (capacity 6, 2 branches: a share of 3)")
    assert "denied branch b 1, although it held only 1" in v.message
    assert "starved branch b" in v.message


def test_bulkhead_accepts_one_budget_per_branch_and_a_branch_over_its_own_share() -> None:
    plan = FaultPlan(faults=[Fault(site="budget", target="calls:a", call=1, effect=Balloon(factor=4))])
    run = run_system(_branches(shared=False), hooks=plan.hooks())
    assert run.output == {"a": 2, "b": 3}  # a's ballooned acquire was denied; b never noticed
    assert bulkhead(run.log) == []
    assert bulkhead(run_system(_branches(shared=True)).log) == []  # no fault: everyone within its share

    def greedy() -> bool:
        budget = Budget("calls", 4)
        budget.acquire(2, branch="a")
        return budget.acquire(3, branch="b")  # asks for more than its share of 2

    assert bulkhead(run_system(greedy).log) == []
