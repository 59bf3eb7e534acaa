"""Pattern 12: a context budget with compaction, instead of a context that grows past the budget.

The system records its model calls with ``harness.llm_call(model=..., messages=...,
reply=...)``: the public recorder for an LLM call made without the openai SDK, so that
``context_budget`` sees prompts built and sent by the system's own client.
"""

from __future__ import annotations

import pytest

SYSTEM = "context_budget"
CHECKER = "context_budget"
TEST = """
import pytest
import {system} as system

@pytest.mark.chaos(checks="default")
def test_summaries(chaos):
    run = chaos.run(system.{entry})
    out = run.output
    assert out["status"] in {"ok", "partial"}
    if out["status"] == "ok":
        assert len(out["summaries"]) == 3
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_twin_passes(twins, seed: int) -> None:
    twins.assert_passes(seed)


def test_buggy_twin_fails_for_the_right_reason(twins) -> None:
    twins.assert_caught(CHECKER)
