"""Live tier: record the judge's verdicts on the semantic handoff assertions from the Qwen judge model.

``pytest tests/live/test_handoff_rubric_live.py --chaos-live`` assembles the Qwen GGUF (the
``judge-model`` extra), serves it, runs the trip planner of ``tests/_support/handoff_app.py``
through pytester with recording on, and writes ``cassettes/judges/handoff_rubric.json``
and ``cassettes/judges/handoff_ensemble.json`` (three samples on the dropped brief) (about
15 s per verdict on two idle cores, several minutes on busy ones). Set
``HANDOFF_JUDGE_BASE_URL`` to use a Qwen server that is already running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from _support.handoff_app import (
    APP,
    CASSETTE,
    CONFTEST,
    CONFTEST_ENSEMBLE,
    ENSEMBLE_CASSETTE,
    JUDGE_MODEL,
    TESTS,
)

pytestmark = pytest.mark.live
pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    given = os.environ.get("HANDOFF_JUDGE_BASE_URL")
    if given:
        yield given
        return
    from judges import QWEN_JUDGE, assemble_judge_model
    from scenarios import LocalLLMServer

    model = assemble_judge_model(QWEN_JUDGE)
    with LocalLLMServer(model_alias=JUDGE_MODEL, model_path=model, chat_format=None) as server:
        yield server.base_url


def test_record_handoff_verdicts(
    base_url: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_JUDGE_BASE_URL", base_url)
    monkeypatch.setenv("HANDOFF_JUDGE_RECORD_MODE", "new_episodes")
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_trip=TESTS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(
        passed=1, failed=1
    )  # the model judged the kept limit kept, the dropped one dropped
    CASSETTE.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pytester.path / "handoff_rubric.json", CASSETTE)


def test_record_ensemble_verdicts_on_the_dropped_brief(
    base_url: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_JUDGE_BASE_URL", base_url)
    monkeypatch.setenv("HANDOFF_JUDGE_RECORD_MODE", "new_episodes")
    pytester.makepyfile(app=APP, conftest=CONFTEST_ENSEMBLE, test_trip=TESTS)
    result = pytester.runpytest("-p", "no:randomly", "-k", "drops")
    result.assert_outcomes(failed=1)
    assert "spread: totals" in result.stdout.str()
    shutil.copyfile(pytester.path / "handoff_ensemble.json", ENSEMBLE_CASSETTE)
