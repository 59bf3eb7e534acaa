"""A user's own effect: registered from the project's conftest, drawn by ``--chaos``, replayed from JSON.

The effect ``poison`` is defined and registered in the pytester project's ``conftest.py``
(loaded before ``--chaos-plan`` is parsed). Exploration is asked for it at a tool site and
at an LLM site (``faults=["tool.poison", "llm.poison"]``); the run logs record it as
injected, and the system sees what its decision says: the tool's result reshaped, the
LLM's reply replaced. The LLM answers in process (``httpx2.MockTransport``), recorded once
into the test's cassette and replayed under ``--chaos``. The runs go in a subprocess, so
the registration does not outlive this test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFTEST = '''
from typing import Literal

import httpx2

from faults import EffectBase, register_effect
from harness.hooks import LLMSite, Reshape, Respond


@register_effect
class Poison(EffectBase):
    """The step's answer comes back tainted: a tool's result is prefixed, an LLM's reply replaced."""

    kind: Literal["poison"] = "poison"
    marker: str = "poisoned"
    sites = frozenset({"tool", "llm"})
    explore = {"marker": ["poisoned", "tainted"]}

    def decide(self, site, fault):
        if isinstance(site, LLMSite):
            return Respond(lambda: httpx2.Response(200, json=completion(self.marker), request=site.request))
        return Reshape(lambda result: f"{self.marker}:{result}")


def completion(content):
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
'''

TEST = """
import json

import httpx2
import openai
import pytest

from conftest import completion
from harness import agent, tool

@tool("lookup")
async def lookup(q):
    return f"data:{q}"


async def plan_trip():
    llm = httpx2.MockTransport(lambda request: httpx2.Response(200, json=completion("fine")))
    client = openai.AsyncOpenAI(
        base_url="http://llm.test/v1", api_key="sk-test", max_retries=0,
        http_client=httpx2.AsyncClient(transport=llm),
    )
    async with agent("planner"):
        found = await lookup("flights")
        reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": found}])
    return [found, reply.choices[0].message.content]


@pytest.mark.chaos(faults=["tool.poison", "llm.poison"], checks="none", examples=25)
def test_plan_trip(chaos):
    run = chaos.run(plan_trip)
    injected = [[e.site, e.effect, e.fault["effect"]["kind"]] for e in run.log if e.kind == "fault_injected"]
    with open("seen.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"plan": str(chaos.plan), "output": run.output, "injected": injected}) + "\\n")
    assert run.error is None
"""


def _seen(path: Path) -> list[dict[str, object]]:
    lines = (path / "seen.jsonl").read_text(encoding="utf-8").splitlines()
    (path / "seen.jsonl").unlink()
    return [json.loads(line) for line in lines]


def test_a_registered_effect_is_drawn_at_tool_and_llm_sites_and_replayed_from_json(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_trip=TEST)
    pytester.runpytest_subprocess("--chaos-record-mode=once").assert_outcomes(passed=1)
    assert _seen(pytester.path) == [{"plan": "None", "output": ["data:flights", "fine"], "injected": []}]

    result = pytester.runpytest_subprocess("--chaos", "--chaos-seed=3")
    result.assert_outcomes(passed=1)
    runs = _seen(pytester.path)
    faulted = [r for r in runs if r["injected"]]
    assert faulted, runs
    for run in faulted:
        for site, effect, kind in run["injected"]:  # type: ignore[attr-defined]
            assert kind == "poison" and site in ("tool", "llm") and effect.startswith("poison")
    tool_hit = [r for r in faulted if any(site == "tool" for site, _, _ in r["injected"])]  # type: ignore[attr-defined]
    llm_hit = [r for r in faulted if any(site == "llm" for site, _, _ in r["injected"])]  # type: ignore[attr-defined]
    assert tool_hit and llm_hit, [r["plan"] for r in faulted]
    assert all(str(r["output"][0]).startswith(("poisoned:", "tainted:")) for r in tool_hit)  # type: ignore[index]
    assert all(r["output"][1] in ("poisoned", "tainted") for r in llm_hit)  # type: ignore[index]
    clean = [r for r in runs if not r["injected"]]
    assert all(r["output"] == ["data:flights", "fine"] for r in clean)

    # The custom effect in a fault plan's JSON, replayed exactly.
    plan = {
        "faults": [
            {"site": "tool", "target": "lookup", "call": 1, "effect": {"kind": "poison", "marker": "bad"}},
            {"site": "llm", "target": "planner", "call": 1, "effect": {"kind": "poison"}},
        ]
    }
    replay = pytester.runpytest_subprocess(f"--chaos-plan={json.dumps(plan)}")
    replay.assert_outcomes(passed=1)
    (only,) = _seen(pytester.path)
    assert only["output"] == ["bad:data:flights", "poisoned"]
    assert only["injected"] == [["tool", "poison(marker=bad)", "poison"], ["llm", "poison", "poison"]]
