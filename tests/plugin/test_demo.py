"""`brownout demo`: pytest --chaos over the shipped reference systems, offline from their cassettes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness._cli import _demo
from harness._report import read_results


def test_demo_finds_the_naive_research_bug_offline(tmp_path: Path) -> None:
    if not any(ref.name == "research_naive" for ref in _demo.available_systems()):
        pytest.fail("cassettes/reference/research_naive.json is missing: the demo has nothing to replay")
    report = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "demo", "--only", "research_naive", "--examples", "20",
         "--workers", "1", "--report", str(report)],
        capture_output=True, text=True, check=False, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "research     naive     FAILS   silent_partial_failure" in out
    assert (
        "smallest plan: tool[" in out and "reproduce: pytest 'test_reference_demo.py::test_reference" in out
    )
    assert f"report:  {report / 'report.html'}" in out
    rows = read_results(report)
    assert {r.test for r in rows} == {"test_reference_demo.py::test_reference[research_naive]"}
    assert rows[0].faults_injected == 0 and rows[0].outcome == "pass"  # the baseline replays cleanly
    assert sum(r.llm_live for r in rows) == 0  # offline: every LLM reply came from the cassette
    assert any(r.outcome == "silent" for r in rows)
    assert (report / "summary.md").is_file() and (report / "pytest-output.txt").is_file()


def test_demo_without_cassettes_says_where_they_come_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main as cli_main

    monkeypatch.setattr(_demo, "available_systems", lambda: [])
    assert cli_main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "no reference cassettes in" in err and "brownout record-reference" in err
    assert cli_main(["demo", "--examples", "0"]) == 2
