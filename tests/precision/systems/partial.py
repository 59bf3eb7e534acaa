"""Pattern 2: an explicit partial result.

Two researchers run concurrently (``harness.spawn``). When one fails or times out, the
careful orchestrator answers from what came back and says so: ``partial: True`` and the
missing part by name. The buggy twin synthesizes the same answer and reports it complete.
"""

import asyncio

from harness import agent, spawn, tool

SOURCES = ("web", "docs")


@tool("search")
async def search(source, query):
    return f"{source} says {query} works down to -15 C"


async def _researcher(source, query):
    async with agent(f"researcher:{source}"):
        reply = await asyncio.wait_for(search(source, query), timeout=10)
        if not isinstance(reply, str) or not reply.startswith(source):
            raise ValueError(f"unusable reply from {source}: {reply!r}")
        return reply


async def _gather(query):
    # each researcher gets a deadline, so a hung one cannot hold the orchestrator forever
    tasks = {
        source: spawn(asyncio.wait_for(_researcher(source, query), timeout=30), name=f"researcher:{source}")
        for source in SOURCES
    }
    results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    return {s: r for s, r in zip(tasks, results, strict=True) if not isinstance(r, BaseException)}


async def correct(query):
    async with agent("orchestrator"):
        found = await _gather(query)
        missing = [s for s in SOURCES if s not in found]
        answer = " / ".join(found[s] for s in SOURCES if s in found)
        if missing:
            return {"status": "partial", "partial": True, "missing": missing, "answer": answer}
        return {"status": "ok", "answer": answer}


async def buggy(query):
    async with agent("orchestrator"):
        found = await _gather(query)
        answer = " / ".join(found[s] for s in SOURCES if s in found)
        return {"status": "ok", "answer": answer}  # silently built from whatever came back
