"""The checkers end to end through pytest: baseline runs, ``--chaos`` exploration, selection, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main as brownout

SYSTEMS = '''
import asyncio

import harness
from harness import agent, tool

LEDGER = []


@tool("send_receipt", side_effect=True)
async def send_receipt(to, *, idempotency_key=None):
    LEDGER.append(("receipt", to, idempotency_key))
    return "queued"


@tool("reserve", side_effect=True, compensate="release")
async def reserve(sku):
    LEDGER.append(("reserve", sku))
    return {"reservation": f"r-{sku}"}


@tool("release", side_effect=True)
async def release(reservation):
    LEDGER.append(("release", reservation))
    return "released"


@tool("charge", side_effect=True)
async def charge(amount, *, idempotency_key=None):
    LEDGER.append(("charge", amount))
    return "paid"


@tool("lookup")
async def lookup(q):
    return f"facts about {q}"


async def receipt_naive(to):
    """Sends, and sends again 'to be sure' after a slow reply: no idempotency key."""
    async with agent("notifier"):
        await send_receipt(to)
        await send_receipt(to)
        return "sent"


async def receipt_hardened(to):
    async with agent("notifier"):
        await send_receipt(to, idempotency_key=f"receipt-{to}")
        await send_receipt(to, idempotency_key=f"receipt-{to}")
        return "sent"


async def checkout_naive(sku):
    """Reserves, then charges; a failed charge is reported, the reservation is kept."""
    async with agent("checkout"):
        try:
            await reserve(sku)
        except Exception:
            return {"status": "failed"}  # nothing took effect yet
        try:
            await charge(10, idempotency_key="order-1")
        except Exception:
            return {"status": "failed"}
        return {"status": "paid"}


async def checkout_hardened(sku):
    """The same saga with its compensation: a failed charge releases the reservation."""
    async with agent("checkout"):
        try:
            held = await reserve(sku)
        except Exception:
            return {"status": "failed"}  # nothing took effect yet
        try:
            await charge(10, idempotency_key="order-1")
        except Exception:
            for _ in range(5):  # a plan has at most three faults
                try:
                    await release(held["reservation"])
                    break
                except Exception:
                    continue
            else:
                harness.escalate("could not release the reservation")
            return {"status": "rolled_back"}
        return {"status": "paid"}


async def research_naive(topic):
    """A failed lookup is dropped and never mentioned."""
    async with agent("researcher"):
        try:
            facts = await lookup(topic)
        except Exception:
            facts = ""
        return {"answer": f"summary of {topic}", "facts": facts}


async def research_hardened(topic):
    """Retries once, then parks the failure and says the answer is partial."""
    async with agent("researcher"):
        for attempt in range(2):
            try:
                return {"answer": f"summary of {topic}", "facts": await lookup(topic)}
            except Exception as exc:
                error = exc
        harness.dead_letter(lookup, {"q": topic}, error)
        return {"answer": f"summary of {topic}", "partial": True, "missing": ["lookup"]}


async def _straggler():
    async with agent("straggler"):
        await asyncio.sleep(100)


async def fan_out_naive():
    async with agent("orchestrator"):
        harness.spawn(_straggler(), name="straggler")
        await asyncio.sleep(1)
        return "done"


async def fan_out_hardened():
    async with agent("orchestrator"):
        task = harness.spawn(_straggler(), name="straggler")
        await asyncio.sleep(1)
        await task  # joins its work before answering (100 virtual seconds cost no wall time)
        return "done"


def note(name, text):
    with open(name, "a", encoding="utf-8") as fh:
        fh.write(text + "\\n")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(toy_systems=SYSTEMS)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


def _section(out: str, test: str) -> str:
    start = out.index(f"_ {test} _")
    rest = out[start + 1 :]
    nxt = re.search(r"\n_{3,} \S+ _{3,}\n", rest)
    return rest[: nxt.start()] if nxt else rest


def test_baseline_run_fails_on_a_violation_with_the_explanation_and_the_log(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_receipts="""
import pytest
from toy_systems import receipt_hardened, receipt_naive

@pytest.mark.chaos(checks="default")
def test_naive(chaos):
    chaos.run(receipt_naive, "ada@example.com")

@pytest.mark.chaos(checks="default")
def test_hardened(chaos):
    assert chaos.run(receipt_hardened, "ada@example.com").output == "sent"

def test_orphans_naive(chaos):
    from toy_systems import fan_out_naive
    chaos.run(fan_out_naive)

def test_orphans_hardened(chaos):
    from toy_systems import fan_out_hardened
    chaos.run(fan_out_hardened)
"""
    )
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    naive = _section(out, "test_naive")
    assert "ViolationsFound" in naive
    assert "[duplicate_side_effects, critical]" in naive
    assert "Let step" in naive and "execute send_receipt" in naive and "happened 2 times" in naive
    orphans = _section(out, "test_orphans_naive")
    assert "[orphaned_work, major]" in orphans and "straggler" in orphans
    # The failing run's log is written; `brownout check` finds the same violation in it.
    log_path = re.search(r"run log: (\S+\.jsonl)", naive)
    assert log_path is not None
    assert Path(log_path.group(1)).is_file()
    assert brownout(["check", log_path.group(1), "--checks", "duplicate_side_effects"]) == 1
    assert brownout(["check", log_path.group(1), "--checks", "liveness"]) == 0


@pytest.mark.parametrize(
    ("naive", "hardened", "faults", "checker", "checks"),
    [
        ("checkout_naive", "checkout_hardened", "tool.error", "saga_compensation", '"default"'),
        # unhandled_tool_failure is opt-in (it cannot tell a correct fallback value from a swallowed
        # error); a project that wants the lint selects it.
        ("research_naive", "research_hardened", "tool.error", "unhandled_tool_failure", '"all"'),
    ],
)
def test_chaos_catches_the_naive_system_and_the_hardened_twin_passes_every_example(
    project: pytest.Pytester, naive: str, hardened: str, faults: str, checker: str, checks: str
) -> None:
    examples = 30
    project.makepyfile(
        test_twins=f"""
import pytest
from toy_systems import {naive}, {hardened}, note

@pytest.mark.chaos(faults=["{faults}"], checks={checks}, examples={examples})
def test_naive(chaos):
    note("naive.txt", str(chaos.plan))
    chaos.run({naive}, "A1")

@pytest.mark.chaos(faults=["{faults}"], checks={checks}, examples={examples})
def test_hardened(chaos):
    note("hardened.txt", str(chaos.plan))
    chaos.run({hardened}, "A1")
"""
    )
    result = project.runpytest("--chaos", "--chaos-seed=3")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    caught = _section(out, "test_naive")
    assert "ViolationsFound" in caught and f"[{checker}," in caught
    assert "smallest failing fault plan (1 fault):" in caught
    # The hardened twin ran the baseline and every example, all without a violation.
    hardened_plans = Path(project.path, "hardened.txt").read_text().splitlines()
    assert hardened_plans[0] == "None"
    # Every example ran (Hypothesis stops early once a small space of one-call faults is exhausted).
    assert 10 < len(hardened_plans) <= examples + 1
    assert sum(1 for p in hardened_plans if faults.split(".")[1] in p) > examples // 2


def test_marker_selection_limits_the_checkers_and_rejects_unknown_names(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_select="""
import pytest
from toy_systems import receipt_naive

@pytest.mark.chaos(checks=["liveness", "orphaned_work"])
def test_other_checkers_only(chaos):
    chaos.run(receipt_naive, "ada@example.com")

@pytest.mark.chaos(checks="none")
def test_no_checkers(chaos):
    chaos.run(receipt_naive, "ada@example.com")

@pytest.mark.chaos(checks=["duplicate_side_effects", "no_such_checker"])
def test_unknown(chaos):
    chaos.run(receipt_naive, "ada@example.com")
"""
    )
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    unknown = _section(result.stdout.str(), "test_unknown")
    assert "unknown checker(s) no_such_checker" in unknown
    assert "Known checkers: duplicate_side_effects, saga_compensation" in unknown


def test_a_custom_checker_registered_in_conftest_runs_by_default(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
from harness import Violation, checker

@checker("no_charges")
def no_charges(log, /, **context):
    '''A charge happened (a project rule for this test).'''
    return [
        Violation(checker="no_charges", steps=[e.seq], message=f"Let step {e.seq} charge.")
        for e in log if e.kind == "tool_call" and e.name == "charge"
    ]
"""
    )
    project.makepyfile(
        test_custom="""
from toy_systems import checkout_hardened

def test_checkout(chaos):
    chaos.run(checkout_hardened, "A1")
"""
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    assert "[no_charges, major]" in result.stdout.str()


REFERENCE_CONFTEST = """
import os
import sys

import pytest

sys.path.insert(0, {support!r})
from fake_openai import FakeOpenAI


@pytest.fixture(scope="session", autouse=True)
def llm():
    # An OpenAI-compatible server on 127.0.0.1; the systems reach it through the openai SDK over HTTP.
    with FakeOpenAI() as server:
        os.environ["OPENAI_BASE_URL"] = server.url
        os.environ["OPENAI_API_KEY"] = "test-key"
        yield server


@pytest.fixture(scope="session")
def shop():
    from scenarios.checkout import ShopService

    with ShopService() as service:
        yield service


@pytest.fixture(scope="session")
def web():
    from scenarios.research import SearchService

    with SearchService() as service:
        yield service
"""

REFERENCE_TESTS = """
import json

import pytest

from scenarios import checkout, research

EXAMPLES = {examples}


def note(name, chaos):
    with open(name, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(str(chaos.plan)) + "\\n")


@pytest.mark.chaos(faults=["tool"], examples=EXAMPLES, miss="live", record_mode="all")
def test_checkout_naive(chaos, shop):
    chaos.run(checkout.run, checkout.DEFAULT_ORDER, shop=shop, variant="naive")


@pytest.mark.chaos(faults=["tool"], examples=EXAMPLES, miss="live", record_mode="all")
def test_research_naive(chaos, web):
    chaos.run(research.run, research.DEFAULT_TASK, web=web, variant="naive")


@pytest.mark.chaos(faults=["tool"], examples=EXAMPLES, miss="live", record_mode="all")
def test_research_hardened(chaos, web):
    note("research_hardened.txt", chaos)
    chaos.run(research.run, research.DEFAULT_TASK, web=web, variant="hardened")
"""


def test_reference_systems_naive_caught_by_their_checkers_hardened_twin_clean(
    project: pytest.Pytester,
) -> None:
    support = str(Path(__file__).resolve().parents[1] / "_support")
    project.makeconftest(REFERENCE_CONFTEST.format(support=support))
    examples = 30
    project.makepyfile(test_reference=REFERENCE_TESTS.format(examples=examples))
    result = project.runpytest("--chaos", "--chaos-seed=1")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    checkout_part = _section(out, "test_checkout_naive")
    assert (
        "[duplicate_side_effects, critical]" in checkout_part
        or "[saga_compensation, critical]" in checkout_part
    )
    assert "smallest failing fault plan" in checkout_part
    research_part = _section(out, "test_research_naive")
    assert "[silent_partial_failure, major]" in research_part
    assert "smallest failing fault plan" in research_part
    # The hardened research twin: the baseline plus every example, all without a violation.
    plans = Path(project.path, "research_hardened.txt").read_text().splitlines()
    assert len(plans) == examples + 1
    assert plans[0] == '"None"'
