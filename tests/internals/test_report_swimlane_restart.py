"""A crashed and restarted run in the report: the swimlane and the OpenTelemetry export mark the crash."""

from __future__ import annotations

import faults
import harness._report._plots as plots
from harness import StateStore, agent, run_dir, run_system, tool


@tool("charge", side_effect=True)
def charge(order: str) -> str:
    return "ch-1"


def start(order: str) -> dict[str, str]:
    from pathlib import Path

    store = StateStore("steps", path=Path(run_dir()) / "steps.db")
    try:
        with agent("orchestrator"):
            if store.read("charge").value is None:
                store.write("charge", charge(order))
            return {"charge": store.read("charge").value}
    finally:
        store.close()


def test_the_swimlane_draws_the_restart_with_its_kill_point_and_incarnation() -> None:
    crash = {"site": "tool", "target": "charge", "call": 1, "effect": {"kind": "crash_after_effect"}}
    plan = faults.FaultPlan.model_validate({"faults": [crash]})
    run = run_system(start, ("o-1",), hooks=plan.hooks(), resume=start)
    assert run.restarts == 1
    svg = plots.swimlane_svg(run.log, [], "crash after charge")
    assert "crash (after_effect) → restart, incarnation 1" in svg
    assert "crashed" in svg  # the crashed incarnation's open orchestrator scope ends at the restart
    plain = plots.swimlane_svg(run_system(start, ("o-1",)).log, [], "no crash")
    assert "restart, incarnation" not in plain


def test_the_otel_export_ends_the_crashed_agents_at_the_restart_and_marks_it() -> None:
    from harness._report._otel import spans_for

    crash = {"site": "tool", "target": "charge", "call": 1, "effect": {"kind": "crash_after_effect"}}
    run = run_system(
        start, ("o-1",), hooks=faults.FaultPlan.model_validate({"faults": [crash]}).hooks(), resume=start
    )
    spans = spans_for([run.log])
    agents = [s for s in spans if s.name == "invoke_agent orchestrator"]
    assert sorted(str(s.attributes.get("brownout.agent.status")) for s in agents) == ["None", "crashed"]
    root = next(s for s in spans if s.name.startswith("invoke_workflow"))
    restart = next(e for e in root.events if e.name == "brownout.restart")
    assert restart.attributes["brownout.restart.point"] == "after_effect"
    assert restart.attributes["brownout.restart.incarnation"] == 1
