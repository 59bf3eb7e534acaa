"""The recorded calibration of the Qwen judge on the shipped labelled set replays offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from judges import Calibration, Judge
from judges.calibration import DECODING, DEFAULT_CASSETTE, calibrations, main, report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recorded() -> list[Calibration]:
    with Judge(
        "qwen", base_url="http://127.0.0.1:9/v1", cassette=ROOT / DEFAULT_CASSETTE, **DECODING
    ) as judge:
        return calibrations(judge, complete=False)


def test_recorded_calibration_replays_offline_and_matches_the_docs(recorded: list[Calibration]) -> None:
    docs = (ROOT / "docs" / "judges.md").read_text(encoding="utf-8")
    hardened, naive = recorded
    assert (hardened.judge.args["prompt"], naive.judge.args["prompt"]) == ("hardened", "naive")
    assert hardened.judge.args["model"] == "qwen"
    for table in report(recorded).split("\n\n"):
        assert table in docs


def test_both_prompts_are_calibrated_on_the_same_balanced_recorded_examples(
    recorded: list[Calibration],
) -> None:
    # The cassette holds every labelled example for both prompts (at least 60, balanced).
    hardened, naive = recorded
    assert [r.id for r in hardened.rows] == [r.id for r in naive.rows]
    labels = [r.label for r in hardened.rows]
    assert len(labels) >= 60 and 0.4 <= sum(labels) / len(labels) <= 0.6


def test_python_m_judges_calibration_prints_the_tables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "accuracy [95% CI]" in out and "Cohen's kappa [95% CI]" in out
    assert "qwen (hardened)" in out and "qwen (naive)" in out
    assert "| research, qwen (hardened) |" in out and "| research, qwen (naive) |" in out
