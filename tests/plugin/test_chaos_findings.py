"""What a failing chaos test prints: findings before crashes, and every distinct failure on its own."""

from __future__ import annotations

import re

import pytest

DEADLOCK = """
import asyncio

import pytest

from harness import Channel, agent


async def pair():
    a_to_b, b_to_a = Channel("a_to_b", producer="a"), Channel("b_to_a", producer="b")

    async def a():
        async with agent("a"):
            await b_to_a.receive()
            await a_to_b.send("go")

    async def b():
        async with agent("b"):
            await a_to_b.receive()
            await b_to_a.send("go")

    async with agent("orchestrator"):
        await asyncio.gather(a(), b())
        return "done"


@pytest.mark.chaos(deadline=60)
def test_pair(chaos):
    chaos.run(pair)
"""


def test_a_run_that_violated_a_checker_and_crashed_leads_with_the_finding(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_deadlock=DEADLOCK)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    error_lines = [line for line in out.splitlines() if line.startswith("E ")]
    assert error_lines, out
    # The first E line is the finding, not the crash.
    assert "ViolationsFound" in error_lines[0], error_lines[:3]
    text = "\n".join(error_lines)
    assert "[liveness, critical]" in text
    assert text.index("[liveness") < text.index("CancelledError")  # the crash comes after, as context


TWO_BUGS = """
import pytest

from harness import agent, tool

SENT = []


@tool("send_email", side_effect=True)
async def send_email(to, *, idempotency_key=None):
    SENT.append(to)
    return "queued"


@tool("lookup")
async def lookup(q):
    return f"facts about {q}"


async def newsletter(to):
    async with agent("mailer"):
        try:
            await send_email(to)
        except TimeoutError:
            await send_email(to)  # bug 1: a retry without an idempotency key (a lost ack sends twice)
        try:
            facts = await lookup("news")
        except Exception as exc:
            facts = str(exc)  # bug 2: the error text becomes the content
        return {"status": "sent", "content": facts}


@pytest.mark.chaos(faults=["tool.lost_ack", "tool.timeout"], max_faults=2)
def test_newsletter(chaos):
    chaos.run(newsletter, "ada@example.com")
"""


def test_one_exploration_reports_every_distinct_failure_each_shrunk(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two=TWO_BUGS)
    result = pytester.runpytest("--chaos", "--chaos-seed=1", "--chaos-examples=200", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "2 distinct failures" in out, out[-3000:]
    assert "[duplicate_side_effects]" in out and "[tool_error_as_result]" in out
    commands = re.findall(r"reproduce: (pytest .*)", out)
    plans = {c for c in commands if "--chaos-plan=" in c}
    assert len(plans) >= 2, commands  # one command per failure, each with its own plan
    for number in (1, 2):
        assert f"failure {number} of 2" in out


ROOT_ONLY = """
import pytest

from harness import agent, tool


@tool("lookup")
async def lookup(q):
    return q


async def solo():
    async with agent("solo"):
        return await lookup("x")


@pytest.mark.chaos(faults=["worker.kill"], worker_root=True)
def test_solo(chaos):
    chaos.run(solo)
"""


def test_a_root_killed_on_request_is_reported_as_the_whole_system_down(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_root=ROOT_ONLY)
    result = pytester.runpytest("--chaos", "--chaos-seed=1", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert (
        "the whole system was down: the fault at worker 'solo' struck the run's root agent"
        in result.stdout.str()
    )
    # Without worker_root the same test draws no worker fault at all (solo is the root).
    pytester.makepyfile(test_root=ROOT_ONLY.replace(", worker_root=True", ""))
    result = pytester.runpytest("--chaos", "--chaos-seed=1", "-p", "no:randomly")
    result.assert_outcomes(passed=1, warnings=1)  # ChaosWarning: nothing to explore
