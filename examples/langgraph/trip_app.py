"""A trip-planning graph: a planner, two workers in parallel, a synthesizer.

Plain LangGraph + LangChain code in the usual sync style (``def`` nodes, ``graph.invoke``;
LangGraph runs the two workers in parallel in its thread pool): nothing here knows about
brownout. It talks to any OpenAI-compatible chat-completions endpoint (``OPENAI_BASE_URL``,
``OPENAI_MODEL``).

    planner ──┬──► weather ──┬──► synthesizer
              └──► budget  ──┘
"""

from __future__ import annotations

import os
from typing import TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph

_FORECASTS = {"lisbon": "sunny, 24 C", "oslo": "rain, 9 C", "rome": "sunny, 27 C"}
_DAILY_COST_EUR = {"lisbon": 120, "oslo": 210, "rome": 150}


@tool
def forecast(city: str) -> str:
    """The weather forecast for a city."""
    return _FORECASTS.get(city.strip().lower(), "unknown")


@tool
def daily_cost(city: str, days: int) -> int:
    """The cost in euros of staying `days` days in a city."""
    return _DAILY_COST_EUR.get(city.strip().lower(), 100) * days


class Trip(TypedDict, total=False):
    request: str
    city: str
    days: int
    plan: str
    weather: str
    budget: str
    answer: str


def _llm() -> ChatOpenAI:
    return ChatOpenAI(
        model=os.environ.get("OPENAI_MODEL", "smollm2"),
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
        api_key=os.environ.get("OPENAI_API_KEY", "sk-local"),  # type: ignore[arg-type]
        temperature=0.0,
        max_retries=2,
        extra_body={"max_tokens": 48},
    )


def _ask(system: str, user: str) -> str:
    reply = _llm().invoke([SystemMessage(system), HumanMessage(user)])
    return str(reply.content).strip()


def planner(state: Trip) -> Trip:
    plan = _ask("You plan trips. Reply with one short sentence.", state["request"])
    return {"plan": plan}


def weather(state: Trip) -> Trip:
    report = forecast.invoke({"city": state["city"]})
    note = _ask("Say in one short sentence what to pack.", f"The forecast in {state['city']} is {report}.")
    return {"weather": f"{report}. {note}"}


def budget(state: Trip) -> Trip:
    cost = daily_cost.invoke({"city": state["city"], "days": state["days"]})
    tip = _ask(
        "Give one short money-saving tip.", f"A {state['days']}-day stay in {state['city']} costs {cost} EUR."
    )
    return {"budget": f"about {cost} EUR for {state['days']} days. {tip}"}


def synthesizer(state: Trip) -> Trip:
    answer = _ask(
        "Write a two-sentence trip summary.",
        f"Plan: {state['plan']}\nWeather: {state['weather']}\nBudget: {state['budget']}",
    )
    return {"answer": answer}


builder = StateGraph(Trip)
builder.add_node("planner", planner)
builder.add_node("weather", weather)
builder.add_node("budget", budget)
builder.add_node("synthesizer", synthesizer)
builder.add_edge(START, "planner")
builder.add_edge("planner", "weather")
builder.add_edge("planner", "budget")
builder.add_edge(["weather", "budget"], "synthesizer")
builder.add_edge("synthesizer", END)
graph = builder.compile()


def plan_trip(city: str, days: int) -> dict[str, str]:
    """The app's entry point: a city and a number of days in, a trip summary out."""
    request = f"Plan a {days}-day trip to {city.title()}."
    state = graph.invoke({"request": request, "city": city, "days": days})
    return {"answer": state["answer"], "weather": state["weather"], "budget": state["budget"]}


if __name__ == "__main__":
    print(plan_trip("lisbon", 3))
