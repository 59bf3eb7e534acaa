"""content: research -> outline -> write (with a parallel fact-check) -> edit, on a task with a hard rule.

The task is an expense summary with a hard constraint: *flag every item over $10,000*. Five
agents pass the work along, and every agent adds a note to a shared scratchpad
(:class:`harness.StateStore`).

**naive** hands off free text: each agent gets the running transcript (the task, then every
earlier agent's output) and passes its own output on. The transcript grows without bound, and
when the model answers ``context_length_exceeded`` the agent drops the oldest half and tries
again, which throws away the task and its constraint. Scratchpad notes are read before the model
call and written after it (read-modify-write without a version), so the writer and the
fact-checker, running concurrently, overwrite each other's note.

**hardened** hands off a typed :class:`Brief` (pydantic, validated at every step) that carries
the constraints and the items as data; each agent has a context budget and summarises the
previous output when it would not fit; scratchpad notes are appended with versioned
compare-and-set; and the editor enforces the flags from the data, whatever the model wrote.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field

import harness
from harness import StateStore, agent, handoff
from scenarios._common import Variant, chat, check_variant, llm_client

__all__ = [
    "BUDGET_TOKENS",
    "DEFAULT_TASK",
    "Brief",
    "ContentResult",
    "ContentTask",
    "Expense",
    "run",
]

BUDGET_TOKENS = 700  # each agent's prompt budget (the context_budget checker reads it)
STAGES = ("researcher", "outliner", "writer", "fact_checker", "editor")
_INSTRUCTIONS = {
    "researcher": "List the facts the summary needs, one per line.",
    "outliner": "Write a short outline (3 bullet points) for the summary.",
    "writer": "Write the expense summary as one paragraph.",
    "fact_checker": "Check every amount against the items. List any mistakes, or say 'All amounts correct.'",
    "editor": "Edit the draft into the final summary. Keep it short.",
}


class Expense(BaseModel):
    name: str
    amount_usd: int = Field(ge=0)


class ContentTask(BaseModel):
    """What to write, from which items, under which hard constraint."""

    topic: str
    items: list[Expense]
    flag_over_usd: int = 10_000

    @property
    def constraint(self) -> str:
        return f"Flag every item over ${self.flag_over_usd:,}."

    def as_text(self) -> str:
        listing = "; ".join(f"{i.name} ${i.amount_usd:,}" for i in self.items)
        return f"Task: {self.topic}. {self.constraint} Items: {listing}."


DEFAULT_TASK = ContentTask(
    topic="Write a short expense summary of the Q3 team offsite",
    items=[
        Expense(name="venue", amount_usd=12_500),
        Expense(name="catering", amount_usd=4_200),
        Expense(name="travel", amount_usd=18_900),
        Expense(name="team swag", amount_usd=1_100),
    ],
)


class Brief(BaseModel):
    """The typed handoff between content agents (hardened)."""

    topic: str
    constraints: list[str] = Field(min_length=1)
    items: list[Expense] = Field(min_length=1)
    flag_over_usd: int
    previous: str = ""
    stage: str


class ContentResult(BaseModel):
    """The final text, the items it flags, and what the editor was told (``instructions``).

    ``status`` is ``"degraded"`` when a stage's model calls failed for good (hardened only): the
    stages in ``missing`` contributed nothing, ``errors`` says why, and the text says so.
    """

    text: str
    flagged: list[str]
    instructions: str
    notes: list[str]
    status: Literal["complete", "degraded"] = "complete"
    missing: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


def _tokens(text: str) -> int:
    return len(text) // 4 + 1  # a rough count, like a budget check in a real pipeline


def _flagged_in(text: str, items: list[Expense]) -> list[str]:
    """Items the text flags: named on a line that says FLAG (any case)."""
    found: list[str] = []
    for line in text.splitlines():
        if re.search(r"\bflag", line, re.IGNORECASE):
            found.extend(i.name for i in items if i.name.lower() in line.lower() and i.name not in found)
    return found


def _enforce_flags(text: str, task: ContentTask) -> tuple[str, list[str]]:
    """Make the text flag every item over the threshold, as data says, not as the model wrote."""
    over = [i for i in task.items if i.amount_usd > task.flag_over_usd]
    lines = [f"[FLAG] {i.name}: ${i.amount_usd:,} is over ${task.flag_over_usd:,}." for i in over]
    return (text.rstrip() + "\n" + "\n".join(lines)).strip(), [i.name for i in over]


async def _ask(client: openai.AsyncOpenAI, stage: str, context: str) -> str:
    text, _ = await chat(
        client,
        [
            {
                "role": "system",
                "content": f"You are the {stage.replace('_', ' ')} of a writing team. {_INSTRUCTIONS[stage]}",
            },
            {"role": "user", "content": context},
        ],
        max_tokens=90,
    )
    return text or "(no output)"


def _is_context_length(exc: openai.BadRequestError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    code = error.get("code") if isinstance(error, dict) else None
    return code == "context_length_exceeded" or "context length" in str(exc).lower()


# -- scratchpad ------------------------------------------------------------------------------
async def _note_naive(store: StateStore, stage: str, produce: Any) -> str:
    async with agent(stage, budget_tokens=BUDGET_TOKENS):
        notes = await store.aread("notes")  # read ... (then the slow model call) ... write
        output: str = await produce()
        await store.awrite("notes", [*(notes.value or []), f"{stage}: {output[:80]}"])
        return output


async def _note_hardened(store: StateStore, stage: str, produce: Any) -> str:
    async with agent(stage, budget_tokens=BUDGET_TOKENS):
        output: str = await produce()
        while True:  # versioned append: retry if someone else wrote in between
            current = await store.aread("notes")
            note = [*(current.value or []), f"{stage}: {output[:80]}"]
            if await store.acompare_and_set("notes", current.version, note):
                return output


# -- naive -------------------------------------------------------------------------------------
async def _naive_stage(client: openai.AsyncOpenAI, stage: str, transcript: list[str]) -> str:
    while True:
        try:
            return await _ask(client, stage, "\n\n".join(transcript))
        except openai.BadRequestError as exc:
            if not _is_context_length(exc) or len(transcript) <= 1:
                raise
            del transcript[: max(1, len(transcript) // 2)]  # "make room": drop the oldest half


async def _naive(client: openai.AsyncOpenAI, task: ContentTask, store: StateStore) -> ContentResult:
    transcript = [task.as_text()]
    previous = "orchestrator"
    for stage in ("researcher", "outliner"):
        handoff(stage, "\n\n".join(transcript), source=previous)
        output = await _note_naive(store, stage, lambda s=stage: _naive_stage(client, s, transcript))
        transcript.append(f"{stage}: {output}")
        previous = stage
    handoff("writer", "\n\n".join(transcript), source=previous)
    handoff("fact_checker", "\n\n".join(transcript), source=previous)
    draft, check = await asyncio.gather(
        _note_naive(store, "writer", lambda: _naive_stage(client, "writer", list(transcript))),
        _note_naive(store, "fact_checker", lambda: _naive_stage(client, "fact_checker", list(transcript))),
    )
    transcript += [f"writer: {draft}", f"fact_checker: {check}"]
    instructions = "\n\n".join(transcript)
    handoff("editor", instructions, source="writer")
    final = await _note_naive(store, "editor", lambda: _naive_stage(client, "editor", transcript))
    return ContentResult(
        text=final,
        flagged=_flagged_in(final, task.items),
        instructions=instructions,
        notes=list(store.read("notes").value or []),
    )


# -- hardened ----------------------------------------------------------------------------------
def _render(brief: Brief) -> str:
    listing = "; ".join(f"{i.name} ${i.amount_usd:,}" for i in brief.items)
    text = f"Task: {brief.topic}.\nRules (must keep): {' '.join(brief.constraints)}\nItems: {listing}."
    if brief.previous:
        text += f"\nPrevious step:\n{brief.previous}"
    return text


async def _fit(client: openai.AsyncOpenAI, previous: str, budget: int) -> str:
    """Summarise the previous output when the prompt would not fit the agent's budget."""
    if _tokens(previous) <= budget // 2:
        return previous
    text, _ = await chat(
        client,
        [
            {"role": "system", "content": "Summarize in three sentences. Keep every amount."},
            {"role": "user", "content": previous},
        ],
        max_tokens=80,
    )
    return text or previous[: budget * 2]


async def _hardened_stage(client: openai.AsyncOpenAI, stage: str, brief: Brief) -> str:
    brief = brief.model_copy(update={"previous": await _fit(client, brief.previous, BUDGET_TOKENS)})
    try:
        return await _ask(client, stage, _render(brief))
    except openai.BadRequestError as exc:
        if not _is_context_length(exc):
            raise
        # Out of room: shorten the previous output, never the brief's rules.
        short = brief.model_copy(update={"previous": brief.previous[:BUDGET_TOKENS]})
        return await _ask(client, stage, _render(short))


# A model call that failed for good, after the SDK's own retries: timeouts, connection errors,
# 4xx/5xx statuses, a body that is not JSON.
_LLM_FAILURES = (openai.OpenAIError, json.JSONDecodeError)


class _Degradation:
    """The stages whose model calls failed for good, and why (hardened)."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.errors: list[str] = []

    async def stage(self, stage: str, run: Callable[[], Awaitable[str]]) -> str:
        """Run one stage; if its model calls fail, record the stage as missing and return ``""``.

        The exception leaves the stage's agent scope first, so the run log shows the agent failed.
        """
        try:
            return await run()
        except _LLM_FAILURES as exc:
            self.missing.append(stage)
            self.errors.append(f"{stage}: {type(exc).__name__}: {exc}"[:300])
            return ""


async def _hardened(client: openai.AsyncOpenAI, task: ContentTask, store: StateStore) -> ContentResult:
    brief = Brief(
        topic=task.topic,
        constraints=[task.constraint],
        items=task.items,
        flag_over_usd=task.flag_over_usd,
        stage="researcher",
    )
    # The brief carries the items and the rules as data, so a stage whose model is unreachable can be
    # skipped: the next stage works from the brief, and the result says what is missing.
    degraded = _Degradation()
    previous_stage = "orchestrator"
    for stage in ("researcher", "outliner"):
        brief = handoff(
            stage,
            brief.model_copy(update={"stage": stage}),
            source=previous_stage,
            schema=Brief,
            constraints=brief.constraints,
        )
        output = await degraded.stage(
            stage,
            lambda s=stage, b=brief: _note_hardened(store, s, lambda: _hardened_stage(client, s, b)),  # type: ignore[misc]
        )
        if output:
            brief = brief.model_copy(update={"previous": f"{stage}: {output}"})
        previous_stage = stage
    to_writer = handoff(
        "writer",
        brief.model_copy(update={"stage": "writer"}),
        source="outliner",
        schema=Brief,
        constraints=brief.constraints,
    )
    to_checker = handoff(
        "fact_checker",
        brief.model_copy(update={"stage": "fact_checker"}),
        source="outliner",
        schema=Brief,
        constraints=brief.constraints,
    )
    draft, check = await asyncio.gather(
        degraded.stage(
            "writer",
            lambda: _note_hardened(store, "writer", lambda: _hardened_stage(client, "writer", to_writer)),
        ),
        degraded.stage(
            "fact_checker",
            lambda: _note_hardened(
                store, "fact_checker", lambda: _hardened_stage(client, "fact_checker", to_checker)
            ),
        ),
    )
    previous = "\n".join(
        part for part in (f"draft: {draft}" if draft else "", f"fact check: {check}" if check else "") if part
    )
    to_editor = handoff(
        "editor",
        brief.model_copy(update={"stage": "editor", "previous": previous}),
        source="writer",
        schema=Brief,
        constraints=brief.constraints,
    )
    final = await degraded.stage(
        "editor",
        lambda: _note_hardened(store, "editor", lambda: _hardened_stage(client, "editor", to_editor)),
    )
    if not final:  # no edited text: fall back to the draft, else to the items themselves
        final = draft or "\n".join(f"- {i.name}: ${i.amount_usd:,}" for i in task.items)
    if degraded.missing:
        final = f"[DEGRADED] Missing: {', '.join(degraded.missing)} (model unavailable).\n{final}"
    text, flagged = _enforce_flags(final, task)
    return ContentResult(
        text=text,
        flagged=flagged,
        instructions=_render(to_editor),
        notes=list(store.read("notes").value or []),
        status="degraded" if degraded.missing else "complete",
        missing=degraded.missing,
        errors=degraded.errors,
    )


async def run(
    task: ContentTask = DEFAULT_TASK,
    *,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> ContentResult:
    """Write ``task`` through five agents.

    Args:
        task: Topic, items and the flag threshold (the hard constraint).
        variant: ``"naive"`` (free-text handoffs, unversioned scratchpad, unbounded context) or
            ``"hardened"``.
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    store = StateStore("scratchpad")
    async with llm_client(client) as llm, agent("orchestrator"):
        harness.constraint("flag_over", f"${task.flag_over_usd:,}", output=False)
        if variant == "naive":
            return await _naive(llm, task, store)
        return await _hardened(llm, task, store)
