"""Pattern: bulkheads, one budget per branch, instead of one shared budget a runaway branch can drain.

Two branches (``research`` and ``summary``) each make three calls, and each call needs one
unit of an LLM-call budget. The careful system gives each branch its own budget of 3 (a
bulkhead): when one branch's use balloons, only that branch runs short, and the answer
says so. The buggy twin shares one budget of 6: when ``research``'s use balloons, it takes
the units ``summary`` needed, and ``summary`` is denied though it asked for no more than
its share (``bulkhead``). Both are honest in their answers; only isolation differs.
"""

import asyncio

from harness import Budget, WorkerKilled, agent, tool

BRANCHES = ("research", "summary")


@tool("step")
async def step(branch, i):
    return f"{branch}-{i}"


async def _branch(name, budget):
    done = []
    async with agent(name):
        for i in range(3):
            if not budget.acquire(1):
                break  # denied: this branch runs short, and says so below
            try:
                done.append(await asyncio.wait_for(step(name, i), 10))
            except Exception:
                break
    return done


async def _run(budgets):
    async with agent("orchestrator"):
        results = await asyncio.gather(
            *(asyncio.wait_for(_branch(name, budgets[name]), 60) for name in BRANCHES),
            return_exceptions=True,
        )
        parts, short = {}, []
        for name, result in zip(BRANCHES, results, strict=True):
            if isinstance(result, (Exception, WorkerKilled)) or len(result) < 3:
                short.append(name)
                parts[name] = [] if isinstance(result, BaseException) else result
            else:
                parts[name] = result
        return {"status": "degraded" if short else "ok", "parts": parts, "incomplete": short}


async def correct():
    return await _run({name: Budget(f"calls:{name}", 3) for name in BRANCHES})


async def buggy():
    shared = Budget("calls", 6)
    return await _run({name: shared for name in BRANCHES})
