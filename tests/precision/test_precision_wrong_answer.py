"""A postcondition acted on when a dependency answers plausibly and wrongly (stale, nudged, cut, mixed up).

The correct twin passes ``pytest --chaos`` with seeds 1, 2 and 3 under every tool fault
plus the four plausible-but-wrong effects; the buggy twin fails and ``phantom_completion``
names the failure (see tests/precision/conftest.py).
"""

from __future__ import annotations

import pytest

SYSTEM = "wrong_answer"
CHECKER = "phantom_completion"
TEST = """
import pytest
import {system} as system

WRONG = ["tool.stale_result", "tool.perturbed_value", "tool.dropped_item", "tool.altered_field"]

@pytest.mark.chaos(checks="default", faults=["tool", "worker", *WRONG])
def test_invoice(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"done", "failed"}
    if out["status"] == "done":
        assert out["total"] == 65
        assert out["lines"] == [10, 20, 30, 5]
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)


@pytest.mark.parametrize("kind", ["stale_result", "perturbed_value", "dropped_item", "altered_field"])
def test_buggy_twin_is_caught_by_each_wrong_answer_alone(twins, kind: str) -> None:
    twins.test_template = TEST.replace('faults=["tool", "worker", *WRONG]', f'faults=["tool.{kind}"]')
    failure = twins.assert_caught(CHECKER)
    assert kind in " ".join(failure.plan), failure.summary()
