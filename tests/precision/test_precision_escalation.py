"""Pattern 3: escalation and a dead letter (status needs_review) instead of a swallowed error.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``unhandled_tool_failure`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "escalation"
CHECKER = "unhandled_tool_failure"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks=["default", "unhandled_tool_failure"])
def test_claim(chaos):
    run = chaos.run(system.{entry}, "c-7", 1200)
    out = run.output
    assert out["status"] in {"ok", "needs_review"}
    assert len(system.LEDGER) <= 1  # a claim is filed at most once
    if out["status"] == "ok":
        assert system.LEDGER == [("claim", "c-7", 1200)]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
