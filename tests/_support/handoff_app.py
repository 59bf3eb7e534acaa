"""A two-agent trip planner whose brief keeps or drops the task's $10,000 limit (semantic handoff tests).

The planner declares the budget as a task constraint with ``handoffs=False`` (so the
literal ``goal_drift`` rule does not look for ``10000`` in the brief) and asks, at the
handoff, whether the brief still carries it: only a judge can tell that "under ten thousand
US dollars" keeps the limit. The judge's verdicts on both briefs are recorded from the Qwen
judge model in ``cassettes/judges/handoff_rubric.json`` (re-record:
``pytest tests/live/test_handoff_rubric_live.py --chaos-live``).
"""

from __future__ import annotations

from pathlib import Path

CASSETTE = Path(__file__).resolve().parents[2] / "cassettes" / "judges" / "handoff_rubric.json"
JUDGE_MODEL = "qwen"

APP = """
from harness import agent, constraint, handoff

QUESTION = "Does this brief still carry the task's spending limit of $10,000?"
KEEP = (
    "Book a 3-night trip to Lisbon for two travellers in May. The total cost, flights and hotel "
    "together, must stay under ten thousand US dollars."
)
DROP = (
    "Book a 3-night trip to Lisbon for two travellers in May. Choose the most comfortable flights "
    "and a sea-view hotel."
)


def plan_trip(request, *, keep):
    with agent("planner"):
        constraint("budget_usd", 10000, handoffs=False, output=False)
        handoff("booker", KEEP if keep else DROP, rubric=QUESTION)
    with agent("booker"):
        return "booked"
"""

CONFTEST = """
import os

from judges import Judge, configure_semantic_checks

JUDGE = Judge(
    "qwen",
    base_url=os.environ.get("HANDOFF_JUDGE_BASE_URL", "http://127.0.0.1:9/v1"),
    cassette="handoff_rubric.json",
    record_mode=os.environ.get("HANDOFF_JUDGE_RECORD_MODE", "none"),
    timeout=900,
)
configure_semantic_checks(judge=JUDGE)


def pytest_unconfigure(config):
    JUDGE.close()
    configure_semantic_checks()  # the judge configuration is process-wide: leave none behind
"""

ENSEMBLE_CASSETTE = CASSETTE.with_name("handoff_ensemble.json")

# Three samples of the same judge (seeds 0, 1, 2 at temperature 0.7): the verdict shows its spread.
CONFTEST_ENSEMBLE = """
import os

from judges import Ensemble, Judge, configure_semantic_checks

JUDGE = Judge(
    "qwen",
    base_url=os.environ.get("HANDOFF_JUDGE_BASE_URL", "http://127.0.0.1:9/v1"),
    cassette="handoff_ensemble.json",
    record_mode=os.environ.get("HANDOFF_JUDGE_RECORD_MODE", "none"),
    timeout=900,
)
configure_semantic_checks(judge=Ensemble.samples(JUDGE, n=3, temperature=0.7))


def pytest_unconfigure(config):
    JUDGE.close()
    configure_semantic_checks()
"""

TESTS = """
import app


def test_brief_keeps_the_budget(chaos):
    run = chaos.run(app.plan_trip, "Lisbon in May", keep=True)
    assert run.output == "booked"


def test_brief_drops_the_budget(chaos):
    run = chaos.run(app.plan_trip, "Lisbon in May", keep=False)
    assert run.output == "booked"
"""
