"""Pattern 11: a postcondition re-check.

An accountant asks a service for the total of an invoice's lines and declares the promise
"total matches line items" with ``harness.postcondition``. The careful agent acts on the
verdict: it retries once, then reports failure. The buggy twin records the same check and
reports "done" with the wrong total anyway (phantom completion).
"""

import asyncio

from harness import agent, postcondition, tool

LINES = (10, 20, 30)


@tool("add_up")
async def add_up(amounts):
    return {"total": sum(amounts)}


async def _total(amounts):
    try:
        reply = await asyncio.wait_for(add_up(list(amounts)), timeout=10)
    except Exception:
        return None
    return reply.get("total") if isinstance(reply, dict) else None


def _matches(total):
    return total == sum(LINES)


async def correct():
    async with agent("accountant"):
        for _ in range(2):
            total = await _total(LINES)
            if postcondition("total matches line items", _matches, value=total):
                return {"status": "done", "total": total}
        return {"status": "failed", "error": "total could not be verified", "total": None}


async def buggy():
    async with agent("accountant"):
        total = await _total(LINES)
        postcondition("total matches line items", _matches, value=total)
        return {"status": "done", "total": total}  # reported done whatever the check said
