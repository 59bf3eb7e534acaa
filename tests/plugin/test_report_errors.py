"""Reports never say pass for a failure: tests that fail before any run get an ``error`` row."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._report import read_results, results_frame

pytest_plugins = ["pytester"]

SYSTEM = """
import openai
from harness import agent, tool


@tool
def lookup(q):
    return "facts about " + q


async def asks():
    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-none", max_retries=0)
    async with agent("asker"):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


async def offline():
    async with agent("worker"):
        return lookup("cats")
"""

TESTS = """
import system


def test_misses(chaos):
    chaos.run(system.asks)


def test_passes(chaos):
    assert chaos.run(system.offline).output == "facts about cats"
"""


def _rows(directory: Path) -> dict[str, str]:
    frame = results_frame(read_results(directory))
    return {t.split("::")[-1]: o for t, o in zip(frame.test, frame.outcome, strict=True)}


def test_a_cassette_miss_is_an_error_row_beside_the_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(system=SYSTEM, test_mixed=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--chaos-report=rep")
    result.assert_outcomes(passed=1, failed=1)
    out = pytester.path / "rep"
    assert _rows(out) == {"test_misses": "error", "test_passes": "pass"}
    frame = results_frame(read_results(out)).set_index("test")
    miss = frame.loc["test_mixed.py::test_misses"]
    assert miss.error_type == "CassetteMiss" and "cassette miss" in miss.error and miss.final
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "2 test(s)" in summary and "1 error" in summary and "1 pass" in summary, summary
    assert "test_misses" in summary
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "1 error" in page and "test_mixed.py::test_misses" in page
    result.stdout.fnmatch_lines(["*2 run(s) of 2 test(s): 1 error, 1 pass*"])


def test_a_report_is_written_when_every_test_failed_before_a_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        system=SYSTEM,
        test_all_fail="""
import pytest
import system

def test_misses(chaos):
    chaos.run(system.asks)

@pytest.mark.chaos(cassette="../../outside/evil.json")
def test_bad_marker(chaos):
    chaos.run(system.offline)
""",
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--chaos-report=rep")
    result.assert_outcomes(failed=1, errors=1)
    out = pytester.path / "rep"
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()
    assert _rows(out) == {"test_misses": "error", "test_bad_marker": "error"}
    frame = results_frame(read_results(out)).set_index("test")
    bad = frame.loc["test_all_fail.py::test_bad_marker"]
    assert (
        bad.error_type == "CassetteError" and "outside the rootdir" in bad.error and "(in setup)" in bad.error
    )


def test_an_unscored_verdict_is_not_a_pass() -> None:
    from harness._report import classify

    common = {
        "error": False,
        "violated": False,
        "assertion_failed": False,
        "judge_failed": False,
        "judged": True,
        "substituted": False,
        "judge_indeterminate": False,
        "faults_injected": 0,
    }
    assert classify(**common) == "pass"
    assert classify(**common, judge_unscored=True) == "unscored"


def test_brownout_errors_show_the_message_not_the_internals(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(system=SYSTEM, test_mixed=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_misses")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    # the message: what happened (the value), the rule, the fix
    assert "CassetteMiss: cassette miss:" in out and "digest" in out
    assert "Replay never touches the network" in out and "--chaos-record-mode=new_episodes" in out
    result.stdout.fnmatch_lines(["test_mixed.py:5: in test_misses", "    chaos.run(system.asks)"])
    internals = [line for line in out.splitlines() if "/harness/" in line or "harness/_" in line]
    assert not internals, internals
    full = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_misses", "--full-trace").stdout.str()
    assert "harness/_pytest/_fixture.py" in full or "harness/_run/_runner.py" in full
