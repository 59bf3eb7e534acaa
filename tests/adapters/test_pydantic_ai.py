"""The pydantic-ai adapter, on examples/pydantic_ai (recorded from the local llama.cpp model) and on
pydantic-ai's own FunctionModel: no brownout code in the apps."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

pytest.importorskip("pydantic_ai", reason="pydantic-ai is not installed: pip install 'brownout[pydantic-ai]'")

from adapter_examples import cassette_of, copy_example, fault_sites, load_example, normalized
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from faults import FaultPlan
from harness import WorkerKilled, agent, run_system
from harness.cassettes import Cassette
from scenarios import call_sites


def _kinds(run: Any, kind: str) -> list[Any]:
    return [e for e in run.log if e.kind == kind]


def _plan(site: str, target: str, effect: dict[str, Any], call: int = 1) -> Any:
    fault = {"site": site, "target": target, "call": call, "effect": effect}
    return FaultPlan.from_json(json.dumps({"faults": [fault]})).hooks()


# -- agents on pydantic-ai's FunctionModel ------------------------------------------------------
def _calls_then_answers(tool: str, args: dict[str, Any], prefix: str) -> FunctionModel:
    """A model that calls ``tool`` until it returns (a retried call is called again, twice at
    most), then answers with what the tool returned."""

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        parts = [p for m in messages for p in getattr(m, "parts", ())]
        returned = [p for p in parts if isinstance(p, ToolReturnPart) and p.tool_name == tool]
        if returned and returned[-1].outcome == "success":
            return ModelResponse(parts=[TextPart(f"{prefix}: {returned[-1].content}")])
        if len(returned) > 2 or any(isinstance(p, RetryPromptPart) for p in parts[-1:]):
            return ModelResponse(parts=[TextPart(f"{prefix}: gave up")])
        return ModelResponse(parts=[ToolCallPart(tool, args)])

    return FunctionModel(model)


def _desk(timeout: float | None = None, lookup_retries: int = 0) -> tuple[Agent[None, str], Agent[None, str]]:
    expert: Agent[None, str] = Agent(
        _calls_then_answers("lookup", {"city": "Oslo"}, "expert"), name="expert", retries=3
    )
    attempts: list[int] = []

    @expert.tool_plain(timeout=timeout)
    def lookup(city: str) -> str:
        """Look a city up."""
        attempts.append(1)
        if len(attempts) <= lookup_retries:
            raise ModelRetry("the registry is busy, try again")
        return f"{city}: 3 museums"

    front: Agent[None, str] = Agent(
        _calls_then_answers("ask_expert", {"question": "museums in Oslo?"}, "front"), name="front"
    )

    @front.tool
    async def ask_expert(ctx: RunContext[None], question: str) -> str:
        """Ask the expert agent."""
        result = await expert.run(question, usage=ctx.usage)
        return result.output

    return front, expert


def _main(front: Agent[None, str]) -> Any:
    async def main() -> str:
        result = await front.run("How many museums in Oslo?")
        return result.output

    return main


def test_agents_tools_and_delegation_become_events() -> None:
    front, _ = _desk()
    run = run_system(_main(front))
    assert run.error is None and run.output == "front: expert: Oslo: 3 museums"
    assert [(e.kind, e.agent) for e in run.log if e.kind not in ("run_start", "run_end")] == [
        ("agent_start", "front"),
        ("handoff", "front"),
        ("agent_start", "expert"),
        ("tool_call", "expert"),
        ("agent_end", "expert"),
        ("tool_call", "front"),
        ("agent_end", "front"),
    ]
    (moved,) = _kinds(run, "handoff")
    assert (moved.source, moved.target, moved.payload) == (
        "front",
        "expert",
        {"tool": "ask_expert", "prompt": "museums in Oslo?"},
    )
    assert {e.name: e.spawned_by for e in _kinds(run, "agent_start")} == {"front": None, "expert": "front"}
    calls = {e.name: (e.agent, e.args, e.status, e.result) for e in _kinds(run, "tool_call")}
    assert calls == {
        "lookup": ("expert", {"city": "Oslo"}, "ok", "Oslo: 3 museums"),
        "ask_expert": ("front", {"question": "museums in Oslo?"}, "ok", "expert: Oslo: 3 museums"),
    }


def test_run_sync_and_nesting_in_a_user_scope() -> None:
    front, _ = _desk()

    def main() -> str:
        with agent("app"):
            return front.run_sync("How many museums in Oslo?").output

    run = run_system(main)
    assert run.output == "front: expert: Oslo: 3 museums"
    assert {e.name: e.spawned_by for e in _kinds(run, "agent_start")} == {
        "app": None,
        "front": "app",
        "expert": "front",
    }


def test_a_tool_fault_fails_the_run_as_the_tools_own_error_would() -> None:
    front, _ = _desk()
    run = run_system(_main(front), hooks=_plan("tool", "lookup", {"kind": "error"}))
    assert isinstance(run.error, ConnectionError)  # pydantic-ai lets a tool's exception end the run
    statuses = {e.name: e.status for e in _kinds(run, "tool_call")}
    assert statuses == {"lookup": "error", "ask_expert": "error"}
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"expert": "error", "front": "error"}


def test_a_tool_fault_reaches_the_apps_on_tool_execute_error() -> None:
    class Apologise(AbstractCapability[Any]):
        async def on_tool_execute_error(
            self, ctx: Any, *, call: Any, tool_def: Any, args: Any, error: Exception
        ) -> Any:
            return f"unavailable ({type(error).__name__})"

    front, _ = _desk()

    async def main() -> str:
        result = await front.run("How many museums in Oslo?", capabilities=[Apologise()])
        return result.output

    run = run_system(main, hooks=_plan("tool", "ask_expert", {"kind": "error", "error_type": "RuntimeError"}))
    assert run.error is None
    assert run.output == "front: unavailable (RuntimeError)"  # the injected error went through the hook
    (failed,) = _kinds(run, "tool_call")
    assert (failed.name, failed.status, failed.error_type, failed.executed) == (
        "ask_expert",
        "error",
        "RuntimeError",
        False,
    )


def test_a_hang_ends_at_the_tools_timeout_as_a_retry_on_the_virtual_clock() -> None:
    front, _ = _desk(timeout=30)
    started = time.monotonic()
    run = run_system(_main(front), hooks=_plan("tool", "lookup", {"kind": "hang"}))
    wall = time.monotonic() - started
    assert run.error is None
    # pydantic-ai's anyio.fail_after(30) cut the hang and asked the model to retry; the retry ran.
    assert run.output == "front: expert: Oslo: 3 museums"
    assert [(e.name, e.status) for e in _kinds(run, "tool_call")] == [
        ("lookup", "cancelled"),
        ("lookup", "ok"),
        ("ask_expert", "ok"),
    ]
    hung = _kinds(run, "tool_call")[0]
    assert hung.latency == pytest.approx(30.0)  # virtual seconds
    assert wall < 10  # a real 30 s wait cannot fit


def test_a_model_retry_is_recorded_then_retried() -> None:
    front, _ = _desk(lookup_retries=1)
    run = run_system(_main(front))
    assert run.output == "front: expert: Oslo: 3 museums"
    lookups = [(e.status, e.error_type, e.attempt) for e in _kinds(run, "tool_call") if e.name == "lookup"]
    assert lookups == [("error", "ModelRetry", 1), ("ok", None, 2)]


def test_worker_fault_kills_the_delegate() -> None:
    front, _ = _desk()
    run = run_system(_main(front), hooks=_plan("worker", "expert", {"kind": "kill"}))
    assert isinstance(run.error, WorkerKilled)
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"expert": "killed", "front": "killed"}
    assert [e.name for e in _kinds(run, "tool_call") if e.name == "lookup"] == []


def test_outside_a_run_pydantic_ai_runs_untouched() -> None:
    front, _ = _desk()
    assert asyncio.run(_main(front)()) == "front: expert: Oslo: 3 museums"


def test_adapters_off_means_no_agent_events(adapters_selection: Any) -> None:
    adapters_selection("langgraph")
    front, _ = _desk()
    # run_sync: without the adapter, pydantic-ai runs sync callbacks in anyio's worker threads,
    # which an async run's virtual clock loop cannot see.
    run = run_system(lambda: front.run_sync("How many museums in Oslo?").output)
    assert run.output == "front: expert: Oslo: 3 museums"
    assert (
        _kinds(run, "agent_start") == [] and _kinds(run, "tool_call") == [] and _kinds(run, "handoff") == []
    )


# -- the example app, replayed ------------------------------------------------------------------
def _app() -> Any:
    return load_example("pydantic_ai", "desk_app")


def _example(hooks: Any = None, miss: str = "strict") -> Any:
    cassette = Cassette(cassette_of("pydantic_ai", "test_app", "test_brief"), record_mode="none", miss=miss)
    return run_system(_app().brief, ("Oslo",), hooks=hooks, cassette=cassette)


def test_example_replays_offline_and_identically_three_times(socket_guard: Any) -> None:
    runs = [_example() for _ in range(3)]
    assert all(r.error is None for r in runs)
    assert [r.output["facts"] for r in runs] == [{"Oslo": 709_000}] * 3
    assert normalized(runs[0].log) == normalized(runs[1].log) == normalized(runs[2].log)
    assert {e.source for r in runs for e in _kinds(r, "llm_call")} == {"replayed"}
    assert socket_guard.attempts == []


def test_example_log_holds_agents_tools_and_delegation() -> None:
    run = _example()
    assert [e.name for e in _kinds(run, "agent_start")] == ["coordinator", "researcher"]
    assert {e.name: e.spawned_by for e in _kinds(run, "agent_start")} == {
        "coordinator": None,
        "researcher": "coordinator",
    }
    assert {e.agent for e in _kinds(run, "llm_call")} == {"coordinator", "researcher"}
    calls = [(e.name, e.agent, e.status) for e in _kinds(run, "tool_call")]
    assert calls == [("population", "researcher", "ok"), ("ask_researcher", "coordinator", "ok")]
    population = _kinds(run, "tool_call")[0]
    assert (population.args, population.result) == ({"city": "Oslo"}, 709_000)
    (moved,) = _kinds(run, "handoff")
    assert (moved.source, moved.target, moved.payload["tool"]) == (
        "coordinator",
        "researcher",
        "ask_researcher",
    )
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"coordinator": "ok", "researcher": "ok"}


def test_example_offers_tool_and_worker_sites_not_only_llm() -> None:
    sites = {(s.site, s.target) for s in call_sites([_example().log])}
    assert {("tool", "population"), ("tool", "ask_researcher")} <= sites
    assert {("worker", "coordinator"), ("worker", "researcher")} <= sites
    assert {("llm", "coordinator"), ("llm", "researcher")} <= sites


def test_pytest_replays_and_chaos_draws_tool_faults_under_their_names(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = copy_example("pydantic_ai", pytester.path)
    monkeypatch.chdir(example)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    chaos = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos", "--chaos-seed=1", "--chaos-examples=30", "--chaos-report=out"
    )
    # A real finding: pydantic-ai ends the run with a tool's exception, and the app does not handle
    # it, so a timed-out population lookup in the researcher crashes the whole desk.
    chaos.assert_outcomes(failed=1)
    text = chaos.stdout.str()
    assert (
        "unhandled fault at tool 'population'" in text or "unhandled fault at tool 'ask_researcher'" in text
    )
    assert "reproduce: pytest test_app.py::test_brief" in text
    sites = fault_sites(example / "out" / "results.parquet")
    assert "tool" in sites and "worker" in sites, sites  # not only LLM faults


def test_sync_tools_run_in_the_apps_own_executor_when_it_chose_one() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pydantic_ai.capabilities import UseThreadExecutor

    threads: list[str] = []
    worker: Agent[None, str] = Agent(_calls_then_answers("where", {}, "worker"), name="worker")

    @worker.tool_plain
    def where() -> str:
        """The thread the tool runs in."""
        import threading

        threads.append(threading.current_thread().name)
        return "here"

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="app-pool") as pool:

        async def main() -> str:
            result = await worker.run("where?", capabilities=[UseThreadExecutor(pool)])
            return result.output

        run = run_system(main)
        default = run_system(lambda: asyncio.run(worker.run("where?")).output)
    assert run.output == "worker: here" and default.output == "worker: here"
    assert threads[0].startswith("app-pool")  # the app's executor, not brownout's
    assert [e.name for e in _kinds(run, "tool_call")] == ["where"]


def test_a_run_driven_node_by_node_with_iter() -> None:
    front, _ = _desk()

    async def main() -> str:
        async with front.iter("How many museums in Oslo?") as agent_run:
            async for _node in agent_run:
                pass
        assert agent_run.result is not None
        return agent_run.result.output

    run = run_system(main)
    assert run.output == "front: expert: Oslo: 3 museums"
    assert [e.name for e in _kinds(run, "agent_start")] == ["front", "expert"]
    assert [(e.name, e.agent) for e in _kinds(run, "tool_call")] == [
        ("lookup", "expert"),
        ("ask_expert", "front"),
    ]
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"front": "ok", "expert": "ok"}


def test_a_streamed_run() -> None:
    from pydantic_ai.models.function import DeltaToolCall

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> Any:
        parts = [p for m in messages for p in getattr(m, "parts", ())]
        returned = [p for p in parts if isinstance(p, ToolReturnPart)]
        if returned:
            yield f"streamed: {returned[-1].content}"
        else:
            yield {0: DeltaToolCall(name="lookup", json_args='{"city": "Oslo"}')}

    streamer: Agent[None, str] = Agent(FunctionModel(stream_function=stream), name="streamer")

    @streamer.tool_plain
    def lookup(city: str) -> str:
        """Look a city up."""
        return f"{city}: 3 museums"

    async def main() -> str:
        async with streamer.run_stream("museums?") as result:
            return "".join([piece async for piece in result.stream_text(delta=True)])

    run = run_system(main)
    assert run.output == "streamed: Oslo: 3 museums"
    assert [(e.name, e.agent, e.status) for e in _kinds(run, "tool_call")] == [("lookup", "streamer", "ok")]
    assert [(e.name, e.status) for e in _kinds(run, "agent_end")] == [("streamer", "ok")]
