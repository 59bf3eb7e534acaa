"""A second opinion acted on when a dependency answers plausibly and wrongly.

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3 under every tool fault
plus the plausible-but-wrong effects (at most two faults: three unanimous answers then
always include a true one); the buggy twin fails and ``phantom_completion`` names the
failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "second_opinion"
CHECKER = "phantom_completion"
TEST = """
import pytest
import {system} as system

WRONG = ["tool.stale_result", "tool.perturbed_value", "tool.altered_field"]

@pytest.mark.chaos(checks="default", faults=["tool", "worker", *WRONG], max_faults=2)
def test_price(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"done", "needs_review", "failed"}
    if out["status"] == "done":
        assert out["price"] == 108.0
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)


# A stale rate is the same rate here (the service's answer does not change): not a wrong answer.
@pytest.mark.parametrize("kind", ["perturbed_value", "altered_field"])
def test_buggy_twin_is_caught_by_each_wrong_answer_alone(twins, kind: str) -> None:
    twins.test_template = TEST.replace('faults=["tool", "worker", *WRONG]', f'faults=["tool.{kind}"]')
    failure = twins.assert_caught(CHECKER)
    assert kind in " ".join(failure.plan), failure.summary()
