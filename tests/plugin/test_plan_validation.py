"""No silent no-ops: a plan that hits nothing, an unknown kind, a fault that never fired."""

from __future__ import annotations

import json

import pytest

from harness import agent, run_system, tool
from harness._report import render_report, row_from_log, write_report

SYSTEM = """
import pytest
from harness import agent, tool


@tool("charge", side_effect=True)
def charge(cents):
    return "paid"


def checkout(cents):
    with agent("checkout"):
        return {"status": charge(cents)}


def test_checkout(chaos):
    assert chaos.run(checkout, 100).output["status"] in {"paid", "failed"}


@pytest.mark.chaos(faults=["tool.explode"])
def test_unknown_kind(chaos):
    chaos.run(checkout, 100)
"""


def _plan(target: str, call: int = 1) -> str:
    fault = {"site": "tool", "target": target, "call": call, "effect": {"kind": "error"}}
    return json.dumps({"faults": [fault]})


def test_a_plan_aimed_at_a_misspelled_tool_is_an_error_naming_the_real_ones(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_shop=SYSTEM)
    result = pytester.runpytest(
        "-p", "no:randomly", "-k", "test_checkout", f"--chaos-plan={_plan('chargee')}"
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "1 fault(s) never fired" in out
    assert "no tool named 'chargee' appeared in the run" in out
    assert "Did you mean 'charge'?" in out and "tool sites that did: charge" in out


def test_a_plan_whose_call_never_comes_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shop=SYSTEM)
    result = pytester.runpytest(
        "-p", "no:randomly", "-k", "test_checkout", f"--chaos-plan={_plan('charge', 3)}"
    )
    result.assert_outcomes(failed=1)
    assert "reached tool[charge] 1 time(s); the fault selects call 3, which never came" in result.stdout.str()


def test_a_plan_that_fires_runs_normally(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shop=SYSTEM)
    result = pytester.runpytest("-p", "no:randomly", "-k", "test_checkout", f"--chaos-plan={_plan('charge')}")
    result.assert_outcomes(failed=1)  # the injected error propagates: the test fails on it, not on the plan
    assert "ConnectionError: injected fault" in result.stdout.str()
    assert "never fired" not in result.stdout.str()


def test_an_unknown_kind_in_a_marker_is_a_usage_error_under_plain_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shop=SYSTEM)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    out = result.stdout.str()
    assert "unknown fault kind 'tool.explode'" in out and "Did you mean 'tool.error'?" in out


@tool("lookup")
def lookup(q: str) -> str:
    return q


def test_the_report_flags_planned_faults_that_never_fired(tmp_path: pytest.TempPathFactory) -> None:
    def system() -> str:
        with agent("reader"):
            return lookup("x")

    run = run_system(system)
    plan = {"faults": [{"site": "tool", "target": "lookup", "call": 2, "effect": {"kind": "error"}}]}
    row = row_from_log(run.log, test="t.py::test_reader", plan=plan, mode="chaos")
    assert row.faults_planned == 1 and row.faults_injected == 0 and row.faults_unfired == 1
    out = tmp_path / "rep"  # type: ignore[operator]
    write_report(out, [row])
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "1 run(s) had planned faults that never fired" in summary
    assert render_report(out).is_file()
