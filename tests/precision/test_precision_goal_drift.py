"""Extra pattern: the budget constraint carried as data through every handoff (not dropped on a fallback).

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``goal_drift`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "goal_drift"
CHECKER = "goal_drift"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_booking(chaos):
    run = chaos.run(system.{entry}, "Lisbon")
    out = run.output
    assert out["status"] in {"booked", "failed"}
    if out["status"] == "booked":
        assert out["price"] <= 10000
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
