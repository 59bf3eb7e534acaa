"""briefing: three desks write a morning briefing in parallel, drawing on one token budget.

An ``editor`` orchestrator runs three desk agents concurrently: ``markets`` (two market
moves), ``news`` (four headlines) and ``calendar`` (two meetings). Each desk asks the model
for one line per item. First it reserves what each call may cost (its prompt plus
``max_tokens``) from the task's token budget (:class:`harness.Budget`); after each call it
gives back what the reply did not use. A desk refused a reservation covers fewer items and
says so.

**naive** shares one budget of :data:`TOKEN_BUDGET` tokens among the desks, first come, first
served. It fits with room to spare on a normal day, so nobody notices that nothing stops one
desk from taking it all: when one desk's prompts balloon (a long article pasted in, a retry
loop) or the budget is cut, the runaway desk eats the others' tokens and a desk that asked
for no more than its share is refused.

**hardened** gives each desk its own quota (a bulkhead): the same total, split in proportion
to the items each desk has to cover, one ``Budget`` per desk. A desk whose consumption
balloons runs out of its own quota only; the other desks finish, and the result names the
desk that came up short (``status="degraded"``, ``incomplete=[...]``).

Usage::

    result = asyncio.run(briefing.run(DEFAULT_DAY, variant="hardened"))
"""

from __future__ import annotations

import asyncio
from typing import Literal

import openai
from pydantic import BaseModel, Field

from harness import Budget, agent
from scenarios._common import Variant, check_variant, llm_client, model_name

__all__ = ["DEFAULT_DAY", "MAX_TOKENS", "TOKEN_BUDGET", "BriefingResult", "Day", "Section", "run"]

TOKEN_BUDGET = 1000  # tokens for the whole briefing: a normal day reserves at most 892 of them
MAX_TOKENS = 40  # the most one line may cost in completion tokens
_CHARS_PER_TOKEN = 3  # a conservative estimate of a prompt's tokens from its length


class Day(BaseModel):
    """What each desk has to cover today, and for whom."""

    reader: str
    items: dict[str, list[str]]


DEFAULT_DAY = Day(
    reader="the CFO of a mid-sized logistics company",
    items={
        "markets": [
            "Brent crude fell 3.1% to $71.40 a barrel after OPEC+ signalled higher output in January.",
            "The euro rose 0.4% against the dollar to 1.0915 ahead of Thursday's ECB rate decision.",
        ],
        "news": [
            "Port of Rotterdam dock workers announced a 48-hour strike starting Wednesday.",
            "The EU agreed to phase in a carbon levy on road freight from 2028.",
            "A major rival freight forwarder reported a 12% drop in quarterly volumes.",
            "Diesel prices at UK pumps reached their lowest level in eighteen months.",
        ],
        "calendar": [
            "09:30 Board pre-read review with the CEO (45 minutes, room 4B).",
            "14:00 Call with the bank about the revolving credit facility renewal.",
        ],
    },
)

_DESK_BRIEF = {
    "markets": "You are a markets analyst. In one sentence, say what this market move means for the reader.",
    "news": "You are a news editor. In one sentence, say why this headline matters to the reader.",
    "calendar": "You are an executive assistant. In one sentence, say what the reader should prepare.",
}


class Section(BaseModel):
    """One desk's part of the briefing."""

    desk: str
    lines: list[str] = Field(default_factory=list)
    covered: int = 0
    planned: int = 0


class BriefingResult(BaseModel):
    """The briefing, each desk's section, and the desks that came up short."""

    status: Literal["ok", "degraded"]
    briefing: str
    sections: list[Section]
    incomplete: list[str] = Field(default_factory=list)


def _estimate(messages: list[dict[str, str]]) -> int:
    """Tokens to reserve for a call: its prompt (estimated from length) plus the reply's cap."""
    return sum(len(m["content"]) for m in messages) // _CHARS_PER_TOKEN + MAX_TOKENS


async def _line(client: openai.AsyncOpenAI, messages: list[dict[str, str]]) -> tuple[str, int | None]:
    """One line from the model and the tokens the call used (``None`` when the server did not say)."""
    reply = await client.chat.completions.create(
        model=model_name(),
        messages=messages,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=MAX_TOKENS,
    )
    text = (reply.choices[0].message.content or "").strip() if reply.choices else ""
    used = reply.usage.total_tokens if reply.usage is not None else None
    return text, used


async def _desk(
    client: openai.AsyncOpenAI, desk: str, items: list[str], reader: str, budget: Budget
) -> Section:
    section = Section(desk=desk, planned=len(items))
    async with agent(desk):
        # Reserve the tokens for the day's items first, then write: what a desk is granted
        # depends on the budget, never on which model reply happens to arrive first.
        granted: list[tuple[str, list[dict[str, str]], int]] = []
        for item in items:
            messages = [
                {"role": "system", "content": f"{_DESK_BRIEF[desk]} The reader is {reader}."},
                {"role": "user", "content": item},
            ]
            reserved = _estimate(messages)
            if not budget.acquire(reserved):
                break  # refused: this desk covers fewer items, and the result says so
            granted.append((item, messages, reserved))
        for item, messages, reserved in granted:
            text, used = await _line(client, messages)
            if used is not None and used < reserved:
                budget.release(reserved - used)  # settle: give back what the reply did not use
            section.lines.append(text if len(text) >= 15 else item)
            section.covered += 1
    return section


def _budgets(day: Day, variant: Variant) -> dict[str, Budget]:
    if variant == "naive":
        shared = Budget("llm_tokens", TOKEN_BUDGET)  # everyone draws from one pool
        return {desk: shared for desk in day.items}
    planned = sum(len(items) for items in day.items.values())
    return {  # a quota per desk, in proportion to its work: a bulkhead
        desk: Budget(f"llm_tokens:{desk}", TOKEN_BUDGET * len(items) / planned)
        for desk, items in day.items.items()
    }


async def run(
    day: Day = DEFAULT_DAY,
    *,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> BriefingResult:
    """Write the morning briefing for ``day``.

    Args:
        day: The reader and what each desk has to cover.
        variant: ``"naive"`` (one shared token budget) or ``"hardened"`` (a quota per desk).
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    budgets = _budgets(day, variant)
    async with llm_client(client) as llm, agent("editor"):
        sections = list(
            await asyncio.gather(
                *(_desk(llm, desk, items, day.reader, budgets[desk]) for desk, items in day.items.items())
            )
        )
        incomplete = [s.desk for s in sections if s.covered < s.planned]
        parts = [f"{s.desk.capitalize()}:\n" + "\n".join(f"- {line}" for line in s.lines) for s in sections]
        text = f"Morning briefing for {day.reader}.\n\n" + "\n\n".join(parts)
        if incomplete:
            text += "\n\nIncomplete: the token budget ran out for " + ", ".join(
                f"{s.desk} ({s.covered} of {s.planned} items)" for s in sections if s.desk in incomplete
            )
        return BriefingResult(
            status="degraded" if incomplete else "ok",
            briefing=text,
            sections=sections,
            incomplete=incomplete,
        )
