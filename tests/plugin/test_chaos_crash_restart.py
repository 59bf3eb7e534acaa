"""Crash and restart through pytest itself: what is drawn, when, and split brain after a resume."""

from __future__ import annotations

import json

import pytest

# A supervisor gives the orchestrator a lease of LEASE seconds on the job; when the lease runs
# out it presumes the orchestrator dead and starts a second one that resumes the job from its
# durable progress, with a higher fencing token. If the first was only slow, two orchestrators
# now work on the same run: split brain, unless the store rejects the stale token.
SPLIT_BRAIN = """
import asyncio
from pathlib import Path

import pytest

from harness import StaleFencingToken, StateStore, agent, run_dir, spawn, tool

LEASE = 5


@tool("prepare", timeout=60)
async def prepare(job):
    return {"job": job}


async def orchestrator(store, name, token):
    async with agent(name):
        done = (await store.aread("progress")).value or []
        if "prepare" not in done:
            await prepare("job-1")
            try:
                await store.awrite("progress", [*done, "prepare"], fencing_token=token)
            except StaleFencingToken:
                return "fenced"  # the job passed on to another orchestrator: step down
        return "done"


async def job(fencing):
    store = StateStore("job", fencing=fencing, path=Path(run_dir()) / "job.db")
    try:
        async with agent("supervisor"):
            first = spawn(orchestrator(store, "orchestrator-1", 1), name="orchestrator-1")
            finished, _ = await asyncio.wait({first}, timeout=LEASE)
            tasks = [first]
            if not finished:  # the lease ran out: resume the job with a second orchestrator
                tasks.append(spawn(orchestrator(store, "orchestrator-2", 2), name="orchestrator-2"))
            results = await asyncio.gather(*tasks, return_exceptions=True)
            return {"status": "ok", "orchestrators": [str(r) for r in results]}
    finally:
        store.close()


@pytest.mark.chaos(faults=["tool.latency"], checks="default")
@pytest.mark.parametrize("fencing", ["naive", "enforce"])
def test_job(chaos, fencing):
    chaos.run(job, fencing)
"""


def test_a_second_orchestrator_resuming_a_slow_ones_run_is_split_brain(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_job=SPLIT_BRAIN)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-v",
        "--chaos",
        "--chaos-examples=30",
        "--chaos-seed=1",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_job?naive? FAILED*",
            "*test_job?enforce? PASSED*",
            "*stale_fencing_token*orchestrator-1*lower token 1*",
        ]
    )


# A checkpointed job that charges once; it breaks under any crash it is not restarted from.
CHECKPOINTED = """
from pathlib import Path

import pytest

from harness import StateStore, agent, run_dir, tool
from harness.events import FaultInjected


@tool("charge", side_effect=True, timeout=30)
def charge(order, *, idempotency_key=None):
    return "ch-1"


def start(order):
    store = StateStore("steps", path=Path(run_dir()) / "steps.db")
    try:
        with agent("orchestrator"):
            if store.read("charge").value is None:
                try:
                    charged = charge(order, idempotency_key=f"{order}/charge")
                except Exception:
                    return {"order": order, "status": "failed"}
                store.write("charge", charged)
            return {"order": order, "status": "ok", "charge": store.read("charge").value}
    finally:
        store.close()


def seen(name, run):
    with open(f"seen_{name}.txt", "a") as out:
        for event in run.log.of(FaultInjected):
            out.write(event.effect + "\\n")


@pytest.mark.chaos(faults=["tool", "state.crash_after_checkpoint"], checks="default")
def test_with_resume(chaos):
    run = chaos.run(start, "o-1", resume=start)
    seen("with", run)
    assert run.output["status"] in {"ok", "failed"}


@pytest.mark.chaos(faults=["tool"], checks="default")
def test_without_resume(chaos):
    run = chaos.run(start, "o-1")
    seen("without", run)
"""


def test_kill_points_are_drawn_only_for_a_test_that_declares_how_its_system_restarts(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_steps=CHECKPOINTED)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:randomly", "--chaos", "--chaos-examples=60", "--chaos-seed=2"
    )
    # A keyed, checkpointed job survives every crash; the one without resume never sees one.
    result.assert_outcomes(passed=2)
    drawn_with = (pytester.path / "seen_with.txt").read_text().split()
    drawn_without = (pytester.path / "seen_without.txt").read_text().split()
    assert {e for e in drawn_with if e.startswith("crash_")} >= {
        "crash_after_effect",
        "crash_after_checkpoint",
    }
    assert drawn_without and not [e for e in drawn_without if e.startswith("crash_")]


def test_a_kill_point_named_without_resume_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_steps=CHECKPOINTED.replace(
            'faults=["tool"], checks="default")\ndef test_without',
            'faults=["tool.crash_after_effect"])\ndef test_without',
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--chaos", "--chaos-examples=5", "-k", "without")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*'tool.crash_after_effect' crash-stops the system*resume=resume_fn*"])


def test_a_crash_plan_replayed_alone_restarts_the_system_from_its_durable_store(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_steps=CHECKPOINTED.replace('"o-1/charge"', "None").replace('f"{order}/charge"', "None")
    )
    plan = {
        "faults": [
            {"site": "state", "target": "steps", "call": 1, "effect": {"kind": "crash_after_checkpoint"}}
        ]
    }
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-k",
        "with_resume",
        f"--chaos-plan={json.dumps(plan)}",
        "--chaos-report=out",
    )
    result.assert_outcomes(passed=1)  # the checkpoint was durable: the restarted job does not charge again
    assert (pytester.path / "seen_with.txt").read_text().split() == ["crash_after_checkpoint"]
