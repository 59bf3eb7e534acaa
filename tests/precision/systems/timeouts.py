"""Pattern 6: a timeout on each sub-agent, and the gap disclosed.

The orchestrator asks two fetchers concurrently, each under ``asyncio.wait_for``. The
careful one lists what timed out (and what failed) and answers ``partial``; the buggy twin
catches the timeout and answers from the rest as if complete.
"""

import asyncio

from harness import WorkerKilled, agent, tool

SOURCES = ("flights", "hotels")


@tool("fetch")
async def fetch(source):
    return f"{source}: 3 offers"


async def _fetcher(source):
    async with agent(f"fetcher:{source}"):
        reply = await fetch(source)  # the orchestrator's deadline bounds the whole sub-agent
        if not isinstance(reply, str) or not reply.startswith(source):
            raise ValueError(f"unusable reply {reply!r}")
        return reply


async def _ask(source, results, timed_out, failed):
    try:
        results[source] = await asyncio.wait_for(_fetcher(source), timeout=20)
    except TimeoutError:
        timed_out.append(source)
    except (Exception, WorkerKilled):
        failed.append(source)


async def correct():
    async with agent("orchestrator"):
        results, timed_out, failed = {}, [], []
        await asyncio.gather(*(_ask(s, results, timed_out, failed) for s in SOURCES))
        answer = "; ".join(results[s] for s in SOURCES if s in results)
        if timed_out or failed:
            return {"status": "partial", "answer": answer, "timed_out": timed_out, "failed": failed}
        return {"status": "ok", "answer": answer}


async def buggy():
    async with agent("orchestrator"):
        results = {}
        await asyncio.gather(*(_ask(s, results, [], []) for s in SOURCES))  # gaps dropped
        answer = "; ".join(results[s] for s in SOURCES if s in results)
        return {"status": "ok", "answer": answer}
