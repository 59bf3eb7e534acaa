"""Pattern 2: an explicit partial result when a concurrent researcher fails.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``silent_partial_failure`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "partial"
CHECKER = "silent_partial_failure"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_research(chaos):
    run = chaos.run(system.{entry}, "heat pumps")
    out = run.output
    assert out["status"] in {"ok", "partial"}
    if out["status"] == "ok":
        assert out["answer"].count(" says ") == 2
    else:
        assert out["partial"] is True and out["missing"]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
