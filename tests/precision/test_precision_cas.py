"""Pattern 7: a compare-and-set loop instead of read-modify-write by two concurrent writers.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``lost_update`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "cas"
CHECKER = "lost_update"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_counter(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "degraded"}
    if out["status"] == "ok":
        assert out["counter"] == 2
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
