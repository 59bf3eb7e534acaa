"""A calculator agent adds the numbers of a question with a tool; a reporter agent answers from its result.

Plain CrewAI code: nothing here knows about brownout. It talks to any OpenAI-compatible
chat-completions endpoint (``OPENAI_BASE_URL``, ``OPENAI_MODEL``) through CrewAI's native
OpenAI provider (the openai SDK 2.x).
"""

from __future__ import annotations

import os

# A local model and no account: no telemetry, no trace upload, no prompt to view traces.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import LLM, Agent, Crew, Process, Task
from crewai.tools import tool


@tool("add", result_as_answer=True)
def add(a: float, b: float) -> str:
    """Add two numbers and return the sum."""
    return f"{a:g} + {b:g} = {a + b:g}"


def _llm() -> LLM:
    return LLM(
        model="openai/" + os.environ.get("OPENAI_MODEL", "smollm2"),
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
        api_key=os.environ.get("OPENAI_API_KEY", "sk-local"),
        temperature=0.0,
        max_tokens=64,
    )


calculator = Agent(
    role="calculator",
    goal="Add numbers with the add tool",
    backstory="You only add numbers, always with the add tool.",
    tools=[add],
    llm=_llm(),
    allow_delegation=False,
    max_iter=2,
)
reporter = Agent(
    role="reporter",
    goal="Report the sum in one sentence",
    backstory="You write short answers.",
    llm=_llm(),
    allow_delegation=False,
    max_iter=1,
)
compute = Task(description="Add the two numbers in: {question}", expected_output="The sum", agent=calculator)
report = Task(
    description="Answer the question {question} in one sentence using the sum.",
    expected_output="One sentence",
    agent=reporter,
    context=[compute],
)
crew = Crew(agents=[calculator, reporter], tasks=[compute, report], process=Process.sequential)


def answer(question: str) -> str:
    """The app's entry point: one question in, one answer out."""
    return str(crew.kickoff(inputs={"question": question}))


if __name__ == "__main__":
    import sys

    print(answer(" ".join(sys.argv[1:]) or "What is 12 plus 30?"))
