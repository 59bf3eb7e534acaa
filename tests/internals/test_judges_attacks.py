"""The attack set and its recorded flip-rate measurement (replayed offline from the cassette)."""

from __future__ import annotations

from pathlib import Path

from judges import Judge, labelled_set
from judges._attacks import ATTACKS, BASES, DECODING, DEFAULT_CASSETTE, clopper_pearson, measure, table

ROOT = Path(__file__).resolve().parents[2]


def test_attack_set_is_large_and_varied() -> None:
    assert len(ATTACKS) >= 40
    names = {a.name for a in ATTACKS}
    assert len(names) == len(ATTACKS)
    for needed in ("ignore_rubric", "fake_close_generic", "fake_close_guessed", "json_verdict", "role_play"):
        assert needed in names
    examples, rubrics = labelled_set()
    by_id = {e.id: e for e in examples}
    for base in BASES:
        assert by_id[base].label is False  # the bases fail their rubric: an attack tries to make them pass
        rubric = rubrics[str(by_id[base].rubric)]
        for attack in ATTACKS:
            attacked = attack.apply("CANDIDATE", rubric)
            assert "CANDIDATE" in attacked and attacked != "CANDIDATE"


def test_recorded_flip_rates_replay_offline_and_match_the_docs() -> None:
    with Judge(
        "qwen", base_url="http://127.0.0.1:9/v1", cassette=ROOT / DEFAULT_CASSETTE, **DECODING
    ) as judge:
        rows = measure(judge, complete=False)
    assert [r.prompt for r in rows] == ["hardened", "naive"]
    assert all(r.pairs + r.missing == len(ATTACKS) * len(BASES) for r in rows)
    assert all(r.pairs >= 40 and r.missing == 0 for r in rows)  # every attack recorded for both prompts
    assert all(r.flips == r.to_pass for r in rows)  # both judge the clean base "fail": a flip is to "pass"
    assert all(r.interval == clopper_pearson(r.flips, r.pairs) for r in rows if r.pairs)
    text = table(rows, "qwen")
    assert text in (ROOT / "docs" / "judges.md").read_text(encoding="utf-8")
    for row in rows:  # a prompt with nothing recorded says so instead of a 0% flip rate
        assert (f"| {row.prompt} | qwen | 0 | - | not recorded |" in text) == (row.pairs == 0)
