"""tracking, briefing, invoicing: each naive bug under the one fault that shows it, and the hardened fix.

Replayed offline from the cassettes recorded under the same fault plan (``scenarios.FAULTS``).
The services' own records (the carrier's requests) say what happened, not the system.
"""

from __future__ import annotations

import itertools
from typing import Any

from harness import Run, run_checks
from scenarios import find_reference, run_reference
from scenarios.invoicing import expected_total

CHECKERS = ["default", "circuit_breaker", "retry_amplification", "bulkhead"]


def _run(name: str) -> tuple[Run, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def inspect(services: dict[str, Any]) -> None:
        for key, service in services.items():
            seen[key] = list(getattr(service, "requests", []))

    return run_reference(find_reference(name), inspect=inspect), seen


def _violated(run: Run) -> set[str]:
    return {v.checker for v in run_checks(run.log, CHECKERS, output=run.output)}


def _tool_calls(run: Run, name: str) -> list[Any]:
    return [e for e in run.log if e.kind == "tool_call" and e.name == name]


# -- tracking: the carrier's API is down ---------------------------------------------------------
def test_tracking_on_a_normal_day_tracks_every_parcel_with_one_call_each() -> None:
    for variant in ("naive", "hardened"):
        run, seen = _run(f"tracking_{variant}")
        assert run.output.status == "ok"
        assert [p.parcel for p in run.output.parcels] == ["PX-1001", "PX-1002", "PX-1003"]
        assert seen["carrier"] == ["PX-1001", "PX-1002", "PX-1003"]
        assert _violated(run) == set()


def test_tracking_naive_hammers_a_carrier_that_is_down_36_times() -> None:
    run, _ = _run("tracking_naive_carrier_down")
    assert run.output.status == "degraded"  # honest about it ...
    assert run.output.unavailable == ["PX-1001", "PX-1002", "PX-1003"]
    calls = _tool_calls(run, "track_parcel")
    assert len(calls) == 3 * 3 * 4  # ... but 3 parcels x 3 tracker runs x 4 immediate attempts
    assert all(c.status == "error" for c in calls)
    assert len({c.t for c in calls}) == 1  # all in the same virtual instant: no backoff anywhere
    assert _violated(run) == {"circuit_breaker", "retry_amplification"}


def test_tracking_hardened_backs_off_opens_its_breaker_and_reports_the_carrier_unavailable() -> None:
    run, _ = _run("tracking_hardened_carrier_down")
    out = run.output
    assert out.status == "degraded"
    assert out.unavailable == ["PX-1001", "PX-1002", "PX-1003"]
    assert "unavailable" in out.reply
    assert any("breaker is open" in e for e in out.errors)
    calls = _tool_calls(run, "track_parcel")
    assert [c.args["parcel"] for c in calls] == ["PX-1001"] * 3  # then the breaker is open
    starts = [c.t - c.latency for c in calls]
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [1.0, 2.0]  # backoff
    assert _violated(run) == set()


# -- briefing: the first reservation balloons 4x -------------------------------------------------
def _uses(run: Run, op: str) -> list[Any]:
    return [e for e in run.log if e.kind == "budget" and e.op == op]


def test_briefing_naive_lets_the_ballooning_desk_starve_another() -> None:
    run, _ = _run("briefing_naive_balloon")
    out = run.output
    assert out.status == "degraded" and "calendar" in out.incomplete
    denied = {e.branch for e in _uses(run, "deny")}
    assert "calendar" in denied  # calendar asked for less than its share and got nothing
    assert max(e.held for e in _uses(run, "acquire") if e.branch == "markets") > 1000 / 3
    assert _violated(run) == {"bulkhead"}


def test_briefing_hardened_keeps_the_balloon_inside_its_own_quota() -> None:
    run, _ = _run("briefing_hardened_balloon")
    out = run.output
    assert out.status == "degraded" and out.incomplete == ["markets"]
    covered = {s.desk: (s.covered, s.planned) for s in out.sections}
    assert covered["news"] == (4, 4) and covered["calendar"] == (2, 2)
    assert {e.budget for e in _uses(run, "deny")} == {"llm_tokens:markets"}
    assert _violated(run) == set()


def test_briefing_on_a_normal_day_covers_everything_in_both_variants() -> None:
    for variant in ("naive", "hardened"):
        run, _ = _run(f"briefing_{variant}")
        assert run.output.status == "ok" and run.output.incomplete == []
        assert _uses(run, "deny") == []


# -- invoicing: the second read serves the first order's answer ----------------------------------
def test_invoicing_naive_invoices_one_order_at_another_orders_total() -> None:
    run, _ = _run("invoicing_naive_stale_order")
    out = run.output
    assert out.status == "done"
    second = out.orders[1]
    assert second.order_id == "ord-1002" and second.status == "done"
    assert second.total_cents == expected_total("ord-1001") != expected_total("ord-1002")
    post = [e for e in run.log if e.kind == "postcondition"]
    assert [(p.name, p.holds) for p in post] == [
        ("invoice matches order ord-1001", True),
        ("invoice matches order ord-1002", False),  # checked, and ignored
    ]
    assert _violated(run) == {"phantom_completion"}


def test_invoicing_hardened_discards_the_wrong_answer_and_runs_the_invoicer_again() -> None:
    run, seen = _run("invoicing_hardened_stale_order")
    out = run.output
    assert out.status == "done"
    assert [o.total_cents for o in out.orders] == [expected_total("ord-1001"), expected_total("ord-1002")]
    assert seen["orders"] == ["ord-1001", "ord-1002", "ord-1002"]  # read again after the check failed
    post = [(e.name, e.holds) for e in run.log if e.kind == "postcondition"]
    assert post[-2:] == [("invoice matches order ord-1002", False), ("invoice matches order ord-1002", True)]
    assert _violated(run) == set()
