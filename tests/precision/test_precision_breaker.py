"""Pattern 5: a circuit breaker that opens and reports degraded, instead of calling on and reporting ok.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``unhandled_tool_failure`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "breaker"
CHECKER = "unhandled_tool_failure"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks=["default", "unhandled_tool_failure"])
def test_quotes(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "degraded"}
    if out["status"] == "ok":
        assert len(out["quotes"]) == 4
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
