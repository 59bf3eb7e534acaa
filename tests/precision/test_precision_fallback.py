"""Pattern 1: a fallback value (cached price) instead of a swallowed error with a made-up default.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``unhandled_tool_failure`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "fallback"
CHECKER = "unhandled_tool_failure"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks=["default", "unhandled_tool_failure"])
def test_price(chaos):
    run = chaos.run(system.{entry}, "sku-1")
    assert run.output["status"] == "ok"
    assert run.output["price"] > 0
    assert run.output["source"] in {"live", "cache"}
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
