"""Bulkheads: one budget per branch, instead of one shared budget that a runaway branch drains.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``bulkhead`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "bulkhead"
CHECKER = "bulkhead"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks=["default", "bulkhead"])
def test_branches(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "degraded"}
    if out["status"] == "ok":
        assert all(len(part) == 3 for part in out["parts"].values())
    else:
        assert out["incomplete"]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
