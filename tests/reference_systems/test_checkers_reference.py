"""The checkers end to end on the content and negotiation reference systems, under ``pytest --chaos``.

Each naive variant is caught by the checker for its bug; its hardened twin runs the baseline and
every example without a single violation. Replayed offline from the committed reference
cassettes, with a fixed seed, like ``brownout demo``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scenarios import find_reference as find

EXAMPLES = 8

# Each test notes the plan it ran under, so the hardened twin's count of clean runs can be checked.
TESTS = """
import json

import pytest

from scenarios import {system}

EXAMPLES = {examples}


def note(name, chaos):
    with open(name, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(str(chaos.plan)) + "\\n")


@pytest.mark.chaos(
    faults=[{site!r}], checks="default", examples=EXAMPLES, cassette={naive!r},
    miss="nearest", deadline={deadline},
)
def test_naive(chaos):
    note("naive.txt", chaos)
    chaos.run({system}.run, variant="naive")


@pytest.mark.chaos(
    faults=[{site!r}], checks="default", examples=EXAMPLES, cassette={hardened!r},
    miss="nearest", deadline={deadline},
)
def test_hardened(chaos):
    note("hardened.txt", chaos)
    run = chaos.run({system}.run, variant="hardened")
    with open("hardened_outputs.txt", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(run.output.model_dump(mode="json")) + "\\n")
"""


def _run(pytester: pytest.Pytester, system: str, site: str) -> tuple[str, list[str], list[dict[str, object]]]:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(
        test_reference=TESTS.format(
            system=system,
            site=site,
            examples=EXAMPLES,
            deadline=find(f"{system}_naive").deadline,
            naive=str(find(f"{system}_naive").cassette_path()),
            hardened=str(find(f"{system}_hardened").cassette_path()),
        )
    )
    result = pytester.runpytest("--chaos", "--chaos-seed=1")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert re.search(r"test_reference.py::test_naive\b", out), out[-3000:]
    hardened_plans = Path(pytester.path, "hardened.txt").read_text(encoding="utf-8").splitlines()
    outputs = [
        json.loads(line)
        for line in Path(pytester.path, "hardened_outputs.txt").read_text(encoding="utf-8").splitlines()
    ]
    return out, hardened_plans, outputs


def _section(out: str, test: str) -> str:
    start = out.index(f"_ {test} _")
    rest = out[start + 1 :]
    nxt = re.search(r"\n_{3,} \S+ _{3,}\n", rest)
    return rest[: nxt.start()] if nxt else rest


def test_content_naive_is_caught_by_its_checkers_and_the_hardened_twin_has_no_false_alarm(
    pytester: pytest.Pytester,
) -> None:
    out, plans, outputs = _run(pytester, "content", "llm")
    naive = _section(out, "test_naive")
    caught = re.findall(r"\[(goal_drift|lost_update|context_budget), \w+\]", naive)
    assert caught, (
        f"the naive content system was not caught by goal_drift, lost_update or context_budget:\n{naive}"
    )
    # The hardened twin: the baseline, then every example, each run clean (else the test failed above).
    assert len(plans) == EXAMPLES + 1
    assert plans[0] == '"None"'
    assert sum(1 for p in plans[1:] if "llm[" in p) == EXAMPLES, plans
    assert len(outputs) == EXAMPLES + 1
    # Every run flags both items over $10,000; a degraded run says which stage is missing.
    for output in outputs:
        assert output["flagged"] == ["venue", "travel"], output
        assert (output["status"] == "degraded") == bool(output["missing"]), output


def test_negotiation_naive_is_caught_by_liveness_and_the_hardened_twin_has_no_false_alarm(
    pytester: pytest.Pytester,
) -> None:
    out, plans, outputs = _run(pytester, "negotiation", "message")
    naive = _section(out, "test_naive")
    # The naive run hangs until the run's deadline cancels it (a crash); the checkers read its log.
    assert re.search(r"loud +test_reference\.py::test_naive +\(liveness\)", out), out[-2000:]
    assert "smallest failing fault plan" in naive
    assert "message[to_seller]#1: drop" in naive
    assert len(plans) == EXAMPLES + 1
    assert plans[0] == '"None"'
    assert sum(1 for p in plans[1:] if "message[" in p) == EXAMPLES, plans
    assert len(outputs) == EXAMPLES + 1
    # A hardened run ends with a deal, or with an explicit no_deal that says why.
    for output in outputs:
        assert output["outcome"] in ("deal", "no_deal"), output
        assert output["outcome"] == "deal" or output["reason"], output
