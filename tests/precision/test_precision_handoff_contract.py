"""Extra pattern: validate at the handoff boundary, instead of handing on a payload that fails its schema.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3; the buggy twin fails and
``handoff_contract`` names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "handoff_contract"
CHECKER = "handoff_contract"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_article(chaos):
    run = chaos.run(system.{entry}, "heat pumps")
    out = run.output
    assert out["status"] in {"ok", "failed"}
    if out["status"] == "ok":
        assert out["article"] == "An article on heat pumps."
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
