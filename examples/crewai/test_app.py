"""`pytest` replays the recorded run from cassettes/; `pytest --chaos` injects faults into it.

No brownout code: brownout sees CrewAI's agents, tools and task handoffs by itself.
"""

from calculator_crew import answer


def test_answer(chaos):
    run = chaos.run(answer, "What is 12 plus 30?")
    assert "42" in run.output
