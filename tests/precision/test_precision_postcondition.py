"""Pattern 11: a postcondition re-checked and acted on, instead of a phantom completion.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``phantom_completion`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "postcondition"
CHECKER = "phantom_completion"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_invoice_total(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"done", "failed"}
    if out["status"] == "done":
        assert out["total"] == 60
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
