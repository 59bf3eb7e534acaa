"""Live tier: rubric verdicts on every reference system's output, recorded from the real local model.

Run with ``pytest tests/live/test_judges_live.py --chaos-live`` (needs the ``llm`` extra). Each
test starts the llama.cpp server, records, stops it, then replays offline and checks the replay
gives the identical verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from judges import Judge, Rubric, labelled_set
from judges._reference import RUBRIC_FOR, judge_reference_runs, rescore_offline

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    from scenarios import LocalLLMServer

    with LocalLLMServer() as running:
        yield running


def test_reference_outputs_record_and_replay_identically(
    server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url = server.base_url  # type: ignore[attr-defined]
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    cassette = tmp_path / "judge.json"
    with Judge("smollm2", base_url=base_url, cassette=cassette, record_mode="all", timeout=600) as judge:
        verdicts = judge_reference_runs(judge, run_record_mode="all", run_directory=tmp_path / "runs")
    assert {name.split("_")[0] for name in verdicts} == set(RUBRIC_FOR)
    for name, verdict in verdicts.items():
        # recorded live: nothing was substituted, so no verdict may be indeterminate
        assert verdict.status in ("scored", "unscored"), (name, verdict.table())
        assert verdict.raw, name  # the real model's reply is kept
        replayed = rescore_offline(verdict, cassette)
        assert replayed == verdict, (name, replayed.table(), verdict.table())


def test_judge_fixture_style_call_records_and_replays(server: object, tmp_path: Path) -> None:
    base_url = server.base_url  # type: ignore[attr-defined]
    examples, rubrics = labelled_set()
    example = next(e for e in examples if e.id == "content-default-naive-none")
    rubric: Rubric = rubrics[str(example.rubric)]
    cassette = tmp_path / "judge.json"
    with Judge("smollm2", base_url=base_url, cassette=cassette, record_mode="all", timeout=600) as judge:
        live = judge(example.candidate, rubric, context=example.context)
    with Judge("smollm2", base_url="http://127.0.0.1:9/v1", cassette=cassette) as offline:
        again = offline(example.candidate, rubric, context=example.context)
    assert again.model_dump(exclude={"judge"}) == live.model_dump(exclude={"judge"})
    assert live.status in ("scored", "unscored")
