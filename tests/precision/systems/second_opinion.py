"""Pattern: a second opinion acted on, when a dependency answers plausibly and wrongly.

A converter asks a rate service for EUR/USD three times. A nudged rate, a mixed-up pair
or a stale answer looks like a rate; only comparing the answers shows it. The careful
converter records whether all three agree and, when they do not, reports
``needs_review`` instead of a price. The buggy twin uses ``harness.redundant`` (which
records the same agreement check) and reports the most common answer as ``done`` even
when the answers disagree (``phantom_completion``).
"""

import asyncio
import json

from harness import WorkerKilled, agent, postcondition, redundant, tool

AMOUNT = 100


@tool("get_rate")
async def get_rate(pair):
    return {"pair": pair, "rate": 1.08}


async def _ask():
    try:
        reply = await asyncio.wait_for(get_rate("EUR/USD"), 10)
    except (Exception, WorkerKilled):
        return None
    if isinstance(reply, dict) and reply.get("pair") == "EUR/USD" and isinstance(reply.get("rate"), float):
        return reply["rate"]
    return None


async def correct():
    async with agent("converter"):
        answers = [await _ask() for _ in range(3)]
        agree = answers[0] is not None and len({json.dumps(a) for a in answers}) == 1
        if postcondition("agreement:rate", agree, detail=f"answers {answers}"):
            return {"status": "done", "price": round(AMOUNT * answers[0], 2)}
        return {"status": "needs_review", "price": None, "answers": answers}


async def buggy():
    async with agent("converter"):
        rate = await redundant(_ask, k=3, name="rate", require="unanimous")
        if rate is None:
            return {"status": "failed", "price": None}
        return {"status": "done", "price": round(AMOUNT * rate, 2)}  # whatever the vote said
