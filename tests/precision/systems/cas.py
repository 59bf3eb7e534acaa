"""Pattern 7: a compare-and-set loop on a StateStore.

Two writers each add one to a shared counter; between reading and writing each asks a
tool for the increment (the slow "thinking" step). The careful writer writes with
``compare_and_set`` against the version it read and retries on a conflict; the coordinator
checks the final count and reports ``degraded`` if it is not what was applied. The buggy
twin reads, thinks, and writes blindly: with a slow step, one increment is lost.
"""

import asyncio

from harness import StateStore, agent, spawn, tool

WRITERS = ("writer-1", "writer-2")


@tool("plan_increment")
async def plan_increment(current):
    return {"add": 1}


async def _increment_by(current):
    reply = await asyncio.wait_for(plan_increment(current), timeout=10)
    if not (isinstance(reply, dict) and isinstance(reply.get("add"), int)):
        raise ValueError(f"unusable reply {reply!r}")
    return reply["add"]


async def _writer_cas(store, name, start):
    async with agent(name):
        await asyncio.sleep(start)
        for _ in range(10):
            seen = await store.aread("counter")
            base = seen.value if isinstance(seen.value, int) else 0
            add = await _increment_by(base)
            if await store.acompare_and_set("counter", seen.version, base + add):
                return True
        return False


async def _writer_blind(store, name, start):
    async with agent(name):
        await asyncio.sleep(start)
        seen = await store.aread("counter")
        base = seen.value if isinstance(seen.value, int) else 0
        add = await _increment_by(base)
        await store.awrite("counter", base + add)
        return True


async def _run(writer):
    store = StateStore("kv")
    async with agent("coordinator"):
        tasks = [spawn(writer(store, name, start), name=name) for start, name in enumerate(WRITERS)]
        # a deadline on every join: a hung writer cannot hold the coordinator forever
        results = await asyncio.gather(
            *(asyncio.wait_for(t, timeout=120) for t in tasks), return_exceptions=True
        )
        applied = sum(1 for r in results if r is True)
        errors = [f"{name}: {r!r}" for name, r in zip(WRITERS, results, strict=True) if r is not True]
        final = (await store.aread("counter")).value
        if applied == len(WRITERS) and final == applied:
            return {"status": "ok", "counter": final}
        if final != applied:
            errors.append(f"counter is {final!r} after {applied} applied increment(s)")
        return {"status": "degraded", "counter": final, "errors": errors}


async def correct():
    return await _run(_writer_cas)


async def buggy():
    return await _run(_writer_blind)
