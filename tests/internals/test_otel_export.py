"""OpenTelemetry export: GenAI spans built with the SDK, OTLP JSON that loads back, a real OTLP/HTTP POST."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _support.report_logs import LogBuilder, checkout_log
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind, StatusCode

from harness._report._otel import OTelExportError, export_runs, load_otlp_json, otlp_json, spans_for
from harness.cli import main as cli_main

EPOCH = 1_700_000_000.0


def _by_name(spans: Any) -> dict[str, Any]:
    return {s.name: s for s in spans}


def test_spans_follow_the_genai_conventions() -> None:
    spans = spans_for([checkout_log("r1", fault="error")], epoch=EPOCH)
    names = [s.name for s in spans]
    assert sorted(set(names)) == [
        "chat smollm2",
        "execute_tool charge_card",
        "execute_tool send_email",
        "invoke_agent notifier",
        "invoke_agent orchestrator",
        "invoke_agent payments",
        "invoke_workflow shop.checkout:run",
    ]
    by = _by_name(spans)
    root, orch, pay = (
        by["invoke_workflow shop.checkout:run"],
        by["invoke_agent orchestrator"],
        by["invoke_agent payments"],
    )
    assert root.parent is None and root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert orch.parent.span_id == root.context.span_id
    assert pay.parent.span_id == orch.context.span_id
    assert pay.attributes["gen_ai.agent.name"] == "payments"
    tools = [s for s in spans if s.name == "execute_tool charge_card"]
    assert all(t.parent.span_id == pay.context.span_id for t in tools)
    failed = [t for t in tools if t.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1 and failed[0].attributes["error.type"] == "RuntimeError"
    assert failed[0].attributes["gen_ai.tool.name"] == "charge_card"
    assert failed[0].attributes["brownout.tool.side_effect"] is True
    chat = next(s for s in spans if s.name == "chat smollm2" and s.parent.span_id == orch.context.span_id)
    assert chat.kind is SpanKind.CLIENT
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "smollm2"
    assert (chat.attributes["gen_ai.usage.input_tokens"], chat.attributes["gen_ai.usage.output_tokens"]) == (
        20,
        10,
    )
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    # virtual time: the first LLM call took 0.5 s, starting at t=0
    assert (chat.start_time, chat.end_time) == (int(EPOCH * 1e9), int(EPOCH * 1e9) + 500_000_000)
    fault = pay.events[0]
    assert fault.name == "brownout.fault_injected" and fault.attributes["brownout.fault.effect"] == "error"
    assert len({s.context.trace_id for s in spans}) == 1


def test_failed_run_and_agent_are_errors_and_verdicts_are_evaluation_events() -> None:
    b = LogBuilder("v1")
    b.agent("writer")
    b.llm()
    b.end_agent(status="timeout", error="sub-agent timed out")
    b.verdict("accuracy", 2.0, False)
    spans = _by_name(spans_for([b.end(status="error", error="boom")], epoch=EPOCH))
    writer = spans["invoke_agent writer"]
    assert writer.status.status_code is StatusCode.ERROR
    assert writer.attributes["brownout.agent.status"] == "timeout"
    root = spans["invoke_workflow shop.checkout:run"]
    assert root.status.status_code is StatusCode.ERROR and root.status.description == "boom"
    evaluation = next(e for e in root.events if e.name == "gen_ai.evaluation.result")
    assert evaluation.attributes["gen_ai.evaluation.name"] == "accuracy"
    assert evaluation.attributes["gen_ai.evaluation.score.value"] == 2.0
    assert evaluation.attributes["gen_ai.evaluation.score.label"] == "fail"


def test_ids_are_deterministic_per_run_and_step() -> None:
    first = spans_for([checkout_log("same")], epoch=EPOCH)
    second = spans_for([checkout_log("same")], epoch=EPOCH)
    other = spans_for([checkout_log("other")], epoch=EPOCH)
    assert [(s.context.trace_id, s.context.span_id) for s in first] == [
        (s.context.trace_id, s.context.span_id) for s in second
    ]
    assert first[0].context.trace_id != other[0].context.trace_id
    assert len({s.context.span_id for s in first}) == len(first)


def test_otlp_json_file_validates_and_loads_back(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    logs = [checkout_log("a", fault="timeout"), checkout_log("b", crash=True)]
    spans = export_runs(logs, out=out, epoch=EPOCH)
    data = json.loads(out.read_text(encoding="utf-8"))
    exported = data["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(exported) == len(spans) == 17
    # OTLP JSON: hex ids (32 / 16 chars), integer span kinds, camelCase names
    assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in exported)
    assert {s["kind"] for s in exported} == {1, 3}
    assert "startTimeUnixNano" in exported[0]
    # and the protobuf schema accepts it once the ids are in proto3's base64 form
    from harness._report._otel import _hex_ids

    ParseDict(_hex_ids(data, to_hex=False), ExportTraceServiceRequest())
    loaded = load_otlp_json(out)
    assert [(s.name, s.context.span_id, s.parent.span_id if s.parent else None) for s in loaded] == [
        (s.name, s.context.span_id, s.parent.span_id if s.parent else None) for s in spans
    ]
    assert [dict(s.attributes) for s in loaded] == [dict(s.attributes) for s in spans]
    assert [(s.start_time, s.end_time, s.kind, s.status.status_code) for s in loaded] == [
        (s.start_time, s.end_time, s.kind, s.status.status_code) for s in spans
    ]
    assert loaded[0].resource.attributes["service.name"] == "brownout"
    assert otlp_json(loaded) == data  # a full round trip through the SDK's own encoder


def test_message_contents_are_not_exported(tmp_path: Path) -> None:
    b = LogBuilder("s1")
    b.agent("a")
    b.llm(text="the secret plan is sk-proj-AAAABBBBCCCCDDDDEEEE")
    out = tmp_path / "t.json"
    export_runs([b.end()], out=out, epoch=EPOCH)
    text = out.read_text(encoding="utf-8")
    assert "hello" not in text and "secret plan" not in text and "sk-proj" not in text


def test_invalid_otlp_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceSpans": [{"notAField": 1}]}), encoding="utf-8")
    with pytest.raises(OTelExportError, match=r"bad.json: not valid OTLP JSON"):
        load_otlp_json(bad)


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, type[_Collector]]]:
    handler = type("Collector", (_Collector,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", handler
    finally:
        server.shutdown()
        server.server_close()


def test_exports_protobuf_to_an_otlp_http_endpoint(collector: tuple[str, type[_Collector]]) -> None:
    url, handler = collector
    spans = export_runs([checkout_log("e1")], endpoint=url, headers={"x-team": "checkout"}, epoch=EPOCH)
    assert handler.received, "the collector got nothing"
    names = []
    for path, headers, body in handler.received:
        assert path == "/v1/traces"
        assert headers["content-type"] == "application/x-protobuf"
        assert headers["x-team"] == "checkout"
        request = ExportTraceServiceRequest.FromString(body)
        names += [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert sorted(names) == sorted(s.name for s in spans)


def test_an_endpoint_that_rejects_is_an_error(collector: tuple[str, type[_Collector]]) -> None:
    url, handler = collector
    handler.status = 400
    with pytest.raises(OTelExportError, match="did not accept the spans"):
        export_runs([checkout_log("e2")], endpoint=url, epoch=EPOCH)


def test_cli_exports_a_directory_of_run_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    checkout_log("c1").write(runs / "c1.jsonl")
    checkout_log("c2", fault="error").write(runs / "c2.jsonl")
    out = tmp_path / "trace.json"
    assert cli_main(["export-otel", str(runs), "--out", str(out), "--epoch", "0"]) == 0
    assert "exported 17 span(s) from 2 run(s)" in capsys.readouterr().out
    assert len(load_otlp_json(out)) == 17


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["missing.jsonl", "--out", "x.json"], "no such file or directory"),
        (["RUNS"], "no destination"),
        (["RUNS", "--endpoint", "127.0.0.1:4318"], "is an http(s) URL"),
        (
            ["RUNS", "--out", "x.json", "--endpoint", "http://127.0.0.1:9/v1/traces", "--header", "novalue"],
            "expected KEY=VALUE",
        ),
    ],
)
def test_cli_errors_say_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    runs = tmp_path / "runs"
    checkout_log("c1").write(runs / "c1.jsonl")
    argv = [str(runs) if a == "RUNS" else str(tmp_path / a) if a.endswith(".json") else a for a in argv]
    assert cli_main(["export-otel", *argv]) == 2
    assert needle in capsys.readouterr().err
