"""Pattern 8: fencing tokens enforced by the store, instead of a stale leader's write accepted.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``stale_fencing_token`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "fencing"
CHECKER = "stale_fencing_token"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_leases(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "degraded"}
    for outcome in out["leaders"].values():
        assert outcome in {"wrote", "fenced"} or outcome.startswith("failed")
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
