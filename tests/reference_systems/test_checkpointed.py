"""The checkpointed orchestrator under ``pytest --chaos``: crash, restart, and what the restart did.

End to end through pytest itself (pytester), replayed from ``cassettes/reference``: the naive
variant (checkpoint after the effect, no idempotency key) fails naming ``redone_side_effect``
with a crash in the ambiguous window, shrunk to at most two faults, and its printed reproduce
command fails the same way; the hardened variant (content-derived keys, reconcile on resume)
passes 200 examples under three seeds. The durable store survives the crash inside the run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from harness import run_system
from harness.cassettes import Cassette
from harness.events import ToolCall
from scenarios import cassette_dir, checkpointed

# The faults a user of a checkpointed workflow explores: tool and LLM failures, and the
# crash-restart kill points, which are drawn because the test says how the system restarts.
USER_TEST = """
import pytest
from scenarios import checkpointed

@pytest.mark.chaos(
    cassette={cassette!r},
    faults=["tool", "llm", "state.crash_after_checkpoint"],
    checks="default",
    deadline=3600,
)
def test_fulfil(chaos):
    run = chaos.run(checkpointed.run, variant={variant!r}, resume=checkpointed.resume)
    assert run.output.status in {{"fulfilled", "failed"}}
"""


def _project(pytester: pytest.Pytester, variant: str) -> None:
    cassette = str(cassette_dir() / f"checkpointed_{variant}.json")
    pytester.makepyfile(test_fulfil=USER_TEST.format(cassette=cassette, variant=variant))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")


def _failures(text: str) -> list[tuple[list[str], str, str]]:
    """(plan lines, first violated lines, reproduce command) of every failure the run printed."""
    lines = [re.sub(r"^(E\s)?[\s|]*", "", line).rstrip() for line in text.splitlines()]
    found = []
    for i, line in enumerate(lines):
        if "smallest failing fault plan" not in line:
            continue
        plan = []
        j = i + 1
        while re.match(r"\d+\. ", lines[j]):
            plan.append(lines[j])
            j += 1
        violated = " ".join(lines[j + 1 : j + 4])
        command = next(entry for entry in lines[j:] if entry.startswith("reproduce: "))
        found.append((plan, violated, command.removeprefix("reproduce: ")))
    return found


def test_naive_fails_with_a_crash_in_the_ambiguous_window_and_the_command_reproduces_it(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester, "naive")
    result = pytester.runpytest("--chaos", "--chaos-examples=100", "--chaos-seed=1")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    redone = [f for f in _failures(text) if "redone_side_effect" in f[1]]
    assert redone, text[-3000:]
    plan, violated, command = redone[0]
    assert len(plan) <= 2, plan
    assert any("crash_after_effect" in line for line in plan), plan  # the ambiguous window
    assert "charge_card" in violated or "charge_card" in " ".join(plan)

    # The printed command replays exactly that plan, and fails the same way.
    args = shlex.split(command)
    assert args[0] == "pytest"
    replay = pytester.runpytest(
        *[a for a in args[1:] if not a.startswith("test_fulfil.py")], "test_fulfil.py"
    )
    replay.assert_outcomes(failed=1)
    replay.stdout.fnmatch_lines(["*redone_side_effect*"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hardened_passes_200_examples(pytester: pytest.Pytester, seed: int) -> None:
    _project(pytester, "hardened")
    result = pytester.runpytest("--chaos", "--chaos-examples=200", f"--chaos-seed={seed}")
    result.assert_outcomes(passed=1)


def test_the_durable_store_survives_a_crash_restart_inside_the_run() -> None:
    import faults

    plan = faults.FaultPlan.model_validate(
        {
            "faults": [
                {
                    "site": "tool",
                    "target": "book_shipment",
                    "call": 1,
                    "effect": {"kind": "crash_before_effect"},
                }
            ]
        }
    )
    seen: dict[str, object] = {}

    async def resume(**kwargs: object) -> object:
        # What the restarted system finds in its checkpoint store: the steps before the crash.
        from harness import StateStore, run_dir

        store = StateStore("peek", path=Path(run_dir()) / "checkpoints.db")
        seen.update(store.snapshot()["ord-2042"].value)
        store.close()
        return await checkpointed.resume(**kwargs)  # type: ignore[arg-type]

    cassette = Cassette(cassette_dir() / "checkpointed_hardened.json", record_mode="none", miss="nearest")
    try:
        run = run_system(
            checkpointed.run,
            kwargs={"variant": "hardened"},
            hooks=plan.hooks(),
            cassette=cassette,
            resume=resume,
        )
    finally:
        cassette.close()
    assert run.restarts == 1
    assert set(seen) == {"message", "charge"}  # written by incarnation 0, read after the crash
    assert run.output.status == "fulfilled" and run.output.charge_id == seen["charge"]
    charges = [e for e in run.log.of(ToolCall) if e.name == "charge_card"]
    assert [c.incarnation for c in charges] == [0]  # the charge was not redone
    restart = next(e for e in run.log if e.kind == "restart")
    assert restart.point == "before_effect" and {e.incarnation for e in run.log} == {0, 1}
