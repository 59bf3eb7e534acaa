"""`pytest` replays the recorded run from cassettes/; `pytest --chaos` injects faults into it.

No brownout code: brownout sees the graph's nodes, tools and edges by itself.
"""

from trip_app import plan_trip


def test_plan_trip(chaos):
    run = chaos.run(plan_trip, "lisbon", 3)
    assert "360 EUR" in run.output["budget"]
