"""The ``judge`` fixture end to end through pytest: record, replay offline, readable failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]


class _Grader(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible server on 127.0.0.1: full marks when the candidate says Paris."""

    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).calls.append(body)
        prompt = body["messages"][-1]["content"]
        fence = prompt.split("=====CANDIDATE-", 2)[-1]  # after the fence line is named: the candidate
        good = "Paris" in fence
        content = json.dumps(
            {"rationale": "names Paris" if good else "wrong city", "scores": {"correct": 2 if good else 1}}
        )
        data = json.dumps(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def grader(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Grader]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Grader)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Grader.calls = []
    monkeypatch.setenv("BROWNOUT_JUDGE_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("BROWNOUT_JUDGE_MODEL", "smollm2")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-never-be-stored-0000")
    try:
        yield _Grader
    finally:
        server.shutdown()
        server.server_close()


TESTS = """
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
    verdict = judge(run.output, RUBRIC, context="What is the capital of France?")
    assert verdict.passed

def test_wrong(chaos, judge):
    run = chaos.run(answer, "Berlin")
    verdict = judge(run.output, RUBRIC, context="What is the capital of France?")
    assert verdict.passed

def test_without_chaos(judge):
    verdict = judge("Paris, of course.", RUBRIC, context="What is the capital of France?")
    verdict.assert_passed()
"""


def test_judge_fixture_records_then_replays_offline(
    pytester: pytest.Pytester, grader: type[_Grader], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_capitals=TESTS)
    recorded = pytester.runpytest("--chaos-record-mode=once")
    recorded.assert_outcomes(passed=2, failed=1)
    assert len(grader.calls) == 3
    cassettes = sorted(
        p.relative_to(pytester.path).as_posix() for p in (pytester.path / "cassettes").rglob("*.json")
    )
    assert cassettes == [
        "cassettes/test_capitals/test_right.json",
        "cassettes/test_capitals/test_without_chaos.json",
        "cassettes/test_capitals/test_wrong.json",
    ]
    stored = (pytester.path / "cassettes/test_capitals/test_right.json").read_text()
    assert "sk-test-should-never" not in stored
    # the failing assert shows the per-criterion table
    out = recorded.stdout.str()
    assert "brownout judge: capital" in out
    assert "Verdict FAILED: rubric 'capital', total 0.00 < threshold 1.00, judge smollm2" in out
    assert "correct    1       1/2    wrong city" in out

    # offline: the endpoint is gone, the verdicts replay from the cassettes
    monkeypatch.setenv("BROWNOUT_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    grader.calls.clear()
    replayed = pytester.runpytest()
    replayed.assert_outcomes(passed=2, failed=1)
    assert grader.calls == []
    assert "Verdict FAILED: rubric 'capital', total 0.00 < threshold 1.00" in replayed.stdout.str()


def test_judge_on_substituted_content_is_indeterminate(
    pytester: pytest.Pytester, grader: type[_Grader], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_sub="""
from judges import Rubric

RUBRIC = Rubric.from_dict({
    "name": "capital", "pass_threshold": 1.0,
    "criteria": [{"name": "correct", "description": "Is the capital right?",
                  "scale": {1: "wrong city", 2: "right city"}}],
})

def test_it(judge, request):
    city = request.config.getoption("--city")
    verdict = judge(f"The capital is {city}.", RUBRIC, context="What is the capital of France?")
    print("STATUS", verdict.status, verdict.passed)
    assert verdict.passed
"""
    )
    pytester.makeconftest("""
def pytest_addoption(parser):
    parser.addoption("--city", default="Paris")
""")
    pytester.runpytest("--chaos-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("BROWNOUT_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    # a different candidate: the judge request was never recorded
    strict = pytester.runpytest("--city=Lyon")
    strict.assert_outcomes(failed=1)
    assert "cassette miss" in strict.stdout.str()
    nearest = pytester.runpytest("--city=Lyon", "--chaos-miss=nearest", "-s")
    nearest.assert_outcomes(failed=1)
    out = nearest.stdout.str()
    assert "STATUS indeterminate None" in out
    assert "Verdict INDETERMINATE" in out and "substituted content" in out


def test_judge_sees_substituted_chaos_runs(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # A candidate produced by a run whose LLM call was substituted is indeterminate without asking.
    pytester.makepyfile(
        test_prov="""
from harness.events import LLMCall
from judges import Rubric

RUBRIC = {"name": "r", "criteria": [{"name": "ok", "description": "fine?", "scale": ["no", "yes"]}]}

def system():
    from harness.hooks import current_run
    ctx = current_run()
    ctx.emit(LLMCall, path="/v1/chat/completions", request_digest="d", source="substituted",
             response_text="recorded elsewhere")
    return {"text": "recorded elsewhere"}

def test_it(chaos, judge):
    run = chaos.run(system)
    verdict = judge(run.output, RUBRIC)
    assert verdict.status == "indeterminate" and verdict.passed is None
    assert "steps [1]" in verdict.reason
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
