"""Pattern: a checkpoint written after its step took effect, or one written before it ran.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``resume_parity`` names the failure: its restarted run skipped a step the uninterrupted run
makes (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "resume_parity"
CHECKER = "resume_parity"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(faults=["tool", "state.crash_after_checkpoint"], checks="default")
def test_ship(chaos):
    run = chaos.run(system.{entry}, resume=system.resume_{entry})
    assert run.output["status"] in {"shipped", "failed"}
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    failure = twins.assert_caught(CHECKER)
    assert any("crash_after_checkpoint" in line for line in failure.plan), failure.plan
    assert any("missing effects" in line for line in failure.violated), failure.violated
