"""A circuit breaker that opens after repeated failures, instead of calling a dead service for every item.

The correct twin passes ``pytest --chaos`` (with outages) with seeds 1, 2 and 3; the buggy
twin fails and ``circuit_breaker`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "circuit"
CHECKER = "circuit_breaker"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks=["default", "circuit_breaker"], outages=True)
def test_quotes(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "degraded"}
    if out["status"] == "ok":
        assert len(out["quotes"]) == 6
    else:
        assert out["failed"]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
