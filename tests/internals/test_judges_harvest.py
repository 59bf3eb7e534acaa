"""The labelled set: real outputs of the reference systems, each labelled by its written rule."""

from __future__ import annotations

import yaml

from judges import labelled_set
from judges._harvest import LABELLED, RULES, harvest, inputs, select


def test_the_labelled_set_is_large_real_balanced_and_spread_over_the_systems() -> None:
    examples, rubrics = labelled_set()
    assert len(examples) >= 60
    assert not any(e.synthetic for e in examples)
    assert 0.45 <= sum(e.label for e in examples) / len(examples) <= 0.55
    assert {e.system for e in examples} == {"research", "checkout", "content", "negotiation"}
    assert {e.variant for e in examples} == {"naive", "hardened"}
    assert any(e.fault == "none" for e in examples) and any(e.fault != "none" for e in examples)
    assert len({e.id for e in examples}) == len(examples)
    assert {e.rubric for e in examples} <= set(rubrics)
    for e in examples:
        assert e.rule == RULES[str(e.system)].text  # the rule is written beside each label
        assert e.note.startswith("pass by rule: " if e.label else "fail by rule: ")


def test_every_label_is_what_its_rule_gives() -> None:
    tasks = {(i.system, i.name): i.value for i in inputs()}
    examples, _ = labelled_set()
    for e in examples:
        name = e.id.split("-")[1]
        label, reason = RULES[str(e.system)].apply(e.candidate, tasks[(str(e.system), name)])
        assert (label, reason) == (e.label, e.note.split("by rule: ", 1)[1]), e.id


def test_the_harvest_reproduces_the_shipped_file_offline() -> None:
    kept = select(harvest())  # every run replays from cassettes/reference and cassettes/judges/harvest
    shipped = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["examples"]
    assert [h.id for h in kept] == [e["id"] for e in shipped]
    assert [h.candidate for h in kept] == [e["candidate"] for e in shipped]
    assert [h.label for h in kept] == [e["label"] for e in shipped]


def test_the_synthetic_examples_are_kept_apart_and_marked() -> None:
    examples, rubrics = labelled_set(synthetic=True)
    assert len(examples) == 24 and all(e.synthetic for e in examples)
    assert "research_answer" in rubrics
