"""The committed verdicts on the reference systems' outputs replay identically offline."""

from __future__ import annotations

from judges._reference import JUDGE_CASSETTE, RUBRIC_FOR, VERDICTS, load_verdicts, rescore_offline


def test_every_reference_system_has_recorded_verdicts() -> None:
    assert VERDICTS.is_file(), f"{VERDICTS} is missing: record it with `python -m judges.reference --record`"
    verdicts = load_verdicts()
    assert {name.split("_")[0] for name in verdicts} == set(RUBRIC_FOR)
    for name, verdict in verdicts.items():
        assert verdict.rubric.name == RUBRIC_FOR[name.split("_")[0]]
        assert verdict.judge.args["model"] == "qwen"  # the judge model, not the systems' SmolLM2
        assert verdict.raw, f"{name}: no raw reply kept"


def test_the_docs_show_every_recorded_verdict() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "judges.md").read_text(encoding="utf-8")
    for name, verdict in load_verdicts().items():
        assert f"| {name} | {'pass' if verdict.passed else 'fail'} |" in docs, name


def test_recorded_verdicts_replay_identically_offline() -> None:
    for name, stored in load_verdicts().items():
        replayed = rescore_offline(stored, JUDGE_CASSETTE)
        assert replayed == stored, (name, replayed.table(), stored.table())
