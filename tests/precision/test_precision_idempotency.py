"""Pattern 4: bounded retries with one idempotency key instead of retries without a key.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``duplicate_side_effects`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "idempotency"
CHECKER = "duplicate_side_effects"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_welcome_email(chaos):
    run = chaos.run(system.{entry}, "ada@example.com")
    out = run.output
    assert out["status"] in {"ok", "needs_review"}
    assert len(system.LEDGER) <= 1  # the email goes out at most once
    if out["status"] == "ok":
        assert len(system.LEDGER) == 1
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
