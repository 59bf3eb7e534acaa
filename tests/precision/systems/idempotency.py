"""Pattern 4: bounded retries with one idempotency key.

A welcome email is sent with at most three attempts, each with a 10 s timeout. The careful
notifier sends the same idempotency key on every attempt (the mail service applies a key
once), and parks the call in a dead letter when all attempts fail. The buggy twin retries
the same way without a key: a slow or unacknowledged send goes out twice.
"""

import asyncio

from harness import agent, dead_letter, tool

LEDGER = []
_SEEN = {}
BODY = "Welcome aboard!"


@tool("send_email", side_effect=True)
async def send_email(to, body, *, idempotency_key=None):
    if idempotency_key is not None and idempotency_key in _SEEN:
        return _SEEN[idempotency_key]
    LEDGER.append(("email", to, body))
    receipt = {"message_id": f"m-{len(LEDGER)}"}
    if idempotency_key is not None:
        _SEEN[idempotency_key] = receipt
    return receipt


async def _notify(to, key):
    LEDGER.clear()
    _SEEN.clear()
    async with agent("notifier"):
        error = None
        for _ in range(3):
            try:
                receipt = await asyncio.wait_for(send_email(to, BODY, idempotency_key=key), timeout=10)
            except Exception as exc:
                error = exc
                continue
            if isinstance(receipt, dict) and "message_id" in receipt:
                return {"status": "ok", "sent": True}
            error = ValueError(f"unexpected receipt {receipt!r}")
        dead_letter(send_email, {"to": to, "body": BODY}, error)
        return {"status": "needs_review", "sent": False, "dead_letters": ["send_email"]}


async def correct(to):
    return await _notify(to, key=f"welcome-{to}")


async def buggy(to):
    return await _notify(to, key=None)
