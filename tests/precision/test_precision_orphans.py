"""Extra pattern: join every spawned task before answering, instead of orphaned work.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``orphaned_work`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "orphans"
CHECKER = "orphaned_work"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_answer(chaos):
    run = chaos.run(system.{entry}, "meaning of life")
    out = run.output
    assert out["status"] in {"ok", "failed"}
    assert len(system.AUDIT) <= 1
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
