"""handoff_contract, goal_drift (with its semantic hook) and context_budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support.checker_logs import LogBuilder

import harness
from harness import ConfigError
from harness._checkers import _budget
from harness._checkers._budget import context_budget, count_prompt_tokens
from harness._checkers._handoffs import carries, goal_drift, handoff_contract
from harness.checkers import unregister_semantic_check
from harness.events import Constraint


# -- handoff_contract ------------------------------------------------------------------------
def test_invalid_handoff_is_reported_with_its_errors() -> None:
    b = LogBuilder()
    b.start("researcher")
    bad = b.handoff(
        "writer",
        {"topic": 3},
        schema_name="Brief",
        valid=False,
        errors=["topic: Input should be a valid string", "constraints: Field required"],
    )
    b.handoff("writer", {"topic": "x", "constraints": []}, schema_name="Brief", valid=True)
    b.handoff("editor", "free text")  # no schema: valid=None, not checked
    b.end()
    b.run_end()
    [v] = handoff_contract(b.log)
    assert v.steps == [bad.seq]
    assert (
        "fails its schema Brief: topic: Input should be a valid string; constraints: Field required"
        in v.message
    )
    assert "researcher -> writer" in v.message


# -- goal_drift ------------------------------------------------------------------------------
def test_task_constraint_dropped_at_a_later_hop_and_missing_from_output() -> None:
    b = LogBuilder()
    declared = b.constraint("max_budget_usd", 10000)
    b.start("planner")
    kept = b.handoff("researcher", {"topic": "offsite venues", "max_budget_usd": 10000})
    b.end()
    b.start("researcher")
    dropped = b.handoff("writer", {"topic": "offsite venues", "notes": "budget is flexible"})
    b.handoff("editor", "write it up")
    b.end()
    end = b.run_end("ok", output={"venue": "Castle", "price": 25000})
    [v] = goal_drift(b.log)
    assert v.steps == [declared.seq, kept.seq, dropped.seq, end.seq]
    assert "still carried it" in v.message
    assert f"then step {dropped.seq} (handoff researcher -> writer) dropped it" in v.message
    assert "(and 1 later handoff lack it too)" in v.message
    assert "final output" in v.message


def test_constraint_carried_as_text_or_field_is_clean() -> None:
    b = LogBuilder()
    b.constraint("max_budget_usd", 10000)
    b.constraint("region", "EU", output=False)
    b.handoff("researcher", {"brief": "Find venues in the EU under $10,000."})
    b.handoff("writer", {"constraints": {"max_budget_usd": 10000, "region": "eu"}})
    b.run_end("ok", output="Recommended: Castle (EUR 9,000; below the 10,000 limit).")
    assert goal_drift(b.log) == []


def test_handoff_declared_constraints_bind_the_payload_and_downstream() -> None:
    b = LogBuilder()
    b.start("researcher")
    b.handoff(
        "writer", {"topic": "offsite", "constraints": ["flag > $10,000"]}, constraints=["flag > $10,000"]
    )
    b.end()
    b.start("writer")
    lost = b.handoff("editor", "write about the offsite")  # the writer passes it on without the constraint
    b.end()
    b.start("other")
    b.handoff("auditor", "unrelated")  # not downstream of the declaring handoff
    b.end()
    b.run_end("ok", output="done")
    [v] = goal_drift(b.log)
    assert lost.seq in v.steps
    assert 'require the constraint "flag > $10,000"' in v.message


def test_numbers_are_matched_as_whole_numbers() -> None:
    assert carries("limit: $10,000", "budget", 10000)
    assert carries({"budget": 10000.0}, "budget", 10000)
    assert not carries("limit 100000", "budget", 10000)
    assert not carries("10000.5", "budget", 10000)
    assert carries({"regions": ["EU", "UK"]}, "regions", ["eu", "uk"])
    assert not carries({"regions": ["EU"]}, "regions", ["EU", "UK"])


@pytest.fixture
def judge() -> Iterator[tuple[list[tuple[str, str]], dict[str, bool | None]]]:
    """A stand-in semantic check: answers from ``verdicts`` keyed by the carrier's text, records calls."""
    calls: list[tuple[str, str]] = []
    verdicts: dict[str, bool | None] = {}

    def fake_judge(constraint: Constraint, carrier: Any, where: str) -> bool | None:
        calls.append((constraint.name, where))
        return verdicts.get(str(carrier))

    harness.register_semantic_check("goal_drift", fake_judge)
    yield calls, verdicts
    unregister_semantic_check("goal_drift", fake_judge)


def test_semantic_check_accepts_a_paraphrase_and_rejects_a_contradiction(
    judge: tuple[list[tuple[str, str]], dict[str, bool | None]],
) -> None:
    calls, verdicts = judge
    verdicts["{'brief': 'stay under ten thousand dollars'}"] = True
    verdicts["{'brief': 'budget: at least 10000'}"] = False
    b = LogBuilder()
    b.constraint("max_budget_usd", 10000, output=False)
    b.handoff("a", {"brief": "stay under ten thousand dollars"})  # paraphrase: the judge accepts it
    contradicted = b.handoff("b", {"brief": "budget: at least 10000"})  # literal value, wrong meaning
    b.run_end("ok")
    [v] = goal_drift(b.log)
    assert v.steps[-1] == contradicted.seq
    assert "a semantic check judged it dropped or contradicted" in v.message
    assert calls == [("max_budget_usd", "handoff"), ("max_budget_usd", "handoff")]


def test_register_semantic_check_rejects_unknown_checkers() -> None:
    with pytest.raises(ConfigError, match=r"checker='liveness'.*Accepted: goal_drift"):
        harness.register_semantic_check("liveness", lambda *a: None)
    with pytest.raises(ConfigError, match="must be callable"):
        harness.register_semantic_check("goal_drift", 3)  # type: ignore[arg-type]


# -- context_budget --------------------------------------------------------------------------
def test_prompt_over_budget_by_server_usage() -> None:
    b = LogBuilder()
    start = b.start("synthesizer", budget=1000)
    b.llm(prompt_tokens=900)
    over = b.llm(prompt_tokens=1500)
    b.end()
    b.start("unbudgeted")
    b.llm(prompt_tokens=10**6)
    b.end()
    b.run_end()
    [v] = context_budget(b.log)
    assert v.steps == [start.seq, over.seq]
    assert "1500 prompt tokens (the usage the server returned), 500 over" in v.message


def test_prompt_counted_locally_when_the_server_gave_no_usage() -> None:
    b = LogBuilder()
    b.start("synthesizer", budget=50)
    b.llm(messages=[{"role": "user", "content": "word " * 200}])
    b.end()
    b.run_end()
    [v] = context_budget(b.log)
    assert "tiktoken cl100k_base" in v.message  # the offline encoding is installed with brownout


def test_token_count_falls_back_to_chars_over_four(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "x" * 395}]  # "user\n" + 395 chars = 400 chars
    counted, method = count_prompt_tokens(messages)
    assert "tiktoken" in method and counted > 3
    _budget._encoder.cache_clear()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: nothing to load offline
    monkeypatch.setattr(_budget, "_OFFLINE_ENCODING", "no_such_encoding")
    try:
        tokens, method = count_prompt_tokens(messages)
        assert (tokens, method.split(" (")[0]) == (100, "an estimate of characters / 4")
    finally:
        _budget._encoder.cache_clear()
