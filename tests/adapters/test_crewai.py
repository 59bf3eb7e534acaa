"""The CrewAI adapter, on examples/crewai (recorded from the local llama.cpp model through the openai
SDK 2.x over httpx) and on crews with a scripted LLM (delegation): no brownout code in the apps.

CrewAI pins openai<3, so these tests run in the second environment (.venv-openai2, scripts/test.sh).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

pytest.importorskip(
    "crewai",
    reason="CrewAI is not installed (it pins openai<3: scripts/test.sh runs this file in .venv-openai2, "
    "or pip install 'brownout[crewai]' in an openai 2.x environment)",
)

from adapter_examples import cassette_of, copy_example, fault_sites, load_example, normalized
from crewai import Agent, Crew, Process, Task
from crewai.llms.base_llm import BaseLLM
from crewai.tools import tool

from faults import FaultPlan
from harness import WorkerKilled, run_checks, run_system
from harness.cassettes import Cassette
from scenarios import call_sites

# A local model and no account (read when a crew starts): no telemetry, no trace upload or prompt.
for _name, _value in (
    ("CREWAI_DISABLE_TELEMETRY", "true"),
    ("CREWAI_TRACING_ENABLED", "false"),
):
    os.environ.setdefault(_name, _value)

QUESTION = "What is 12 plus 30?"


def _app() -> Any:
    return load_example("crewai", "calculator_crew")


def _run(hooks: Any = None, miss: str = "strict") -> Any:
    cassette = Cassette(cassette_of("crewai", "test_app", "test_answer"), record_mode="none", miss=miss)
    return run_system(_app().answer, (QUESTION,), hooks=hooks, cassette=cassette)


def _kinds(run: Any, kind: str) -> list[Any]:
    return [e for e in run.log if e.kind == kind]


# -- the example app, replayed --------------------------------------------------------------
def test_replay_is_offline_and_identical_three_times(socket_guard: Any) -> None:
    runs = [_run() for _ in range(3)]
    assert [r.output for r in runs] == ["12 + 30 = 42"] * 3
    assert all(r.error is None for r in runs)
    assert normalized(runs[0].log) == normalized(runs[1].log) == normalized(runs[2].log)
    assert socket_guard.attempts == []


def test_log_holds_agents_tools_and_the_task_handoff() -> None:
    run = _run()
    assert [(e.kind, e.agent) for e in run.log if e.kind not in ("run_start", "run_end")] == [
        ("agent_start", "calculator"),
        ("llm_call", "calculator"),
        ("tool_call", "calculator"),
        ("agent_end", "calculator"),
        ("handoff", None),
        ("agent_start", "reporter"),
        ("llm_call", "reporter"),
        ("agent_end", "reporter"),
    ]
    (tool_call,) = _kinds(run, "tool_call")
    assert (tool_call.name, tool_call.args, tool_call.status, tool_call.result) == (
        "add",
        {"a": 12, "b": 30},
        "ok",
        "12 + 30 = 42",
    )
    (moved,) = _kinds(run, "handoff")
    assert (moved.source, moved.target) == ("calculator", "reporter")
    assert moved.payload["context"] == "12 + 30 = 42"  # the calculator's output is the reporter's context
    # the LLM calls went through the openai SDK 2.x over httpx and were replayed from the cassette
    assert [e.source for e in _kinds(run, "llm_call")] == ["replayed", "replayed"]


def test_exploration_draws_tool_and_worker_sites_not_only_llm() -> None:
    sites = {(s.site, s.target) for s in call_sites([_run().log])}
    assert {("tool", "add"), ("worker", "calculator"), ("worker", "reporter")} <= sites
    assert {("llm", "calculator"), ("llm", "reporter")} <= sites


def test_tool_fault_goes_through_crewais_error_handling() -> None:
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"tool","target":"add","call":1,"effect":{"kind":"error"}}]}'
    )
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert run.error is None  # CrewAI caught it: "Error executing tool: ..." went back to the model
    first, second = _kinds(run, "tool_call")
    assert (first.name, first.status, second.name, second.status) == ("add", "error", "add", "ok")
    assert [(f.site, f.target) for f in _kinds(run, "fault_injected")] == [("tool", "add")]
    # the model asked again (an LLM call the recording never made: substituted), and the retry worked
    assert [e.source for e in _kinds(run, "llm_call")] == ["replayed", "substituted", "replayed"]
    assert run.output == "12 + 30 = 42"
    assert run_checks(run.log, "default", output=run.output) == []  # a handled fault is not a finding


def test_worker_fault_kills_the_reporter() -> None:
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"worker","target":"reporter","call":1,"effect":{"kind":"kill"}}]}'
    )
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert isinstance(run.error, WorkerKilled)
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"calculator": "ok", "reporter": "killed"}


def test_pytest_replays_and_chaos_draws_tool_faults(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = copy_example("crewai", pytester.path)
    monkeypatch.chdir(example)
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    replay.assert_outcomes(passed=1)
    chaos = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos", "--chaos-seed=3", "--chaos-examples=8", "--chaos-report=out"
    )
    outcomes = chaos.parseoutcomes()
    # Either a finding with the command that reproduces it, or an honest pass: the crew retries a
    # failed tool call and a killed reporter is reported as the run's error.
    if outcomes.get("failed"):
        assert "reproduce: pytest test_app.py::test_answer" in chaos.stdout.str()
    else:
        assert outcomes.get("passed") == 1
    assert "tool" in fault_sites(example / "out" / "results.parquet")


# -- delegation, on a scripted LLM (CrewAI's ReAct path) --------------------------------------
class ScriptedLLM(BaseLLM):
    """Answers each call with the next scripted text (CrewAI's ReAct format)."""

    replies: list[str]

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        return self.replies.pop(0)

    def supports_function_calling(self) -> bool:
        return False


@tool("lookup")
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 3 museums"


def _delegating_crew() -> Crew:
    expert = Agent(
        role="expert",
        goal="Know cities",
        backstory="A guide.",
        tools=[lookup],
        allow_delegation=False,
        max_iter=3,
        llm=ScriptedLLM(
            model="scripted",
            replies=[
                'Thought: look it up\nAction: lookup\nAction Input: {"city": "Oslo"}',
                "Thought: I know\nFinal Answer: Oslo has 3 museums",
            ],
        ),
    )
    lead = Agent(
        role="lead",
        goal="Answer",
        backstory="A manager.",
        allow_delegation=True,
        max_iter=3,
        llm=ScriptedLLM(
            model="scripted",
            replies=[
                "Thought: ask the expert\nAction: Delegate work to coworker\nAction Input: "
                '{"task": "count museums in Oslo", "context": "the user asks", "coworker": "expert"}',
                "Thought: done\nFinal Answer: Oslo has 3 museums",
            ],
        ),
    )
    task = Task(description="How many museums in Oslo?", expected_output="A number", agent=lead)
    return Crew(agents=[lead, expert], tasks=[task], process=Process.sequential)


def test_delegation_is_a_handoff_and_the_coworkers_tools_are_sites() -> None:
    def main() -> str:
        return str(_delegating_crew().kickoff())

    run = run_system(main)
    assert run.error is None and run.output == "Oslo has 3 museums"
    (moved,) = _kinds(run, "handoff")
    assert (moved.source, moved.target) == ("lead", "expert")
    assert moved.payload == {"task": "count museums in Oslo", "context": "the user asks"}
    tools = [(e.name, e.agent, e.status) for e in _kinds(run, "tool_call")]
    assert tools == [("lookup", "expert", "ok"), ("delegate_work_to_coworker", "lead", "ok")]
    starts = {e.name: e.spawned_by for e in _kinds(run, "agent_start")}
    assert starts == {"lead": None, "expert": "lead"}


def test_outside_a_run_crewai_runs_untouched() -> None:
    crew = _delegating_crew()
    assert str(crew.kickoff()) == "Oslo has 3 museums"
