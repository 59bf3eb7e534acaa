"""The ``judge`` pytest fixture's logic (the plugin only declares the fixture and imports this lazily).

The fixture's judge

- sends its calls through the test's cassette: the ``chaos`` fixture's when the test uses
  it, else the cassette the ``chaos`` fixture would use
  (``<chaos_cassette_dir>/<module>/<test>.json``), under the test's record mode and miss
  policy (``--chaos-record-mode``, ``--chaos-miss``, the ``chaos`` marker);
- uses ``$BROWNOUT_JUDGE_MODEL`` (default ``smollm2``, the local model's alias) and
  ``$BROWNOUT_JUDGE_BASE_URL``/``$OPENAI_BASE_URL`` for recording;
- links a candidate to the ``chaos`` run that produced it (``judge(run.output, ...)``),
  so a verdict on substituted content is indeterminate without passing ``run=``;
- attaches every verdict's per-criterion table to the test's report (shown when the test
  fails, e.g. on ``assert verdict.passed``) and to ``user_properties``
  (``brownout_verdict``), where reports and pytest-xdist pick it up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from judges import Judge, Rubric, Verdict

__all__ = ["FixtureJudge", "judge_fixture"]

DEFAULT_FIXTURE_MODEL = "smollm2"


class FixtureJudge(Judge):
    """A :class:`Judge` that knows the test's ``chaos`` runs (to find a candidate's provenance)."""

    runs_source: Any = None

    def __call__(
        self,
        candidate: Any,
        rubric: Rubric | Mapping[str, Any] | str | os.PathLike[str],
        *,
        context: Any = None,
        run: Any = None,
    ) -> Verdict:
        if run is None and self.runs_source is not None:
            run = _run_of(candidate, list(self.runs_source.runs))
        return super().__call__(candidate, rubric, context=context, run=run)


def _run_of(candidate: Any, runs: list[Any]) -> Any:
    for run in reversed(runs):
        if candidate is run or candidate is run.output:
            return run
    for run in reversed(runs):
        try:
            if candidate == run.output:
                return run
        except Exception:  # an output type whose == raises or is ambiguous: not this run
            continue
    return None


def judge_fixture(request: pytest.FixtureRequest) -> Iterator[FixtureJudge]:
    """Build the fixture's judge for this test; close its cassette after the test."""
    from harness._cassette._cassette import Cassette
    from harness._pytest._fixture import cassette_path_for
    from harness._pytest._settings import settings_for_item as settings_for

    item = request.node
    settings = settings_for(item)
    chaos = request.getfixturevalue("chaos") if "chaos" in request.fixturenames else None
    owned: Cassette | None = None
    if chaos is not None:
        cassette = chaos.cassette()
    else:
        rootdir = request.config.rootpath
        if settings.cassette:
            path = Path(settings.cassette)
            path = path if path.is_absolute() else rootdir / path
        else:
            path = cassette_path_for(
                rootdir / request.config.getini("chaos_cassette_dir"), str(item.path), item.name
            )
        cassette = owned = Cassette(
            path, record_mode=settings.record_mode, miss=settings.miss, nodeid=item.nodeid
        )
    judge = FixtureJudge(
        os.environ.get("BROWNOUT_JUDGE_MODEL") or DEFAULT_FIXTURE_MODEL,
        cassette=cassette,
        record_mode=settings.record_mode,
        miss=settings.miss,
    )
    judge.runs_source = chaos

    def attach(verdict: Verdict) -> None:
        item.add_report_section("call", f"brownout judge: {verdict.rubric.name}", verdict.table())
        item.user_properties.append(
            ("brownout_verdict", verdict.model_dump(mode="json", exclude={"members"}))
        )

    judge.on_verdict.append(attach)
    try:
        yield judge
    finally:
        if owned is not None:
            owned.close()
