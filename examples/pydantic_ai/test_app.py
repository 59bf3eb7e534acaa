"""`pytest` replays the recorded run from cassettes/; `pytest --chaos` injects faults into it.

No brownout code: brownout sees pydantic-ai's agents, tools and delegation by itself.
"""

from desk_app import brief


def test_brief(chaos):
    run = chaos.run(brief, "Oslo")
    assert run.output["facts"] == {"Oslo": 709_000} and "709" in run.output["answer"]
