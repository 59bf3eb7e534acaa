"""``pytest --chaos`` end to end: exploration, minimal plans, replay, determinism, xdist."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

SYSTEM = '''
import asyncio
import json
import os
from pathlib import Path

import pytest

from harness import WorkerKilled, agent, tool

SENT = []


@tool("lookup")
async def lookup(q):
    return f"data:{q}"


@tool("send_email", side_effect=True)
async def send_email(to, *, idempotency_key=None):
    SENT.append((to, idempotency_key))
    return "queued"


async def fragile(to):
    """Handles every failure, but retries a timed-out send without an idempotency key."""
    async with agent("mailer"):
        for q in ("a", "b"):
            try:
                await asyncio.wait_for(lookup(q), 30)
            except Exception:
                pass
        for _ in range(3):
            try:
                return await asyncio.wait_for(send_email(to), 30)
            except Exception:
                continue
        return "gave up"


async def robust(to):
    """Same flow, but every send carries the same idempotency key, and a supervisor bounds it."""
    try:
        return await asyncio.wait_for(_robust(to), 300)
    except TimeoutError:
        return "timed out"
    except WorkerKilled:  # the supervisor sees its worker crash and reports it
        return "worker crashed"


async def _robust(to):
    async with agent("mailer"):
        for q in ("a", "b"):
            try:
                await asyncio.wait_for(lookup(q), 30)
            except Exception:
                pass
        for _ in range(3):
            try:
                return await asyncio.wait_for(send_email(to, idempotency_key="order-1"), 30)
            except Exception:
                continue
        return "gave up"


def delivered():
    # The mail service de-duplicates by idempotency key, as a real one does.
    keys = [k for _, k in SENT]
    return len({k for k in keys if k}) + sum(1 for k in keys if not k)


def note(name, text):
    with open(name, "a", encoding="utf-8") as fh:
        fh.write(text + "\\n")
'''


@pytest.fixture
def system(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(toy_system=SYSTEM)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


FRAGILE_TEST = """
import pytest
from toy_system import SENT, delivered, fragile, note

@pytest.mark.chaos(faults=["tool"], checks="none")
def test_fragile(chaos):
    SENT.clear()
    chaos.run(fragile, "a@b")
    note("plans.txt", str(chaos.plan))
    assert delivered() <= 1, f"email delivered {delivered()} times"
"""


def _part(output: str, test: str) -> str:
    """The failure section of ``test`` in pytest's output, in whatever order the tests ran."""
    start = output.index(f"_ {test} _")
    following = [output.find(f"_ {name} _", start + 1) for name in ("test_fragile", "test_checked")]
    ends = [i for i in following if i > start]
    summary = output.find("short test summary info", start)
    return output[start : min([*ends, summary if summary > 0 else len(output)])]


def _reproduce_line(output: str) -> list[str]:
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("reproduce: pytest")]
    assert lines, output
    return shlex.split(lines[0].removeprefix("reproduce: "))


CHECKED_TEST = """
import pytest
from toy_system import SENT, fragile

@pytest.mark.chaos(faults=["tool.slow_then_succeed"], checks=["duplicate_side_effects"])
def test_checked(chaos):
    SENT.clear()
    chaos.run(fragile, "a@b")  # no assertion of its own: the checker finds the duplicate
"""


def test_fragile_system_fails_with_a_minimal_plan_and_a_command_that_reproduces_it(
    system: pytest.Pytester,
) -> None:
    system.makepyfile(test_fragile=FRAGILE_TEST, test_checked=CHECKED_TEST)
    result = system.runpytest("--chaos", "--chaos-seed=1", "--chaos-examples=60")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    fragile_part = _part(out, "test_fragile")
    # The smallest plan: one fault, the slow email whose reply came after the caller gave up.
    assert "smallest failing fault plan (1 fault):" in fragile_part
    assert "1. tool[send_email]#1: slow_then_succeed(40s)" in fragile_part
    assert "email delivered 2 times" in fragile_part
    assert re.search(r"run log: .*\.jsonl", fragile_part)
    command = _reproduce_line(fragile_part)
    assert command[:2] == ["pytest", "test_fragile.py::test_fragile"]
    plan_arg = command[2]
    assert plan_arg.startswith("--chaos-plan=")
    plan = json.loads(plan_arg.removeprefix("--chaos-plan="))
    assert plan == {
        "faults": [
            {"site": "tool", "target": "send_email", "call": 1, "effect": {"kind": "slow_then_succeed"}}
        ]
    }
    # The checkers are part of the property: a test with no assertion fails on the violation.
    checked_part = _part(out, "test_checked")
    assert "ViolationsFound" in checked_part and "duplicate_side_effects" in checked_part
    assert "1. tool[send_email]#1: slow_then_succeed(40s)" in checked_part

    # The printed command replays exactly that plan, once, and fails the same way.
    Path(system.path, "plans.txt").unlink()
    again = system.runpytest(*command[1:])
    again.assert_outcomes(failed=1)
    assert "email delivered 2 times" in again.stdout.str()
    assert Path(system.path, "plans.txt").read_text().splitlines() == [
        "tool[send_email]#1: slow_then_succeed(40s)"
    ]


def test_robust_twin_passes_200_examples(system: pytest.Pytester) -> None:
    system.makepyfile(
        test_robust="""
import pytest
from toy_system import SENT, delivered, robust, note

@pytest.mark.chaos(faults=["tool", "worker"], checks="none", examples=200)
def test_robust(chaos):
    SENT.clear()
    chaos.run(robust, "a@b")
    note("plans.txt", str(chaos.plan))
    assert delivered() <= 1
"""
    )
    result = system.runpytest("--chaos", "--chaos-seed=2")
    result.assert_outcomes(passed=1)
    plans = Path(system.path, "plans.txt").read_text().splitlines()
    assert plans[0] == "None"  # the baseline
    explored = plans[1:]
    assert len(explored) == 200
    assert len(set(explored)) > 100  # many different plans, not one repeated
    assert any("send_email" in p and "slow_then_succeed" in p for p in explored)
    # mailer is the run's root agent: never killed or hung unless the marker asks (worker_root=True).
    assert not any("worker[mailer]" in p for p in explored)


def test_marker_kinds_restrict_and_validate_the_faults_drawn(system: pytest.Pytester) -> None:
    system.makepyfile(
        test_kinds="""
import json
import pytest
from toy_system import SENT, robust, note

@pytest.mark.chaos(faults=["tool.error", "worker.kill"], checks="none", max_faults=2, examples=40,
                   worker_root=True)
def test_kinds(chaos):
    SENT.clear()
    chaos.run(robust, "a@b")
    if chaos.plan is not None:
        note("kinds.txt", json.dumps([f.kind for f in chaos.plan.faults]))

@pytest.mark.chaos(faults=["tool.explode"])
def test_bad(chaos):
    chaos.run(robust, "a@b")

@pytest.mark.chaos(faults=["llm"])
def test_none(chaos):
    chaos.run(robust, "a@b")
"""
    )
    result = system.runpytest("--chaos", "--chaos-seed=4")
    result.assert_outcomes(passed=2, errors=1, warnings=1)
    drawn = [json.loads(line) for line in Path(system.path, "kinds.txt").read_text().splitlines()]
    assert len(drawn) == 40
    assert all(1 <= len(kinds) <= 2 for kinds in drawn)
    assert {k for kinds in drawn for k in kinds} == {"tool.error", "worker.kill"}
    out = result.stdout.str()
    # An unknown kind is a usage error with what was given, the closest kind and the rule.
    assert "unknown fault kind 'tool.explode'" in out and "Did you mean 'tool.error'?" in out
    # A system with no site for the chosen kinds: a warning, not a silent pass.
    assert "ChaosWarning" in out and "Nothing to explore" in out


def test_failures_are_kept_in_the_example_database_and_tried_first(system: pytest.Pytester) -> None:
    system.makepyfile(test_fragile=FRAGILE_TEST)
    # In a subprocess, so that the example database is the one under the project's directory.
    first = system.runpytest_subprocess("--chaos", "--chaos-examples=100")
    first.assert_outcomes(failed=1)
    assert Path(system.path, ".hypothesis", "examples").is_dir()
    Path(system.path, "plans.txt").unlink()
    second = system.runpytest_subprocess("--chaos", "--chaos-examples=100")
    second.assert_outcomes(failed=1)
    plans = Path(system.path, "plans.txt").read_text().splitlines()
    # Right after the baseline, the saved minimal failure is replayed.
    assert plans[0] == "None"
    assert plans[1] == "tool[send_email]#1: slow_then_succeed(40s)"


DETERMINISM_TEST = """
import json
import os
import pytest
from toy_system import SENT, robust, fragile, note

@pytest.mark.chaos(faults=["tool", "worker"], checks="none", examples=25)
def test_a(chaos):
    SENT.clear()
    run = chaos.run(robust, "a@b")
    note(os.environ["LOG_OUT"] + "-a", json.dumps(run.log.without_run_id(), sort_keys=True))

@pytest.mark.chaos(faults=["tool"], checks="none", examples=25)
def test_b(chaos):
    SENT.clear()
    run = chaos.run(robust, "b@c")
    note(os.environ["LOG_OUT"] + "-b", json.dumps(run.log.without_run_id(), sort_keys=True))
"""


def test_same_seed_same_plans_identical_logs_also_with_xdist(
    system: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    system.makepyfile(test_det=DETERMINISM_TEST)
    outputs = {}
    for label in ("one", "xdist"):
        monkeypatch.setenv("LOG_OUT", str(system.path / label))
        if label == "one":
            result = system.runpytest("--chaos", "--chaos-seed=11")
        else:
            result = system.runpytest_subprocess("--chaos", "--chaos-seed=11", "-n", "2")
        result.assert_outcomes(passed=2)
        outputs[label] = {t: (system.path / f"{label}-{t}").read_text() for t in ("a", "b")}
    # Three processes (this one, then two xdist workers), the same seed: the same plans in the
    # same order, and run logs identical apart from their run ids.
    assert outputs["one"] == outputs["xdist"]
    runs = outputs["one"]["a"].splitlines()
    assert len(runs) == 26  # the baseline and 25 plans
    assert len(set(runs)) > 10  # different plans gave different histories
