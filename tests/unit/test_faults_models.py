"""Fault and FaultPlan: JSON round trip, readable lines, selection, clear errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import faults
from faults import (
    EFFECTS,
    Chance,
    Fault,
    FaultPlan,
    FaultPlanError,
    Kill,
    Latency,
    RateLimit,
    SlowThenSucceed,
    ToolError,
    effect_kinds,
)
from harness import ConfigError


def test_public_names_are_pinned() -> None:
    assert {"Fault", "FaultPlan", "FaultPlanError", "Chance", "SlowThenSucceed", "Kill", "Down"} <= set(
        faults.__all__
    )
    for name in faults.__all__:
        assert hasattr(faults, name), name


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        (
            Fault(site="tool", target="send_email", call=2, effect=SlowThenSucceed()),
            "tool[send_email]#2: slow_then_succeed(40s)",
        ),
        (
            Fault(site="llm", target="planner", effect=RateLimit(retry_after=20)),
            "llm[planner]#1: rate_limit(retry_after=20s)",
        ),
        (Fault(site="worker", call="every", effect=Kill()), "worker[*]#every: kill"),
        (Fault(site="worker", target="w", effect=Kill(after_calls=2)), "worker[w]#1: kill(after 2 calls)"),
        (
            Fault(site="network", target="db", call="every", effect=Latency(seconds=1.5, jitter=0.25)),
            "network[db]#every: latency(1.5s, jitter=0.25s)",
        ),
        (
            Fault(site="tool", call=Chance(p=0.25, seed=7), effect=ToolError(error_type="ValueError")),
            "tool[*]#p=0.25/seed=7: error(ValueError)",
        ),
    ],
)
def test_one_readable_line(fault: Fault, line: str) -> None:
    assert str(fault) == line


def test_plan_round_trips_through_json() -> None:
    plan = FaultPlan(
        faults=(
            Fault(site="tool", target="send_email", call=2, effect=SlowThenSucceed(seconds=45)),
            Fault(site="llm", call=Chance(p=0.5, seed=3), effect=RateLimit(retry_after=None)),
            Fault(site="message", target="tasks", call="every", effect=EFFECTS["duplicate"]()),  # type: ignore[call-arg]
        )
    )
    assert FaultPlan.from_json(plan.model_dump_json()) == plan
    assert FaultPlan.from_json(json.dumps(plan.model_dump(mode="json"))) == plan
    assert FaultPlan.from_json(json.dumps(plan.model_dump(mode="json")["faults"])) == plan  # a bare list
    assert str(plan).count(";") == 2


@settings(max_examples=60, deadline=None)
@given(
    site=st.sampled_from(faults.SITES),
    data=st.data(),
)
def test_every_valid_effect_round_trips(site: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(effect_kinds(site)))
    call = "every" if site == "network" else data.draw(st.integers(1, 9))
    fault = Fault(
        site=site,
        target=data.draw(st.sampled_from([None, "x"])),
        call=call,  # type: ignore[arg-type]
        effect=EFFECTS[kind](),
    )  # type: ignore[call-arg]
    again = FaultPlan.from_json(FaultPlan(faults=(fault,)).model_dump_json())
    assert again.faults == (fault,)
    assert str(again.faults[0]) == str(fault)


def test_selection_by_target_call_every_and_chance() -> None:
    second = Fault(site="tool", target="a", call=2, effect=ToolError())
    assert not second.selects("a", 1, 1)
    assert second.selects("a", 2, 5)
    assert not second.selects("b", 2, 2)
    anyone = Fault(site="tool", call=3, effect=ToolError())
    assert anyone.selects("b", 1, 3)  # without a target the site's own count is used
    assert Fault(site="tool", call="every", effect=ToolError()).selects("z", 9, 9)
    chance = Fault(site="tool", target="a", call=Chance(p=0.5, seed=11), effect=ToolError())
    picks = [chance.selects("a", n, n) for n in range(1, 201)]
    assert picks == [chance.selects("a", n, n) for n in range(1, 201)]  # deterministic
    assert 60 < sum(picks) < 140


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        (
            '{"faults": [{"site": "tool", "effect": {"kind": "rate_limit"}}]}',
            "effect 'rate_limit' does not apply at site 'tool'",
        ),
        ('{"faults": [{"site": "disk", "effect": {"kind": "drop"}}]}', "faults.0.site"),
        (
            '{"faults": [{"site": "tool", "call": 0, "effect": {"kind": "error"}}]}',
            'faults.0.call = 0: must be a call number >= 1, "every"',
        ),
        ('{"faults": [{"site": "tool", "effect": {"kind": "latency", "seconds": -1}}]}', "greater than 0"),
        ('{"faults": [{"site": "tool", "effect": {"kind": "nope"}}]}', "'nope'"),
        (
            '{"faults": [{"site": "network", "target": "db", "call": 1, "effect": {"kind": "down"}}]}',
            "call must be 'every'",
        ),
        (
            '{"faults": [{"site": "tool", "effect": {"kind": "latency", "stream": "upstream"}}]}',
            "apply only at site 'network'",
        ),
        (
            '{"faults": [{"site": "tool", "effect": {"kind": "error"}}, '
            '{"site": "tool", "effect": {"kind": "error"}}]}',
            "appears twice",
        ),
        ('{"faults": [], "extra": 1}', "extra"),
    ],
)
def test_bad_plans_get_clear_errors(text: str, expected: str) -> None:
    with pytest.raises(FaultPlanError) as info:
        FaultPlan.from_json(text)
    assert expected in str(info.value)
    assert isinstance(info.value, ConfigError)  # the plugin turns it into a usage error


def test_effect_kinds_per_site() -> None:
    assert "rate_limit" in effect_kinds("llm") and "rate_limit" not in effect_kinds("tool")
    assert set(effect_kinds("message")) == {"drop", "duplicate", "delay", "reorder"}
    assert set(effect_kinds("state")) == {"corrupt", "stale_read", "lost_write", "crash_after_checkpoint"}
    assert set(effect_kinds("worker")) == {"kill", "hang"}
    assert {
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
        "down",
    } == set(effect_kinds("network"))
    for site in faults.SITES:
        assert effect_kinds(site), site
