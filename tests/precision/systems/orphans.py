"""Extra pattern: structured concurrency (orphaned work).

The orchestrator answers and, alongside, has an auditor write an audit record. The careful
orchestrator joins the auditor before returning, under a deadline, and warns when the audit
did not complete; the buggy twin returns without joining it: when the audit is slow, it is
still running after the answer was given (and then cancelled mid-write).
"""

import asyncio

from harness import WorkerKilled, agent, spawn, tool

AUDIT = []


@tool("write_audit", side_effect=True)
async def write_audit(entry, *, idempotency_key=None):
    AUDIT.append(entry)
    return {"stored": entry}


@tool("answer_question")
async def answer_question(q):
    return {"answer": f"{q}: 42"}


async def _auditor(entry):
    async with agent("auditor"):
        await asyncio.wait_for(write_audit(entry, idempotency_key=entry), timeout=10)


async def _answer(q):
    try:
        reply = await asyncio.wait_for(answer_question(q), timeout=10)
    except Exception as exc:
        return None, repr(exc)
    if isinstance(reply, dict) and isinstance(reply.get("answer"), str):
        return reply["answer"], None
    return None, f"unusable reply {reply!r}"


async def correct(q):
    AUDIT.clear()
    async with agent("orchestrator"):
        audit = spawn(_auditor(f"asked {q}"), name="auditor")
        answer, error = await _answer(q)
        warnings = []
        try:
            await asyncio.wait_for(audit, timeout=30)  # join before answering
        except (Exception, WorkerKilled) as exc:
            warnings.append(f"audit record not written: {exc!r}")
        out = {"status": "ok" if answer else "failed", "answer": answer}
        if error:
            out["error"] = error
        if warnings:
            out["warnings"] = warnings
        return out


async def buggy(q):
    AUDIT.clear()
    async with agent("orchestrator"):
        spawn(_auditor(f"asked {q}"), name="auditor")  # fire and forget
        answer, error = await _answer(q)
        out = {"status": "ok" if answer else "failed", "answer": answer}
        if error:
            out["error"] = error
        return out
