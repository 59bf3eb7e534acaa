"""The reliability report end to end through pytest: rows, outcomes, xdist, report files, progress."""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path

# loaded once here rather than in every in-process pytest run
import matplotlib.backends.backend_svg
import matplotlib.figure  # noqa: F401
import pandas as pd
import pytest

from harness._report import read_results, results_frame

pytest_plugins = ["pytester"]

# Imported once here, so that pytester's in-process runs reuse these modules instead of importing
# (and assertion-rewriting) them again in every run: that alone costs seconds per run.
for _module in (
    "hypothesis",
    "matplotlib.figure",
    "matplotlib.backends.backend_svg",
    "pyarrow.parquet",
    "faults",
    "harness._cassette._cassette",
    "harness._checkers._registry",
    "harness._checkers",
    "harness._pytest._fixture",
    "harness._report._build",
    "harness._pytest._session",
):
    importlib.import_module(_module)

SYSTEM = '''
import asyncio
from harness import agent, tool

SENT = []

@tool(side_effect=True)
def send_email(to, *, idempotency_key=None):
    SENT.append(to)
    return "sent"

async def notify_naive(users):
    """Swallows a failed send and still reports every user as notified."""
    async with agent("notifier"):
        done = []
        for user in users:
            try:
                send_email(user)
            except Exception:
                pass
            done.append(user)
            await asyncio.sleep(1)
    return {"notified": done}

async def notify_retry(users):
    """Retries a failed send once: recovers from a single fault."""
    async with agent("notifier"):
        for user in users:
            try:
                send_email(user)
            except ConnectionError:
                send_email(user)
            await asyncio.sleep(1)
    return {"notified": list(users)}

async def notify_strict(users):
    """Lets a failed send propagate: a loud failure."""
    async with agent("notifier"):
        for user in users:
            send_email(user)
            await asyncio.sleep(1)
    return {"notified": list(users)}
'''

TESTS = """
import pytest
import system

@pytest.mark.chaos(checks="none")
def test_naive(chaos):
    system.SENT.clear()
    run = chaos.run(system.notify_naive, ["a", "b"])
    assert run.output["notified"] == system.SENT, "reported users that never got the email"

@pytest.mark.chaos(checks="all")
def test_naive_checked(chaos):
    chaos.run(system.notify_naive, ["a", "b"])

def test_strict(chaos):
    run = chaos.run(system.notify_strict, ["a", "b"])
    assert run.output["notified"] == ["a", "b"]

def test_retry(chaos):
    chaos.run(system.notify_retry, ["a"])

def test_twice(chaos):
    for _ in range(3):
        chaos.run(system.notify_retry, ["c"])
"""


PLAN = json.dumps(
    {"faults": [{"site": "tool", "target": "send_email", "call": 1, "effect": {"kind": "error"}}]}
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(system=SYSTEM, test_notify=TESTS)
    return pytester


def _table(directory: Path) -> pd.DataFrame:
    # Read through brownout (pyarrow) rather than pandas' parquet engine: pytester unloads modules a
    # test imported, and pandas' arrow extension types cannot be registered twice in one process.
    frame = results_frame(read_results(directory))
    return frame.sort_values(["test", "index"]).reset_index(drop=True)


def test_baseline_rows_and_report(project: pytest.Pytester) -> None:
    out = project.path / "rep"
    result = project.runpytest("-p", "no:cacheprovider", f"--chaos-report={out}")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["*- brownout -*", "7 run(s) of 5 test(s): 7 pass", "report: *rep*report.html"]
    )
    frame = _table(out)
    assert list(frame.test.str.split("::").str[-1]) == [
        "test_naive",
        "test_naive_checked",
        "test_retry",
        "test_strict",
        "test_twice",
        "test_twice",
        "test_twice",
    ]
    assert set(frame.outcome) == {"pass"} and set(frame["mode"]) == {"baseline"}
    assert list(frame.final) == [True, True, True, True, False, False, True]
    assert frame.system.iloc[0] == "system:notify_naive"
    assert frame.tool_calls.iloc[0] == 2 and frame.duration.iloc[0] == 2.0
    assert frame.checkers_run.iloc[0] == ""  # checks="none"
    assert "duplicate_side_effects" in frame.checkers_run.iloc[1].split(",")
    assert (out / "summary.md").read_text(encoding="utf-8").startswith("## brownout reliability report")


def test_plain_pytest_writes_no_report_but_counts_runs(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["7 run(s) of 5 test(s): 7 pass"])
    assert not (project.path / "reports").exists()


def test_faulted_runs_are_classified_silent_loud_handled(project: pytest.Pytester) -> None:
    out = project.path / "rep"
    result = project.runpytest("-p", "no:cacheprovider", f"--chaos-report={out}", f"--chaos-plan={PLAN}")
    result.assert_outcomes(passed=2, failed=3)
    # silent failures are listed first in the terminal summary
    result.stdout.fnmatch_lines(
        [
            "7 run(s) of 5 test(s): 2 silent, 1 loud, 4 handled",
            "  silent        test_notify.py::test_naive  (assertion)",
            "  silent        test_notify.py::test_naive_checked  (unhandled_tool_failure)",
            "  loud          test_notify.py::test_strict  (ConnectionError)",
        ]
    )
    frame = _table(out).set_index("test")
    naive = frame.loc["test_notify.py::test_naive"]
    assert naive.outcome == "silent"
    assert "reported users that never got the email" in naive.assertion
    assert naive.fault_kinds == "tool.error" and naive.faults_injected == 1 and naive["mode"] == "plan"
    strict = frame.loc["test_notify.py::test_strict"]
    assert strict.outcome == "loud" and strict.error_type == "ConnectionError"
    # the reproduce command re-runs exactly this plan
    command = shlex.split(naive.reproduce)
    assert command[:2] == ["pytest", "test_notify.py::test_naive"]
    assert json.loads(command[2].split("=", 1)[1]) == json.loads(
        frame.loc["test_notify.py::test_naive"].fault_plan
    )
    # the failing runs' logs are stored and linked; the report shows the swimlane
    assert (out / naive.log).is_file() and (out / strict.log).is_file()
    checked = frame.loc["test_notify.py::test_naive_checked"]
    assert checked.outcome == "silent" and checked.checkers_violated == "unhandled_tool_failure"
    assert frame.loc["test_notify.py::test_retry"].outcome == "handled"
    assert frame.loc["test_notify.py::test_retry"].log == ""  # only failing runs keep their log
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'alt="swimlane of test_notify.py::test_naive"' in page
    assert page.index("test_notify.py::test_naive</code></h3>") < page.index(
        "test_notify.py::test_strict</code></h3>"
    )
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "tool[send_email]#1: error(ConnectionError)" in summary
    # and `brownout report` re-renders the same bytes from what is stored
    from harness.cli import main as cli_main

    before = page.encode("utf-8")
    assert cli_main(["report", str(out)]) == 0
    assert (out / "report.html").read_bytes() == before


def test_rows_from_xdist_workers_reach_the_controller(project: pytest.Pytester) -> None:
    out = project.path / "rep"
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", f"--chaos-report={out}", f"--chaos-plan={PLAN}"
    )
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(["7 run(s) of 5 test(s): 2 silent, 1 loud, 4 handled"])
    frame = _table(out)
    assert len(frame) == 7 and sorted(frame.outcome) == ["handled"] * 4 + ["loud", "silent", "silent"]
    assert "brownout" not in "".join(line for line in result.stdout.lines if line.startswith("[gw"))


def test_progress_lines_are_whole_lines_under_verbose(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROWNOUT_PROGRESS_INTERVAL", "0")
    result = project.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-v", "-k", "twice or retry")
    result.assert_outcomes(passed=2)
    lines = [line for line in result.stdout.lines if line.startswith("brownout: ") and "done" in line]
    pattern = (
        r"brownout: (\d)/2 test\(s\) done, (\d) run\(s\), 0 failing so far"
        r"(?:; now (\S+) \((\d) run\(s\), \d+ s\))?"
    )
    matches = [re.fullmatch(pattern, line) for line in lines]
    assert all(matches), lines  # whole lines, never glued to pytest's own output
    seen = [(m.group(1), m.group(2), (m.group(3) or "").split("::")[-1], m.group(4)) for m in matches if m]
    assert seen == [
        ("0", "1", "test_retry", "1"),
        ("1", "1", "", None),
        ("1", "2", "test_twice", "1"),
        ("1", "3", "test_twice", "2"),
        ("1", "4", "test_twice", "3"),
        ("2", "4", "", None),
    ]
    quiet = project.runpytest("-p", "no:cacheprovider", "-q", "-k", "twice")
    assert not [line for line in quiet.stdout.lines if "test(s) done" in line]


EXPLORE_TESTS = """
import pytest
import system

@pytest.mark.chaos(faults=["tool"], checks="none")
def test_naive(chaos):
    system.SENT.clear()
    run = chaos.run(system.notify_naive, ["a", "b"])
    assert run.output["notified"] == system.SENT, "reported users that never got the email"
"""


def test_chaos_exploration_rows_each_example_and_the_minimal_plan(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(system=SYSTEM, test_explore=EXPLORE_TESTS)
    out = pytester.path / "rep"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--chaos", "--chaos-examples=30", "--chaos-seed=3", f"--chaos-report={out}"
    )
    result.assert_outcomes(failed=1)
    frame = _table(out)
    assert len(frame) >= 3 and frame["index"].tolist() == list(range(len(frame)))
    assert frame.outcome.iloc[0] == "pass" and frame.faults_injected.iloc[0] == 0  # the baseline
    silent = frame[frame.outcome == "silent"]
    # every failing example is classified, not only the last: its own assertion made it silent
    assert len(silent) >= 2
    assert all("reported users that never got the email" in text for text in silent.assertion)
    assert set(frame.outcome) <= {"pass", "handled", "silent", "loud"}
    final = frame[frame.final]
    assert len(final) == 1 and final.index[0] == len(frame) - 1
    assert final.faults_planned.iloc[0] == 1  # shrunk to one fault
    assert "--chaos-plan=" in final.reproduce.iloc[0]
    # The silent failure was shrunk too: a one-fault example made the system lie.
    assert (silent.faults_planned == 1).any()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'alt="pass^k per test"' in page and 'alt="swimlane of test_explore.py::test_naive"' in page


JUDGED_TESTS = """
from judges import Rubric

RUBRIC = Rubric.from_dict({
    "name": "capital", "pass_threshold": 1.0,
    "criteria": [{"name": "correct", "description": "Is the capital right?",
                  "scale": {1: "wrong city", 2: "right city"}}],
})

def answer(city):
    return {"answer": f"The capital of France is {city}."}

def test_right(chaos, judge):
    run = chaos.run(answer, "Paris")
    assert judge(run.output, RUBRIC, context="What is the capital of France?").passed

def test_wrong(chaos, judge):
    run = chaos.run(answer, "Berlin")
    judge(run.output, RUBRIC, context="What is the capital of France?")  # judged, not asserted
"""


def test_judge_verdicts_reach_the_rows(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Grader(BaseHTTPRequestHandler):
        """An OpenAI-compatible judge endpoint on 127.0.0.1: full marks when the candidate says Paris."""

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            fence = body["messages"][-1]["content"].split("=====CANDIDATE-", 2)[-1]  # the fenced candidate
            scores = {"correct": 2 if "Paris" in fence else 1}
            message = {"role": "assistant", "content": json.dumps({"rationale": "checked", "scores": scores})}
            data = json.dumps({
                "id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59},
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Grader)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("BROWNOUT_JUDGE_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("BROWNOUT_JUDGE_MODEL", "smollm2")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-0000")
    try:
        pytester.makepyfile(test_capitals=JUDGED_TESTS)
        out = pytester.path / "rep"
        result = pytester.runpytest("--chaos-record-mode=once", f"--chaos-report={out}")
    finally:
        server.shutdown()
        server.server_close()
    result.assert_outcomes(passed=2)
    frame = _table(out).set_index("test")
    right = json.loads(frame.loc["test_capitals.py::test_right"].judges)
    wrong = frame.loc["test_capitals.py::test_wrong"]
    # each verdict with what it cost (the endpoint's usage: 50 prompt + 9 completion tokens)
    cost = {"prompt_tokens": 50, "completion_tokens": 9}
    assert right == {"capital": {"passed": True, "score": 1.0, "status": "scored", **cost}}
    assert json.loads(wrong.judges) == {
        "capital": {"passed": False, "score": 0.0, "status": "scored", **cost}
    }
    assert (wrong.judge_prompt_tokens, wrong.judge_completion_tokens) == (50, 9)
    # the test passed, yet its judge failed the output: a silent failure
    assert wrong.outcome == "silent" and frame.loc["test_capitals.py::test_right"].outcome == "pass"
