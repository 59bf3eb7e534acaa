"""A patch made in a chaos test's body piles up once per plan: brownout says so, and points to a fixture."""

from __future__ import annotations

import pytest

APP = """
from harness import agent, tool


@tool
def lookup(q):
    return q


def plan(q):
    with agent("planner"):
        return lookup(q)
"""

PATCHED_IN_BODY = """
import pytest

import app


@pytest.mark.chaos(faults=["tool.latency"])  # faults the system survives: only the patch is at issue
def test_plan(chaos):
    original = app.plan
    app.plan = lambda q: original(q)  # patched in the body: wraps again on every example
    assert chaos.run(app.plan, "x").output == "x"
"""

PATCHED_IN_FIXTURE = """
import pytest

import app


@pytest.fixture
def wrapped(monkeypatch):
    original = app.plan
    monkeypatch.setattr(app, "plan", lambda q: original(q))


@pytest.mark.chaos(faults=["tool.latency"])
def test_plan(chaos, wrapped):
    assert chaos.run(app.plan, "x").output == "x"
"""


def test_a_patch_in_the_body_gets_a_warning_naming_it_and_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP, test_app=PATCHED_IN_BODY)
    result = pytester.runpytest("--chaos", "--chaos-seed=1", "--chaos-examples=5", "-p", "no:randomly")
    assert result.parseoutcomes()["passed"] == 1
    out = result.stdout.str()
    assert "the test body replaced app.plan" in out and "make it in a fixture" in out


def test_a_patch_in_a_fixture_gets_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP, test_app=PATCHED_IN_FIXTURE)
    result = pytester.runpytest("--chaos", "--chaos-seed=1", "--chaos-examples=5", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "the test body replaced" not in result.stdout.str()
