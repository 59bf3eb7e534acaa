"""Pattern 9: saga compensation instead of a failed checkout that keeps the reservation and the money.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``saga_compensation`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "saga"
CHECKER = "saga_compensation"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_checkout(chaos):
    run = chaos.run(system.{entry}, "o-1", "A1", 1200)
    out = run.output
    assert out["status"] in {"paid", "rolled_back", "failed"}
    if out["status"] == "paid":
        assert "o-1" in system.RESERVED and "o-1" in system.CHARGED
    if out["status"] == "rolled_back":
        assert not system.RESERVED and not system.CHARGED
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
