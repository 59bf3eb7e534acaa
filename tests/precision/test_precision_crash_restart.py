"""Pattern: a step redone after a crash and restart, with the step's idempotency key or without.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``redone_side_effect`` names the failure (see tests/precision/conftest.py). Crash-restart
kill points are drawn because the test declares how the system restarts (``resume=``).
"""

from __future__ import annotations

import pytest

SYSTEM = "crash_restart"
CHECKER = "redone_side_effect"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(faults=["tool", "state.crash_after_checkpoint"], checks="default")
def test_checkout(chaos):
    run = chaos.run(system.{entry}, resume=system.resume_{entry})
    assert run.output["status"] in {"done", "partial", "failed"}
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    failure = twins.assert_caught(CHECKER)
    points = ("crash_after_effect", "crash_mid_call")
    assert any(point in line for line in failure.plan for point in points), failure.plan
