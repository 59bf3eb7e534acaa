"""The recorded calibration of the local model on the shipped labelled set replays offline."""

from __future__ import annotations

from pathlib import Path

from judges import Judge, calibrate, labelled_set
from judges.calibration import DEFAULT_CASSETTE

ROOT = Path(__file__).resolve().parents[2]


def test_recorded_calibration_replays_offline_and_matches_the_docs() -> None:
    examples, rubrics = labelled_set()
    docs = (ROOT / "docs" / "judges.md").read_text(encoding="utf-8")
    with Judge("smollm2", base_url="http://127.0.0.1:9/v1", cassette=ROOT / DEFAULT_CASSETTE) as judge:
        for style in ("hardened", "naive"):
            result = calibrate(examples, judge.replace(prompt=style), rubrics=rubrics)
            assert result.n == len(examples)
            assert result.table().splitlines()[-1] in docs
