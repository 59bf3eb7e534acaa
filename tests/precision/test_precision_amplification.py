"""Retries at one layer, instead of an agent retrying a sub-agent that retries its tool.

The correct twin passes ``pytest --chaos`` (with outages) with seeds 1, 2 and 3; the buggy
twin fails and ``retry_amplification`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "amplification"
CHECKER = "retry_amplification"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks=["default", "retry_amplification"], outages=True)
def test_page(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "degraded"}
    if out["status"] == "ok":
        assert out["page"] == "all about tides"
    else:
        assert out["errors"]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
