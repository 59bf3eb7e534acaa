"""A research desk: a coordinator agent delegates to a researcher agent, which calls a tool.

Plain pydantic-ai code: nothing here knows about brownout. It talks to any OpenAI-compatible
chat-completions endpoint (``OPENAI_BASE_URL``, ``OPENAI_MODEL``).

    coordinator ──(tool ask_researcher: agent delegation)──► researcher ──► tool population
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel
from pydantic_ai import Agent, ModelSettings, RunContext
from pydantic_ai.capabilities import ProcessHistory
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

_POPULATION = {"oslo": 709_000, "lisbon": 545_000, "rome": 2_750_000}
_AREA_KM2 = {"oslo": 454, "lisbon": 100, "rome": 1285}
_COUNTRY = {"oslo": "Norway", "lisbon": "Portugal", "rome": "Italy"}


@dataclass
class Desk:
    """What the agents found, shared through the run's dependencies."""

    facts: dict[str, int] = field(default_factory=dict)


def _model() -> OpenAIChatModel:
    provider = OpenAIProvider(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
        api_key=os.environ.get("OPENAI_API_KEY", "sk-local"),
    )
    return OpenAIChatModel(os.environ.get("OPENAI_MODEL", "smollm2"), provider=provider)


class Note(BaseModel):
    """An agent's answer."""

    text: str


def _tool_then_answer(tool: str) -> Any:
    """Model settings: call ``tool`` on the first step, then give the answer (a small local model
    needs a named tool choice every time; the server ignores ``max_completion_tokens``)."""

    def settings(ctx: RunContext[Desk]) -> ModelSettings:
        return ModelSettings(
            temperature=0.0,
            extra_body={"max_tokens": 48},
            tool_choice=[tool] if ctx.run_step <= 1 else ["final_result"],
        )

    return settings


def _for_a_local_server(messages: list[ModelMessage]) -> list[ModelMessage]:
    """Two quirks of llama.cpp's server with its chatml-function-calling template: it rejects an
    assistant tool call whose content is null, and it does not show the model ``tool`` messages.
    Give tool calls a blank text, and repeat each tool result as a user message."""
    out: list[ModelMessage] = []
    for message in messages:
        if isinstance(message, ModelResponse) and not any(isinstance(p, TextPart) for p in message.parts):
            if any(isinstance(p, ToolCallPart) for p in message.parts):
                message = replace(message, parts=[TextPart(" "), *message.parts])
        elif isinstance(message, ModelRequest):
            results = [p for p in message.parts if isinstance(p, ToolReturnPart)]
            if results and not any(isinstance(p, UserPromptPart) for p in message.parts):
                said = " ".join(f"The {p.tool_name} tool returned {p.model_response_str()}." for p in results)
                message = replace(message, parts=[*message.parts, UserPromptPart(said)])
        out.append(message)
    return out


researcher = Agent(
    _model(),
    name="researcher",
    deps_type=Desk,
    instructions="You look up how many people live in a city with the population tool.",
    output_type=Note,
    model_settings=_tool_then_answer("population"),
    capabilities=[ProcessHistory(_for_a_local_server)],
)


@researcher.tool
def population(ctx: RunContext[Desk], city: str) -> int:
    """The number of people living in a city."""
    count = _POPULATION.get(city.strip().lower(), 0)
    ctx.deps.facts[city] = count
    return count


@researcher.tool_plain
def area_km2(city: str) -> int:
    """The area of a city in square kilometres."""
    return _AREA_KM2.get(city.strip().lower(), 0)


coordinator = Agent(
    _model(),
    name="coordinator",
    deps_type=Desk,
    instructions="You answer questions about cities. Ask the researcher for the facts.",
    output_type=Note,
    model_settings=_tool_then_answer("ask_researcher"),
    capabilities=[ProcessHistory(_for_a_local_server)],
)


@coordinator.tool
async def ask_researcher(ctx: RunContext[Desk], question: str) -> str:
    """Ask the research agent a question about a city."""
    result = await researcher.run(question, deps=ctx.deps, usage=ctx.usage)
    return result.output.text


@coordinator.tool_plain
def country_of(city: str) -> str:
    """The country a city is in."""
    return _COUNTRY.get(city.strip().lower(), "unknown")


async def brief(city: str) -> dict[str, Any]:
    """The app's entry point: a city in, the coordinator's answer and the facts found out."""
    desk = Desk()
    result = await coordinator.run(f"How many people live in {city}?", deps=desk)
    return {"answer": result.output.text, "facts": desk.facts}


if __name__ == "__main__":
    import asyncio
    import sys

    print(asyncio.run(brief(" ".join(sys.argv[1:]) or "Oslo")))
