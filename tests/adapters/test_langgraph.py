"""The LangGraph adapter, on examples/langgraph (recorded from the local llama.cpp model) and on
graphs without an LLM (Send, Command, ToolNode): no brownout code in the apps."""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph", reason="LangGraph is not installed: pip install 'brownout[langgraph]'")
pytest.importorskip(
    "langchain_openai", reason="langchain-openai is not installed: pip install 'brownout[langgraph]'"
)

from adapter_examples import EXAMPLES, cassette_of, copy_example, fault_sites, load_example, normalized
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send

from faults import FaultPlan
from harness import run_checks, run_system
from harness.cassettes import Cassette
from scenarios import call_sites

NODES = ["planner", "weather", "budget", "synthesizer"]


def _app() -> Any:
    return load_example("langgraph", "trip_app")


def _run(hooks: Any = None, miss: str = "strict") -> Any:
    cassette = Cassette(cassette_of("langgraph", "test_app", "test_plan_trip"), record_mode="none", miss=miss)
    return run_system(_app().plan_trip, ("lisbon", 3), hooks=hooks, cassette=cassette)


def _kinds(run: Any, kind: str) -> list[Any]:
    return [e for e in run.log if e.kind == kind]


# -- the example app, replayed --------------------------------------------------------------
def test_replay_is_offline_and_identical_three_times(socket_guard: Any) -> None:
    runs = [_run() for _ in range(3)]
    assert all(r.error is None for r in runs)
    assert runs[0].output["budget"].startswith("about 360 EUR for 3 days")
    assert runs[0].output == runs[1].output == runs[2].output
    assert normalized(runs[0].log) == normalized(runs[1].log) == normalized(runs[2].log)
    assert socket_guard.attempts == []


def test_log_holds_nodes_tools_and_edges() -> None:
    run = _run()
    assert sorted(e.name for e in _kinds(run, "agent_start")) == sorted(NODES)
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == dict.fromkeys(NODES, "ok")
    # the LLM calls of langchain-openai are attributed to the node that made them
    assert sorted(e.agent for e in _kinds(run, "llm_call")) == ["budget", "planner", "synthesizer", "weather"]
    tools = {e.name: (e.agent, e.args, e.result) for e in _kinds(run, "tool_call")}
    assert tools == {
        "forecast": ("weather", {"city": "lisbon"}, "sunny, 24 C"),
        "daily_cost": ("budget", {"city": "lisbon", "days": 3}, 360),
    }
    edges = {(e.source, e.target): e.payload for e in _kinds(run, "handoff")}
    assert set(edges) == {
        ("planner", "weather"),
        ("planner", "budget"),
        ("weather", "synthesizer"),
        ("budget", "synthesizer"),
    }
    assert set(edges["planner", "weather"]) == {"plan"}  # the state keys the node wrote
    assert set(edges["budget", "synthesizer"]) == {"budget"}
    assert edges["budget", "synthesizer"]["budget"].startswith("about 360 EUR for 3 days. ")


def _digest(run: Any) -> str:
    return hashlib.sha256(json.dumps(normalized(run.log), sort_keys=True).encode()).hexdigest()


def test_twenty_replays_are_byte_identical_and_a_call_number_hits_the_same_node() -> None:
    # The two workers run in parallel (LangGraph's thread pool, outside a run); inside a run they
    # take their turns in LangGraph's task order, so their LLM calls never swap places.
    digests = {_digest(_run()) for _ in range(20)}
    assert len(digests) == 1
    second = FaultPlan.from_json(
        '{"faults":[{"site":"llm","target":null,"call":2,"effect":{"kind":"server_error"}}]}'
    )
    hit = set()
    for _ in range(20):
        run = _run(hooks=second.hooks(), miss="nearest")
        (fault,) = _kinds(run, "fault_injected")
        hit.add(fault.agent)
    assert hit == {"budget"}  # a worker, the same one every time


def test_replays_in_other_processes_give_the_same_log() -> None:
    code = (
        "import hashlib, json, sys\n"
        f"sys.path[:0] = [{str(EXAMPLES / 'langgraph')!r}, {str(EXAMPLES.parent / 'tests' / 'adapters')!r}]\n"
        "import test_langgraph as t\n"
        "print(t._digest(t._run()))\n"
    )
    here = _digest(_run())
    for seed in ("1", "2"):  # other hash seeds, other thread timings
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == here


# Each fault below would cost at least this long in real time if its wait were not virtual;
# the bounds only catch a real wait (CONTRIBUTING: no speed targets in tests).
REAL_WAIT = 30


@pytest.mark.parametrize(
    ("site", "target"),
    [("tool", "daily_cost"), ("llm", "budget")],
)
def test_a_timeout_in_a_parallel_worker_costs_no_wall_time(site: str, target: str) -> None:
    plan = FaultPlan.from_json(
        json.dumps(
            {
                "faults": [
                    {
                        "site": site,
                        "target": target,
                        "call": 1,
                        "effect": {"kind": "timeout", "after": REAL_WAIT},
                    }
                ]
            }
        )
    )
    started = time.monotonic()
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert time.monotonic() - started < REAL_WAIT
    assert [(f.site, f.target) for f in _kinds(run, "fault_injected")] == [(site, target)]
    assert run.log[-1].t >= REAL_WAIT  # the run saw the 30 s pass, in virtual time


def test_a_hung_parallel_worker_ends_at_the_deadline_and_liveness_reports_it() -> None:
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"worker","target":"weather","call":1,"effect":{"kind":"hang"}}]}'
    )
    started = time.monotonic()
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert time.monotonic() - started < REAL_WAIT  # 600 virtual seconds, not real ones
    assert run.deadline_passed
    violations = run_checks(run.log, "default", output=run.output)
    assert "liveness" in {v.checker for v in violations}


def test_exploration_draws_tool_and_worker_sites_not_only_llm() -> None:
    sites = {(s.site, s.target) for s in call_sites([_run().log])}
    assert {("tool", "forecast"), ("tool", "daily_cost")} <= sites
    assert {("worker", node) for node in NODES} <= sites


def test_tool_fault_fails_the_node_and_the_graph() -> None:
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"tool","target":"daily_cost","call":1,"effect":{"kind":"error"}}]}'
    )
    run = _run(hooks=plan.hooks(), miss="nearest")
    assert run.error is not None and "injected" in str(run.error)
    ends = {e.name: e.status for e in _kinds(run, "agent_end")}
    assert ends["budget"] == "error"
    assert "synthesizer" not in ends
    assert [(f.site, f.target) for f in _kinds(run, "fault_injected")] == [("tool", "daily_cost")]


def test_pytest_replays_and_chaos_draws_tool_and_worker_faults(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = copy_example("langgraph", pytester.path)
    monkeypatch.chdir(example)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    chaos = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos", "--chaos-seed=1", "--chaos-examples=30", "--chaos-report=out"
    )
    chaos.assert_outcomes(failed=1)
    assert "reproduce: pytest test_app.py::test_plan_trip" in chaos.stdout.str()
    sites = fault_sites(example / "out" / "results.parquet")
    assert "tool" in sites, sites  # not only LLM faults: the adapters made tool sites


def test_pytest_replays_a_parallel_worker_timeout_and_hang_without_waiting(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faults far longer than the whole session could take unless their waits were real.
    example = copy_example("langgraph", pytester.path)
    monkeypatch.chdir(example)
    for fault in (
        {"site": "tool", "target": "daily_cost", "call": 1, "effect": {"kind": "timeout", "after": 300}},
        {"site": "worker", "target": "weather", "call": 1, "effect": {"kind": "hang"}},
    ):
        plan = json.dumps({"faults": [fault]})
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--chaos-plan={plan}", "--chaos-miss=nearest"
        )
        result.assert_outcomes(failed=1)  # the graph does not survive either fault
        assert result.duration < 300, result.duration


_NEAREST_TEST = """
import pytest
from trip_app import plan_trip


@pytest.mark.chaos(faults=["tool.malformed_result"])
def test_weather(chaos):
    run = chaos.run(plan_trip, "lisbon", 3)
    assert "sunny, 24 C" in run.output["weather"]
"""


def test_a_reproduce_command_printed_under_nearest_reproduces(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A garbled forecast changes the weather node's prompt: a request the cassette does not hold.
    # Under --chaos (miss policy `nearest`) the recording of the same node's call stands in, and
    # the test fails on the answer; the printed command must carry the policy to fail the same way.
    example = copy_example("langgraph", pytester.path)
    monkeypatch.chdir(example)
    (example / "test_nearest.py").write_text(_NEAREST_TEST)
    (example / "cassettes" / "test_nearest").mkdir()
    shutil.copy(
        example / "cassettes" / "test_app" / "test_plan_trip.json",
        example / "cassettes" / "test_nearest" / "test_weather.json",
    )
    explored = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "test_nearest.py", "--chaos", "--chaos-seed=1", "--chaos-examples=20"
    )
    explored.assert_outcomes(failed=1)
    (line,) = {ln.strip() for ln in explored.outlines if ln.strip().startswith("reproduce: pytest ")}
    command = shlex.split(line.removeprefix("reproduce: "))[1:]
    assert "--chaos-miss=nearest" in command
    assert any(arg.startswith("--chaos-plan=") and "forecast" in arg for arg in command)

    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", *command)
    again.assert_outcomes(failed=1)
    text = again.stdout.str()
    assert "assert 'sunny, 24 C' in" in text  # the same failure: the test's own assertion
    assert "CassetteMiss" not in text

    # The failure depends on the policy: without it the replayed plan stops at the cassette miss.
    strict = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *[arg for arg in command if not arg.startswith("--chaos-miss")]
    )
    strict.assert_outcomes(failed=1)
    assert "CassetteMiss" in strict.stdout.str()


# -- the checkpointer: state events and state fault sites ------------------------------------
class Tally(TypedDict, total=False):
    n: Annotated[int, operator.add]


def _saver(kind: str, path: Any) -> Any:
    if kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    sqlite = pytest.importorskip(
        "langgraph.checkpoint.sqlite",
        reason="pip install 'brownout[langgraph]' (langgraph-checkpoint-sqlite)",
    )
    return sqlite.SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))


def _tally(saver: Any) -> Any:
    def add(state: Tally) -> Tally:
        return {"n": 1}

    graph = StateGraph(Tally)
    graph.add_node("add", add)
    graph.add_edge(START, "add")
    graph.add_edge("add", END)
    return graph.compile(checkpointer=saver)


def _twice(graph: Any) -> Any:
    config = {"configurable": {"thread_id": "t1"}}

    def main() -> int:
        graph.invoke({"n": 0}, config)  # each invoke adds 1 to the thread's saved total
        return int(graph.invoke({"n": 0}, config)["n"])

    return main


def _state_plan(op_effect: str, call: int) -> Any:
    fault = {"site": "state", "target": "checkpointer", "call": call, "effect": {"kind": op_effect}}
    return FaultPlan.from_json(json.dumps({"faults": [fault]})).hooks()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_checkpoints_are_state_events_and_state_sites(kind: str, tmp_path: Any) -> None:
    run = run_system(_twice(_tally(_saver(kind, tmp_path / "c.db"))))
    assert run.error is None and run.output == 2
    reads = [(e.store, e.key, e.version) for e in _kinds(run, "state_read")]
    writes = [(e.key, e.new_version, e.based_on_version, e.value) for e in _kinds(run, "state_write")]
    assert reads == [("checkpointer", "t1", 0), ("checkpointer", "t1", 3)]
    # version = the checkpoint's step + 2: the input (step -1) is 1, each super-step one more
    assert writes == [
        ("t1", 1, None, {}),  # the input checkpoint: the input is not state yet
        ("t1", 2, 1, {"n": 0}),
        ("t1", 3, 2, {"n": 1}),
        ("t1", 4, 3, {"n": 1}),
        ("t1", 5, 4, {"n": 1}),
        ("t1", 6, 5, {"n": 2}),
    ]
    assert {("state", "checkpointer")} <= {(s.site, s.target) for s in call_sites([run.log])}
    assert run_checks(run.log, "default", output=run.output) == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_stale_checkpoint_read_resumes_from_the_previous_checkpoint(kind: str, tmp_path: Any) -> None:
    run = run_system(_twice(_tally(_saver(kind, tmp_path / "c.db"))), hooks=_state_plan("stale_read", 2))
    stale = [e for e in _kinds(run, "state_read") if e.stale]
    assert [(e.key, e.version) for e in stale] == [("t1", 2)]  # the first invoke's before-last
    assert run.output == 1  # the second invoke started from a total of 0: one increment lost


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_lost_checkpoint_write_is_acknowledged_and_never_saved(kind: str, tmp_path: Any) -> None:
    run = run_system(_twice(_tally(_saver(kind, tmp_path / "c.db"))), hooks=_state_plan("lost_write", 3))
    lost = [e for e in _kinds(run, "state_write") if e.lost]
    assert [(e.key, e.new_version) for e in lost] == [("t1", 3)]
    assert run.error is None
    # the second invoke read the newest checkpoint that was really saved
    assert [e.version for e in _kinds(run, "state_read")] == [0, 2]


def test_a_durable_checkpointer_continues_its_versions_in_a_later_run(tmp_path: Any) -> None:
    path = tmp_path / "c.db"
    run_system(_twice(_tally(_saver("sqlite", path))))
    again = run_system(_twice(_tally(_saver("sqlite", path))))  # a restarted system, same file
    assert again.output == 4
    assert [e.version for e in _kinds(again, "state_read")] == [6, 9]


# -- graphs without an LLM: Send, Command, ToolNode, sync and async -------------------------
class Fan(TypedDict, total=False):
    topic: str
    parts: Annotated[list[str], operator.add]
    final: str


def _fan_graph() -> Any:
    def plan(state: Fan) -> Fan:
        return {"topic": state["topic"].upper()}

    def fan_out(state: Fan) -> list[Send]:
        return [Send("worker", {"topic": state["topic"], "part": i}) for i in range(2)]

    def worker(state: dict[str, Any]) -> Fan:
        return {"parts": [f"{state['topic']}-{state['part']}"]}

    def merge(state: Fan) -> Command[Any]:
        return Command(goto="publish", update={"final": "+".join(sorted(state["parts"]))})

    def publish(state: Fan) -> Fan:
        return {}

    graph = StateGraph(Fan)
    for name, fn in [("plan", plan), ("worker", worker), ("merge", merge), ("publish", publish)]:
        graph.add_node(name, fn)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", fan_out, ["worker"])
    graph.add_edge("worker", "merge")
    graph.add_edge("publish", END)
    return graph.compile()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_send_and_command_become_handoffs(mode: str) -> None:
    graph = _fan_graph()

    def main() -> Any:
        return graph.invoke({"topic": "t", "parts": []})

    async def amain() -> Any:
        return await graph.ainvoke({"topic": "t", "parts": []})

    run = run_system(main if mode == "sync" else amain)
    assert run.error is None and run.output["final"] == "T-0+T-1"
    handoffs = sorted((e.source, e.target, repr(e.payload)) for e in _kinds(run, "handoff"))
    assert handoffs == [
        ("merge", "publish", repr({"final": "T-0+T-1"})),  # Command(goto=..., update=...)
        ("plan", "worker", repr({"topic": "T", "part": 0})),  # Send carries its arg
        ("plan", "worker", repr({"topic": "T", "part": 1})),
        ("worker", "merge", repr({"parts": ["T-0"]})),
        ("worker", "merge", repr({"parts": ["T-1"]})),
    ]
    assert sorted(e.name for e in _kinds(run, "agent_start")) == [
        "merge",
        "plan",
        "publish",
        "worker",
        "worker",
    ]
    for event in _kinds(run, "handoff"):
        assert event.agent == event.source  # recorded inside the sending node's scope


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


def _tool_graph() -> Any:
    def caller(state: MessagesState) -> dict[str, Any]:
        call = {"name": "word_count", "args": {"text": "one two three"}, "id": "call-1", "type": "tool_call"}
        return {"messages": [AIMessage(content="", tool_calls=[call])]}

    graph = StateGraph(MessagesState)
    graph.add_node("caller", caller)
    graph.add_node("tools", ToolNode([word_count]))
    graph.add_edge(START, "caller")
    graph.add_edge("caller", "tools")
    graph.add_edge("tools", END)
    return graph.compile()


def test_toolnode_calls_are_tool_sites() -> None:
    graph = _tool_graph()

    async def main() -> Any:
        state = await graph.ainvoke({"messages": []})
        return state["messages"][-1].content

    run = run_system(main)
    assert run.output == "3"
    (call,) = _kinds(run, "tool_call")
    assert (call.name, call.agent, call.args, call.status) == (
        "word_count",
        "tools",
        {"text": "one two three"},
        "ok",
    )
    (moved,) = _kinds(run, "handoff")
    assert (moved.source, moved.target) == ("caller", "tools")
    assert moved.payload == {
        "messages": [
            {
                "type": "ai",
                "content": "",
                "tool_calls": [{"name": "word_count", "args": {"text": "one two three"}}],
            }
        ]
    }


def test_worker_fault_on_a_node_and_a_checker_sees_it() -> None:
    graph = _tool_graph()
    plan = FaultPlan.from_json(
        '{"faults":[{"site":"worker","target":"tools","call":1,"effect":{"kind":"kill"}}]}'
    )

    async def main() -> Any:
        return (await graph.ainvoke({"messages": []}))["messages"][-1].content

    run = run_system(main, hooks=plan.hooks())
    assert type(run.error).__name__ == "WorkerKilled"
    assert {e.name: e.status for e in _kinds(run, "agent_end")} == {"caller": "ok", "tools": "killed"}
    assert _kinds(run, "tool_call") == []
    assert isinstance(run_checks(run.log, "default", output=run.output), list)


def test_outside_a_run_graphs_run_untouched() -> None:
    assert _fan_graph().invoke({"topic": "t", "parts": []})["final"] == "T-0+T-1"
    assert word_count.invoke({"text": "a b"}) == 2
