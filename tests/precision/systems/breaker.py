"""Pattern 5: a circuit breaker that opens and reports.

Four items are quoted one by one. The careful quoter opens its breaker after two
consecutive failures, stops calling the failing service, and reports ``degraded`` with the
failed and skipped items. The buggy twin keeps calling, drops every failure, and reports
``ok``.
"""

import asyncio

from harness import agent, tool

ITEMS = ("a", "b", "c", "d")
CALLS = []


@tool("quote")
async def quote(item):
    CALLS.append(item)
    return {"item": item, "price": 5.0}


def _valid(reply, item):
    return isinstance(reply, dict) and reply.get("item") == item and isinstance(reply.get("price"), float)


async def _quote(item):
    reply = await asyncio.wait_for(quote(item), timeout=10)
    if not _valid(reply, item):
        raise ValueError(f"unexpected quote {reply!r}")
    return reply["price"]


async def correct():
    CALLS.clear()
    async with agent("quoter"):
        quotes, failed, skipped, consecutive = {}, [], [], 0
        for item in ITEMS:
            if consecutive >= 2:  # breaker open: do not hammer a failing service
                skipped.append(item)
                continue
            try:
                quotes[item] = await _quote(item)
                consecutive = 0
            except Exception:
                failed.append(item)
                consecutive += 1
        status = "ok" if not (failed or skipped) else "degraded"
        return {
            "status": status,
            "quotes": quotes,
            "failed": failed,
            "skipped": skipped,
            "breaker": "open" if consecutive >= 2 else "closed",
        }


async def buggy():
    CALLS.clear()
    async with agent("quoter"):
        quotes = {}
        for item in ITEMS:
            try:
                quotes[item] = await _quote(item)
            except Exception:
                continue  # keeps calling, drops the failure
        return {"status": "ok", "quotes": quotes}
