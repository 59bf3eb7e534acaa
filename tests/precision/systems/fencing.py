"""Pattern 8: fencing tokens.

Leader-1 holds the lease for an order (fencing token 1) until t=10; then leader-2 takes it
over (token 2). Each leader prepares (a tool call) and writes the order. When leader-1's
prepare is slow, it writes after leader-2. The careful system uses a store that enforces
fencing tokens, and leader-1 steps down on ``StaleFencingToken``; the buggy twin's store
does not check tokens (``fencing="naive"``): the stale leader's write is accepted.
"""

import asyncio

from harness import StaleFencingToken, StateStore, agent, spawn, tool

LEASE_SECONDS = 10


@tool("prepare")
async def prepare(order_id, leader):
    return {"order_id": order_id, "prepared_by": leader}


async def _leader(store, name, token, start):
    async with agent(name):
        await asyncio.sleep(start)
        await asyncio.wait_for(prepare("o-1", name), timeout=60)
        try:
            await store.awrite("orders/o-1", {"by": name, "state": "confirmed"}, fencing_token=token)
        except StaleFencingToken:
            return "fenced"  # our lease passed on: step down
        return "wrote"


async def _run(fencing):
    store = StateStore("orders", fencing=fencing)
    async with agent("coordinator"):
        tasks = {
            "leader-1": spawn(_leader(store, "leader-1", 1, 0), name="leader-1"),
            "leader-2": spawn(_leader(store, "leader-2", 2, LEASE_SECONDS), name="leader-2"),
        }
        # a deadline on every join: a hung leader cannot hold the coordinator forever
        joins = (asyncio.wait_for(t, timeout=120) for t in tasks.values())
        results = await asyncio.gather(*joins, return_exceptions=True)
        outcome = {
            n: (r if isinstance(r, str) else f"failed: {r!r}") for n, r in zip(tasks, results, strict=True)
        }
        failed = [n for n, r in outcome.items() if r.startswith("failed")]
        final = (await store.aread("orders/o-1")).value
        return {
            "status": "degraded" if failed else "ok",
            "final_by": final.get("by") if isinstance(final, dict) else None,
            "leaders": outcome,
            "failed": failed,
        }


async def correct():
    return await _run("enforce")


async def buggy():
    return await _run("naive")
