"""Pattern 6: a timeout on each sub-agent and the gap disclosed, instead of a swallowed timeout.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``silent_partial_failure`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "timeouts"
CHECKER = "silent_partial_failure"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_offers(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "partial"}
    if out["status"] == "ok":
        assert out["answer"].count("offers") == 2
    else:
        assert out["timed_out"] or out["failed"]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
