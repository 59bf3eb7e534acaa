"""The swimlane of a run that crashed and restarted marks the crash and ends the dead incarnation there."""

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
