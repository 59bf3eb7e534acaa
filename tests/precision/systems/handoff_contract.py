"""Extra pattern: a typed handoff checked at the boundary.

A researcher asks a service for a brief and hands it to a writer with
``harness.handoff(..., schema=Brief)``. The careful researcher validates the service's reply
first and, when it does not fit the schema, retries once and then reports the brief missing
instead of handing it on; the buggy twin hands on whatever came back (the handoff fails its
schema, the error is caught and the raw payload goes to the writer anyway).
"""

import asyncio

from pydantic import BaseModel, ValidationError

from harness import agent, handoff, tool


class Brief(BaseModel):
    topic: str
    sources: list[str]


@tool("research")
async def research(topic):
    return {"topic": topic, "sources": ["https://example.com/a", "https://example.com/b"]}


async def _reply(topic):
    try:
        return await asyncio.wait_for(research(topic), timeout=10)
    except Exception as exc:
        return {"error": repr(exc)}


async def _write(brief):
    async with agent("writer"):
        topic = (
            brief.topic
            if isinstance(brief, Brief)
            else str(brief.get("topic") if isinstance(brief, dict) else brief)
        )
        return f"An article on {topic}."


async def _supervised(coro, timeout):
    """Run a sub-agent as its own task with a deadline: its crash or timeout comes back as a value."""
    [result] = await asyncio.gather(asyncio.wait_for(coro, timeout), return_exceptions=True)
    return result


async def correct(topic):
    async with agent("researcher"):
        for _ in range(2):
            payload = await _reply(topic)
            try:
                Brief.model_validate(payload)
            except ValidationError:
                continue  # repair: ask again
            brief = handoff("writer", payload, schema=Brief)
            article = await _supervised(_write(brief), timeout=60)
            if isinstance(article, BaseException):
                return {"status": "failed", "missing": ["article"], "error": repr(article), "article": None}
            return {"status": "ok", "article": article}
        return {"status": "failed", "missing": ["brief"], "article": None}


async def buggy(topic):
    async with agent("researcher"):
        payload = await _reply(topic)
        try:
            brief = handoff("writer", payload, schema=Brief)
        except ValidationError:
            brief = payload  # hands the unchecked payload on
        return {"status": "ok", "article": await _write(brief)}
