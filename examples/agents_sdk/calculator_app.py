"""A triage agent that hands arithmetic questions to a calculator agent.

Plain OpenAI Agents SDK code: nothing here knows about brownout. It talks to any
OpenAI-compatible chat-completions endpoint (``OPENAI_BASE_URL``, ``OPENAI_MODEL``).
"""

from __future__ import annotations

import os

from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    handoff,
    set_tracing_disabled,
)
from agents.extensions import handoff_filters
from openai import AsyncOpenAI

set_tracing_disabled(True)  # a local model: nothing to export traces to


def _model() -> OpenAIChatCompletionsModel:
    client = AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
        api_key=os.environ.get("OPENAI_API_KEY", "sk-local"),
    )
    return OpenAIChatCompletionsModel(model=os.environ.get("OPENAI_MODEL", "smollm2"), openai_client=client)


@function_tool
def add(a: float, b: float) -> str:
    """Add two numbers and return the sum."""
    total = a + b
    return f"{a:g} + {b:g} = {total:g}"


calculator = Agent(
    name="calculator",
    instructions="You add numbers. Call the add tool with the two numbers from the question.",
    model=_model(),
    tools=[add],
    model_settings=ModelSettings(tool_choice="add", temperature=0.0, max_tokens=64),
    tool_use_behavior="stop_on_first_tool",  # the tool's result is the answer
)

triage = Agent(
    name="triage",
    instructions="You route questions. Hand arithmetic questions to the calculator.",
    model=_model(),
    handoffs=[handoff(calculator, input_filter=handoff_filters.remove_all_tools)],
    model_settings=ModelSettings(tool_choice="transfer_to_calculator", temperature=0.0, max_tokens=64),
)


async def answer(question: str) -> str:
    """The app's entry point: one question in, one answer out."""
    result = await Runner.run(triage, question)
    return str(result.final_output)


if __name__ == "__main__":
    import asyncio
    import sys

    print(asyncio.run(answer(" ".join(sys.argv[1:]) or "What is 12 plus 30?")))
