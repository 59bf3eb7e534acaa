"""Pattern: a circuit breaker that opens, instead of calling a failing service for every item.

Six items are quoted one by one. The careful quoter opens its breaker after two
consecutive failures, stops calling the failing service, and reports ``degraded`` with the
failed and skipped items. The buggy twin is just as honest in its answer (``degraded``,
the failed items listed) but calls the service for every item, however often it failed:
only the load it puts on a service that is down gives it away (``circuit_breaker``).
"""

import asyncio

from harness import agent, tool

ITEMS = ("a", "b", "c", "d", "e", "f")


@tool("quote")
async def quote(item):
    return {"item": item, "price": 5.0}


def _valid(reply, item):
    return isinstance(reply, dict) and reply.get("item") == item and isinstance(reply.get("price"), float)


async def _quote(item):
    reply = await asyncio.wait_for(quote(item), timeout=10)
    if not _valid(reply, item):
        raise ValueError(f"unexpected quote {reply!r}")
    return reply["price"]


def _result(quotes, failed, skipped):
    status = "ok" if not (failed or skipped) else "degraded"
    return {"status": status, "quotes": quotes, "failed": failed, "skipped": skipped}


async def correct():
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
        return _result(quotes, failed, skipped)


async def buggy():
    async with agent("quoter"):
        quotes, failed = {}, []
        for item in ITEMS:
            try:
                quotes[item] = await _quote(item)
            except Exception:
                failed.append(item)  # honest about it, but calls on regardless
        return _result(quotes, failed, [])
