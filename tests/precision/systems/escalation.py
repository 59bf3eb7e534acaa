"""Pattern 3: escalation / dead letter.

Filing a claim fails for good; the careful agent retries a bounded number of times (same
idempotency key), then parks the call (``harness.dead_letter``), escalates it to a human
(``harness.escalate``) and reports ``needs_review``. The buggy twin swallows the error and
reports success.
"""

import asyncio

from harness import agent, dead_letter, escalate, tool

LEDGER = []
_FILED = {}


@tool("file_claim", side_effect=True)
async def file_claim(claim_id, cents, *, idempotency_key=None):
    if idempotency_key is not None and idempotency_key in _FILED:
        return _FILED[idempotency_key]
    LEDGER.append(("claim", claim_id, cents))
    reply = {"claim_id": claim_id, "state": "filed"}
    if idempotency_key is not None:
        _FILED[idempotency_key] = reply
    return reply


def _reset():
    LEDGER.clear()
    _FILED.clear()


def _filed(reply, claim_id):
    return isinstance(reply, dict) and reply.get("claim_id") == claim_id and reply.get("state") == "filed"


async def correct(claim_id, cents):
    _reset()
    async with agent("claims"):
        key = f"claim-{claim_id}"
        error = None
        for _ in range(3):
            try:
                reply = await asyncio.wait_for(file_claim(claim_id, cents, idempotency_key=key), timeout=10)
            except Exception as exc:
                error = exc
                continue
            if _filed(reply, claim_id):
                return {"status": "ok", "claim_id": claim_id}
            error = ValueError(f"unexpected reply {reply!r}")
        dead_letter(file_claim, {"claim_id": claim_id, "cents": cents}, error)
        escalate(f"claim {claim_id} could not be filed: {error!r}")
        return {"status": "needs_review", "claim_id": claim_id, "escalated": True}


async def buggy(claim_id, cents):
    _reset()
    async with agent("claims"):
        key = f"claim-{claim_id}"
        try:
            await asyncio.wait_for(file_claim(claim_id, cents, idempotency_key=key), timeout=10)
        except Exception:
            pass  # swallowed
        return {"status": "ok", "claim_id": claim_id}
