"""Pattern 10: a deadline on every Channel receive, instead of two agents waiting on each other forever.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``liveness`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "channel_deadline"
CHECKER = "liveness"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_job(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "failed"}
    if out["status"] == "ok":
        assert out["answer"] == 42
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
