"""Pattern 9: saga compensation.

Checkout reserves the item, then charges the card. When a step fails, the careful checkout
runs the compensations of every step it attempted, newest first (a step that timed out
may have taken effect), retries each a few times, and dead-letters and escalates one that
keeps failing. The buggy twin reports the failure and keeps the reservation and the money.
"""

import asyncio

from harness import agent, dead_letter, escalate, tool

RESERVED = set()
CHARGED = set()


@tool("reserve", side_effect=True, compensate="release")
async def reserve(order_id, sku, *, idempotency_key=None):
    RESERVED.add(order_id)
    return {"order_id": order_id, "reserved": sku}


@tool("release", side_effect=True)
async def release(order_id):
    RESERVED.discard(order_id)
    return {"order_id": order_id, "released": True}


@tool("charge", side_effect=True, compensate="refund")
async def charge(order_id, cents, *, idempotency_key=None):
    CHARGED.add(order_id)
    return {"order_id": order_id, "charged": cents}


@tool("refund", side_effect=True)
async def refund(order_id):
    CHARGED.discard(order_id)
    return {"order_id": order_id, "refunded": True}


def _reset():
    RESERVED.clear()
    CHARGED.clear()


async def _step(coro, order_id):
    reply = await asyncio.wait_for(coro, timeout=10)
    if not (isinstance(reply, dict) and reply.get("order_id") == order_id):
        raise ValueError(f"unexpected reply {reply!r}")
    return reply


async def _compensate(undo, order_id):
    error = None
    for _ in range(3):
        try:
            await _step(undo(order_id), order_id)
            return True
        except Exception as exc:
            error = exc
    dead_letter(undo, {"order_id": order_id}, error)
    escalate(f"{undo.__name__} of {order_id} keeps failing: {error!r}")
    return False


async def correct(order_id, sku, cents):
    _reset()
    async with agent("checkout"):
        attempted = []
        try:
            attempted.append(release)
            await _step(reserve(order_id, sku, idempotency_key=f"reserve-{order_id}"), order_id)
            attempted.append(refund)
            await _step(charge(order_id, cents, idempotency_key=f"charge-{order_id}"), order_id)
            return {"status": "paid", "order_id": order_id}
        except Exception as exc:
            undone = [await _compensate(undo, order_id) for undo in reversed(attempted)]
            if all(undone):
                return {"status": "rolled_back", "order_id": order_id, "error": repr(exc)}
            return {"status": "failed", "order_id": order_id, "error": repr(exc), "escalated": True}


async def buggy(order_id, sku, cents):
    _reset()
    async with agent("checkout"):
        try:
            await _step(reserve(order_id, sku, idempotency_key=f"reserve-{order_id}"), order_id)
            await _step(charge(order_id, cents, idempotency_key=f"charge-{order_id}"), order_id)
            return {"status": "paid", "order_id": order_id}
        except Exception as exc:
            return {"status": "failed", "order_id": order_id, "error": repr(exc)}  # nothing undone
