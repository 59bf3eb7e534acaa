"""LLM calls over legacy ``httpx`` (the openai SDK 2.x, CrewAI) are captured, replayed and faulted
like calls over ``httpx2``: the same ``llm_call`` events, fault sites and cassettes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from faults import Fault, FaultPlan, RateLimit, ServerError, Timeout
from harness import agent, run_system
from harness.cassettes import Cassette

httpx = pytest.importorskip("httpx", reason="legacy httpx is not installed (openai 2.x and CrewAI bring it)")

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def _transport(seen: list[Any]) -> Any:
    def handle(request: Any) -> Any:
        seen.append(request)
        return httpx.Response(200, json=COMPLETION)

    return httpx.MockTransport(handle)


def _system(seen: list[Any]) -> Any:
    def system() -> Any:
        with (
            httpx.Client(transport=_transport(seen), base_url="http://127.0.0.1:9/v1") as client,
            agent("bot"),
        ):
            response = client.post("/chat/completions", json={"model": "m", "messages": [{"role": "user"}]})
            return response.status_code, response.json()["choices"][0]["message"]["content"]

    return system


def _plan(effect: Any) -> FaultPlan:
    return FaultPlan(faults=[Fault(site="llm", target="bot", call=1, effect=effect)])


def test_a_call_over_httpx_is_an_llm_call_event() -> None:
    seen: list[Any] = []
    run = run_system(_system(seen))
    assert run.output == (200, "hi")
    (call,) = [e for e in run.log if e.kind == "llm_call"]
    assert (call.agent, call.path, call.model, call.status_code, call.source) == (
        "bot",
        "/v1/chat/completions",
        "m",
        200,
        "live",
    )
    assert call.response_text == "hi"


@pytest.mark.parametrize(
    ("effect", "status"), [(ServerError(status=503), 503), (RateLimit(retry_after=2), 429)]
)
def test_a_fault_reply_is_an_httpx_response(effect: Any, status: int) -> None:
    seen: list[Any] = []

    def system() -> Any:
        with (
            httpx.Client(transport=_transport(seen), base_url="http://127.0.0.1:9/v1") as client,
            agent("bot"),
        ):
            response = client.post("/chat/completions", json={"model": "m", "messages": []})
            return type(response), response.status_code

    run = run_system(system, hooks=_plan(effect).hooks())
    assert run.output == (httpx.Response, status)
    assert seen == []  # answered by the fault: the server never saw it
    (call,) = [e for e in run.log if e.kind == "llm_call"]
    assert (call.status_code, call.source) == (status, "injected")


def test_a_timeout_raises_httpx_own_read_timeout_in_virtual_time() -> None:
    run = run_system(_system([]), hooks=_plan(Timeout(after=30)).hooks())
    assert type(run.error) is httpx.ReadTimeout  # what the openai SDK 2.x catches as a timeout
    assert run.log[-1].t >= 30


def test_recorded_over_httpx_replays_offline(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    seen: list[Any] = []
    cassette = Cassette(path, record_mode="once")
    recorded = run_system(_system(seen), cassette=cassette)
    cassette.close()
    assert len(seen) == 1
    stored = json.loads(path.read_text())
    assert len(stored["interactions"]) == 1
    replayed = run_system(_system(seen), cassette=Cassette(path, record_mode="none"))
    assert replayed.output == recorded.output == (200, "hi")
    assert len(seen) == 1  # the replay never reached the transport
    assert [e.source for e in replayed.log if e.kind == "llm_call"] == ["replayed"]


def test_brownout_works_without_httpx2(tmp_path: Path) -> None:
    """With httpx2 not importable (an openai 2.x environment): import, capture, fault and replay."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["httpx2"] = None  # not installed
        import httpx
        import harness, faults, judges, scenarios
        from faults import Fault, FaultPlan, ServerError
        from harness import agent, run_system
        from harness.cassettes import Cassette

        def handle(request):
            return httpx.Response(200, json={{"choices": [{{"message": {{"content": "hi"}}}}]}})

        def system():
            with httpx.Client(transport=httpx.MockTransport(handle), base_url="http://127.0.0.1:9/v1") as c:
                with agent("bot"):
                    return c.post("/chat/completions", json={{"model": "m", "messages": []}}).status_code

        path = {str(tmp_path / "c.json")!r}
        cassette = Cassette(path, record_mode="once")
        assert run_system(system, cassette=cassette).output == 200
        cassette.close()
        assert run_system(system, cassette=Cassette(path, record_mode="none")).output == 200
        plan = FaultPlan(faults=[Fault(site="llm", target="bot", call=1, effect=ServerError())])
        assert run_system(system, hooks=plan.hooks()).output == 500
        print(sorted(m for m in ("httpx2", "httpcore2") if sys.modules.get(m) is not None))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
