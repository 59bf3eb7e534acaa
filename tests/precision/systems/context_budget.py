"""Pattern 12: a context budget with compaction.

A writer summarises three documents, one LLM call each, inside
``agent("writer", budget_tokens=BUDGET)``. The careful writer compacts its context before
every call (the task, a short running summary, the current document); the buggy twin sends
the whole transcript every time, and the prompt grows past the budget.

There is no LLM here: the call is recorded with ``harness.llm_call(...)``, the recorder a
user would expect for a model call made without the openai SDK (brownout has none today;
the test module xfails when it is missing).
"""

import asyncio

import harness
from harness import agent, tool

BUDGET = 400
DOCS = ("d1", "d2", "d3")
TASK = "Summarise the quarterly reports in one paragraph each."


@tool("fetch_doc")
async def fetch_doc(doc_id):
    return f"Report {doc_id}: " + "revenue grew in every region; costs were flat. " * 12


def _llm(messages):
    """One model call: recorded through the (expected) public recorder, answered locally."""
    reply = f"summary of {messages[-1]['content'][:20]}"
    harness.llm_call(model="local-summariser", messages=messages, reply=reply)
    return reply


async def _doc(doc_id):
    try:
        text = await asyncio.wait_for(fetch_doc(doc_id), timeout=10)
    except Exception:
        return None
    return text if isinstance(text, str) and text.startswith("Report") else None


async def correct():
    async with agent("writer", budget_tokens=BUDGET):
        summaries, missing = [], []
        for doc_id in DOCS:
            text = await _doc(doc_id) or await _doc(doc_id)
            if text is None:
                missing.append(doc_id)
                continue
            context = " ".join(s[:40] for s in summaries)[-200:]  # compacted: a short running summary
            messages = [
                {"role": "system", "content": TASK},
                {"role": "user", "content": f"So far: {context}\n\n{text[:800]}"},
            ]
            summaries.append(_llm(messages))
        out = {"status": "partial" if missing else "ok", "summaries": summaries}
        if missing:
            out["missing"] = missing
        return out


async def buggy():
    async with agent("writer", budget_tokens=BUDGET):
        summaries, missing, transcript = [], [], [{"role": "system", "content": TASK}]
        for doc_id in DOCS:
            text = await _doc(doc_id) or await _doc(doc_id)
            if text is None:
                missing.append(doc_id)
                continue
            transcript.append({"role": "user", "content": text})  # the whole transcript, every time
            reply = _llm(list(transcript))
            transcript.append({"role": "assistant", "content": reply})
            summaries.append(reply)
        out = {"status": "partial" if missing else "ok", "summaries": summaries}
        if missing:
            out["missing"] = missing
        return out
