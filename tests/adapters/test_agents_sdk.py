"""The OpenAI Agents SDK adapter, on examples/agents_sdk (recorded from the local llama.cpp model)
and on the SDK's own ScriptedModel: no brownout code in the apps."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

pytest.importorskip("agents", reason="the OpenAI Agents SDK is not installed: pip install 'brownout[agents]'")

from adapter_examples import cassette_of, copy_example, fault_sites, load_example, normalized
from agents import (
    Agent,
    GuardrailFunctionOutput,
    RunConfig,
    RunHooks,
    Runner,
    function_tool,
    handoff,
    input_guardrail,
    set_tracing_disabled,
)
from agents.exceptions import InputGuardrailTripwireTriggered
from agents.testing import ScriptedModel, assistant_message, function_call
from pydantic import BaseModel

from faults import FaultPlan
from harness import WorkerKilled, agent, run_checks, run_system, tool
from harness.cassettes import Cassette
from scenarios import call_sites

set_tracing_disabled(True)
QUESTION = "What is 12 plus 30?"
SDK_TOOL_ERROR = "An error occurred while running the tool. Please try again."


def _app() -> Any:
    return load_example("agents_sdk", "calculator_app")


def _cassette(miss: str = "strict") -> Cassette:
    return Cassette(cassette_of("agents_sdk", "test_app", "test_answer"), record_mode="none", miss=miss)


def _run(hooks: Any = None, miss: str = "strict") -> Any:
    return run_system(_app().answer, (QUESTION,), hooks=hooks, cassette=_cassette(miss))


def _kinds(run: Any, kind: str) -> list[Any]:
    return [e for e in run.log if e.kind == kind]


# -- the example app, replayed --------------------------------------------------------------
def test_replay_is_offline_and_identical_three_times(socket_guard: Any) -> None:
    runs = [_run() for _ in range(3)]
    assert [r.output for r in runs] == ["12 + 30 = 42"] * 3
    assert all(r.error is None for r in runs)
    assert normalized(runs[0].log) == normalized(runs[1].log) == normalized(runs[2].log)
    assert socket_guard.attempts == []


def test_log_holds_agents_tools_and_handoffs() -> None:
    run = _run()
    assert [(e.kind, e.agent) for e in run.log if e.kind != "run_start" and e.kind != "run_end"] == [
        ("agent_start", "triage"),
        ("llm_call", "triage"),
        ("handoff", "triage"),
        ("agent_end", "triage"),
        ("agent_start", "calculator"),
        ("llm_call", "calculator"),
        ("tool_call", "calculator"),
        ("agent_end", "calculator"),
    ]
    (tool_call,) = _kinds(run, "tool_call")
    assert (tool_call.name, tool_call.args, tool_call.status, tool_call.result) == (
        "add",
        {"a": 12, "b": 30},
        "ok",
        "12 + 30 = 42",
    )
    (moved,) = _kinds(run, "handoff")
    assert (moved.source, moved.target) == ("triage", "calculator")
    assert moved.payload == {"arguments": {}, "input": QUESTION}
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"triage": "ok", "calculator": "ok"}


def test_exploration_draws_tool_and_worker_sites_not_only_llm() -> None:
    sites = {(s.site, s.target) for s in call_sites([_run().log])}
    assert {("tool", "add"), ("worker", "triage"), ("worker", "calculator")} <= sites
    assert {("llm", "triage"), ("llm", "calculator")} <= sites


def test_tool_fault_goes_through_the_sdk_failure_handling_and_is_found() -> None:
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"tool","target":"add","call":1,"effect":{"kind":"error"}}]}'
    )
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert run.error is None
    assert run.output == SDK_TOOL_ERROR  # the SDK turned the failure into the answer
    (tool_call,) = _kinds(run, "tool_call")
    assert (tool_call.name, tool_call.status) == ("add", "error")
    assert [(f.site, f.target) for f in _kinds(run, "fault_injected")] == [("tool", "add")]
    violations = run_checks(run.log, "default", output=run.output)
    assert "tool_error_as_result" in {v.checker for v in violations}


# Each fault below would cost at least this long in real time if its wait were not virtual;
# the bounds only catch a real wait (CONTRIBUTING: no speed targets in tests).
REAL_WAIT = 30


def _tool_plan(effect: dict[str, Any]) -> Any:
    fault = {"site": "tool", "target": "add", "call": 1, "effect": effect}
    return FaultPlan.from_json(json.dumps({"faults": [fault]})).hooks()


def test_a_timeout_in_the_sync_function_tool_costs_no_wall_time() -> None:
    # `add` is a sync function tool: the SDK runs it with asyncio.to_thread.
    started = time.monotonic()
    run = _run(hooks=_tool_plan({"kind": "timeout", "after": REAL_WAIT}), miss="nearest")
    assert time.monotonic() - started < REAL_WAIT
    (call,) = _kinds(run, "tool_call")
    assert (call.status, call.t) == ("timeout", float(REAL_WAIT))
    assert run.output == SDK_TOOL_ERROR


def test_a_hang_in_the_sync_function_tool_ends_at_the_deadline_and_liveness_reports_it() -> None:
    started = time.monotonic()
    run = _run(hooks=_tool_plan({"kind": "hang"}), miss="nearest")
    assert time.monotonic() - started < REAL_WAIT  # 600 virtual seconds, not real ones
    assert run.deadline_passed
    assert "liveness" in {v.checker for v in run_checks(run.log, "default", output=run.output)}


def test_a_sync_function_tool_over_a_harness_tool_waits_on_the_virtual_clock_in_its_thread() -> None:
    @function_tool
    @tool("slow_lookup")
    def slow_lookup(city: str) -> str:
        """Look a city up, slowly."""
        time.sleep(REAL_WAIT)  # the tool's own wait, in the SDK's worker thread
        return f"{city}: 3 museums"

    expert = Agent(
        name="expert",
        model=ScriptedModel(
            [[function_call("slow_lookup", {"city": "Oslo"}, call_id="c1")], [assistant_message("done")]]
        ),
        tools=[slow_lookup],
    )

    async def main() -> str:
        return str((await Runner.run(expert, "museums?")).final_output)

    started = time.monotonic()
    run = run_system(main, hooks=_plan_for("slow_lookup", {"kind": "latency", "seconds": REAL_WAIT}))
    assert time.monotonic() - started < REAL_WAIT
    assert run.output == "done"
    (call,) = _kinds(run, "tool_call")  # one site: the user's own, not a second one from the adapter
    assert (call.name, call.status, call.t) == ("slow_lookup", "ok", 2.0 * REAL_WAIT)


def _plan_for(target: str, effect: dict[str, Any]) -> Any:
    fault = {"site": "tool", "target": target, "call": 1, "effect": effect}
    return FaultPlan.from_json(json.dumps({"faults": [fault]})).hooks()


def test_worker_fault_kills_the_agent_turn() -> None:
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"worker","target":"calculator","call":1,"effect":{"kind":"kill"}}]}'
    )
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert isinstance(run.error, WorkerKilled)
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"triage": "ok", "calculator": "killed"}
    assert _kinds(run, "tool_call") == []


def test_pytest_replays_and_chaos_finds_a_tool_fault(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = copy_example("agents_sdk", pytester.path)
    monkeypatch.chdir(example)
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    replay.assert_outcomes(passed=1)
    chaos = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos", "--chaos-seed=1", "--chaos-examples=30", "--chaos-report=out"
    )
    chaos.assert_outcomes(failed=1)
    text = chaos.stdout.str()
    assert "reproduce: pytest test_app.py::test_answer" in text
    sites = fault_sites(example / "out" / "results.parquet")
    assert "tool" in sites, sites  # not only LLM faults: the adapters made tool sites


def test_pytest_replays_a_sync_tool_timeout_and_hang_without_waiting(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faults far longer than the whole session could take unless their waits were real.
    example = copy_example("agents_sdk", pytester.path)
    monkeypatch.chdir(example)
    for effect in ({"kind": "timeout", "after": 300}, {"kind": "hang"}):
        plan = json.dumps({"faults": [{"site": "tool", "target": "add", "call": 1, "effect": effect}]})
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--chaos-plan={plan}", "--chaos-miss=nearest"
        )
        result.assert_outcomes(failed=1)  # the answer is the SDK's error text, or no answer at all
        assert result.duration < 300, result.duration


# -- the SDK's other paths, on its ScriptedModel ----------------------------------------------
@function_tool
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 3 museums"


class Escalation(BaseModel):
    reason: str


def _agents() -> tuple[Agent[Any], Agent[Any]]:
    expert = Agent(
        name="expert",
        model=ScriptedModel(
            [
                [function_call("lookup", {"city": "Oslo"}, call_id="c2")],
                [assistant_message("Oslo has 3 museums")],
            ]
        ),
        tools=[lookup],
    )
    front = Agent(
        name="front",
        model=ScriptedModel([[function_call("transfer_to_expert", {"reason": "needs facts"}, call_id="c1")]]),
        handoffs=[handoff(expert, input_type=Escalation, on_handoff=lambda ctx, data: None)],
    )
    return front, expert


def test_handoff_input_type_payload_and_tool_attribution() -> None:
    front, _ = _agents()

    async def main() -> str:
        result = await Runner.run(front, "museums in Oslo?")
        return str(result.final_output)

    run = run_system(main)
    assert run.output == "Oslo has 3 museums"
    (moved,) = _kinds(run, "handoff")
    assert moved.payload == {"arguments": {"reason": "needs facts"}, "input": "museums in Oslo?"}
    (tool_call,) = _kinds(run, "tool_call")
    assert (tool_call.name, tool_call.agent, tool_call.args) == ("lookup", "expert", {"city": "Oslo"})
    assert [e.name for e in _kinds(run, "agent_start")] == ["front", "expert"]


def test_user_hooks_and_model_input_filter_still_run() -> None:
    front, _ = _agents()
    seen: list[str] = []

    class Hooks(RunHooks[Any]):
        async def on_handoff(self, context: Any, from_agent: Any, to_agent: Any) -> None:
            seen.append(f"handoff {from_agent.name}->{to_agent.name}")

        async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: Any) -> None:
            seen.append(f"tool {tool.name}")

    def keep(data: Any) -> Any:
        seen.append(f"filter {data.agent.name}")
        return data.model_data

    async def main() -> str:
        config = RunConfig(call_model_input_filter=keep)
        result = await Runner.run(front, "museums in Oslo?", hooks=Hooks(), run_config=config)
        return str(result.final_output)

    run = run_system(main)
    assert run.output == "Oslo has 3 museums"
    assert seen == ["filter front", "handoff front->expert", "filter expert", "tool lookup", "filter expert"]


def test_run_sync_and_nesting_in_a_user_scope() -> None:
    front, _ = _agents()

    def main() -> str:
        with agent("app"):
            return str(Runner.run_sync(front, "museums in Oslo?").final_output)

    run = run_system(main)
    assert run.output == "Oslo has 3 museums"
    starts = {e.name: e.spawned_by for e in _kinds(run, "agent_start")}
    assert starts == {"app": None, "front": "app", "expert": "app"}


def test_run_streamed() -> None:
    front, _ = _agents()

    async def main() -> str:
        result = Runner.run_streamed(front, "museums in Oslo?")
        async for _ in result.stream_events():
            pass
        return str(result.final_output)

    run = run_system(main)
    assert run.output == "Oslo has 3 museums"
    assert [e.name for e in _kinds(run, "agent_start")] == ["front", "expert"]
    assert [e.name for e in _kinds(run, "tool_call")] == ["lookup"]
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"front": "ok", "expert": "ok"}


def test_guardrail_tripwire_is_recorded() -> None:
    @input_guardrail
    def no_secrets(ctx: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info={"found": "password"}, tripwire_triggered=True)

    guarded = Agent(
        name="guarded",
        model=ScriptedModel([[assistant_message("hi")]]),
        input_guardrails=[no_secrets],
    )

    async def main() -> Any:
        return await Runner.run(guarded, "my password is hunter2")

    run = run_system(main)
    assert isinstance(run.error, InputGuardrailTripwireTriggered)
    (trip,) = [e for e in run.log if e.kind == "custom"]
    assert trip.name == "guardrail_tripwire"
    assert trip.data["kind"] == "input"
    assert trip.data["guardrail"] == "no_secrets"
    assert trip.data["output_info"] == {"found": "password"}


def test_outside_a_run_the_sdk_runs_untouched() -> None:
    front, _ = _agents()
    result = asyncio.run(Runner.run(front, "museums in Oslo?"))
    assert result.final_output == "Oslo has 3 museums"


def test_adapters_off_means_no_agent_events(adapters_selection: Any) -> None:
    adapters_selection("none")
    run = _run()
    assert run.output == "12 + 30 = 42"
    assert _kinds(run, "agent_start") == [] and _kinds(run, "tool_call") == []
    assert {e.agent for e in _kinds(run, "llm_call")} == {None}
