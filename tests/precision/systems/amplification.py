"""Pattern: retry at one layer, instead of retrying a sub-agent that retries its tool.

An orchestrator asks a ``fetcher`` sub-agent for a page; the fetcher calls ``lookup`` and
retries it with backoff, up to three attempts. The careful orchestrator does not retry the
fetcher: when it fails, the answer says so (``degraded``, with the error). The buggy twin
is just as honest, but retries the whole fetcher up to three times, so a service that is
down gets 3 x 3 = 9 calls for one request (``retry_amplification``).
"""

import asyncio

from harness import WorkerKilled, agent, tool


@tool("lookup")
async def lookup(q):
    return {"q": q, "page": f"all about {q}"}


async def _fetch(q):
    async with agent("fetcher"):
        for attempt in range(3):
            try:
                reply = await asyncio.wait_for(lookup(q), timeout=5)
            except Exception:
                if attempt == 2:
                    raise
                await asyncio.sleep(2**attempt)  # backoff: 1 s, then 2 s
                continue
            if isinstance(reply, dict) and isinstance(reply.get("page"), str) and reply["page"]:
                return reply["page"]
            raise ValueError(f"unusable page {reply!r}")
        raise AssertionError("unreachable")


async def _fetch_with_deadline(q):
    return await asyncio.wait_for(_fetch(q), timeout=60)  # a stuck or crashed fetcher is a failure too


async def correct():
    async with agent("orchestrator"):
        try:
            page = await _fetch_with_deadline("tides")
        except (Exception, WorkerKilled) as exc:
            return {"status": "degraded", "page": None, "errors": [f"fetcher: {exc!r}"]}
        return {"status": "ok", "page": page}


async def buggy():
    async with agent("orchestrator"):
        errors = []
        for _ in range(3):  # retries the sub-agent, which already retries its tool
            try:
                return {"status": "ok", "page": await _fetch_with_deadline("tides")}
            except (Exception, WorkerKilled) as exc:
                errors.append(f"fetcher: {exc!r}")
        return {"status": "degraded", "page": None, "errors": errors}
