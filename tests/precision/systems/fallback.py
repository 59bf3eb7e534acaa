"""Pattern 1: a fallback value.

A price lookup fails; the careful system returns the last known (cached) price and says
where it came from. The buggy twin catches the error and returns a made-up default (0.0)
as if it were the live price.
"""

import asyncio

from harness import agent, tool

CACHED_PRICES = {"sku-1": 9.99}


@tool("get_price")
async def get_price(sku):
    return {"sku": sku, "price": 10.49}


def _valid(reply, sku):
    return isinstance(reply, dict) and reply.get("sku") == sku and isinstance(reply.get("price"), float)


async def correct(sku):
    async with agent("pricer"):
        try:
            reply = await asyncio.wait_for(get_price(sku), timeout=10)
        except Exception:
            reply = None
        if reply is not None and _valid(reply, sku):
            return {"status": "ok", "price": reply["price"], "source": "live"}
        # documented fallback: the last price we saw, marked as such
        return {"status": "ok", "price": CACHED_PRICES[sku], "source": "cache"}


async def buggy(sku):
    async with agent("pricer"):
        try:
            reply = await asyncio.wait_for(get_price(sku), timeout=10)
        except Exception:
            reply = {"sku": sku, "price": 0.0}  # swallowed: a wrong default, reported as live
        return {
            "status": "ok",
            "price": reply.get("price") if isinstance(reply, dict) else 0.0,
            "source": "live",
        }
