"""Export run logs as OpenTelemetry spans named by the GenAI semantic conventions.

One trace per run, built with the OpenTelemetry SDK:

- ``invoke_workflow {entry}``: the run (``gen_ai.operation.name=invoke_workflow``,
  ``gen_ai.workflow.name``), with the fault plan, outcome and every injected fault,
  checker result and judge verdict as span events;
- ``invoke_agent {name}``: each ``agent(...)`` scope (``gen_ai.agent.name``, ``gen_ai.agent.id``);
- ``chat {model}``: each LLM call (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens``, ``gen_ai.response.finish_reasons``; span kind CLIENT);
- ``execute_tool {name}``: each ``@tool`` call (``gen_ai.tool.name``, ``gen_ai.tool.type``).

Failures set the span status to ERROR with ``error.type``. Message contents and tool
arguments are not exported (the conventions make content opt-in, and they may hold
personal data). Trace and span ids derive from the run id and the step, so exporting
the same log twice gives the same ids; timestamps are the run's virtual time added to
``epoch`` (default: now).

Destinations: an OTLP/HTTP endpoint (the SDK's ``OTLPSpanExporter``, protobuf) or a file
in the OTLP JSON format (an ``ExportTraceServiceRequest``), which :func:`load_otlp_json`
reads back into SDK spans.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._errors import OTelExportError, RunLogError
from harness._log._events import (
    AgentEnd,
    AgentStart,
    CheckResult,
    FaultInjected,
    LLMCall,
    Restart,
    RunEnd,
    RunStart,
    ToolCall,
    Verdict,
)
from harness._log._files import write_atomically
from harness._log._runlog import RunLog
from harness._log._secrets import scrub_text

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "OTelExportError",
    "add_arguments",
    "export_runs",
    "load_otlp_json",
    "main",
    "otlp_json",
    "spans_for",
]

_SCOPE = "brownout"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


# -- ids ------------------------------------------------------------------------------------------
def _hash_int(*parts: str, bits: int) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    value = int.from_bytes(digest[: bits // 8], "big")
    return value or 1  # 0 is the invalid id


def _ids() -> Any:
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class StepIds(IdGenerator):
        """Hands out the ids set just before each span starts (deterministic per run and step)."""

        def __init__(self) -> None:
            self.trace_id = 1
            self.span_id = 1

        def generate_span_id(self) -> int:
            return self.span_id

        def generate_trace_id(self) -> int:
            return self.trace_id

        def is_trace_id_random(self) -> bool:
            return False

    return StepIds()


# -- spans ----------------------------------------------------------------------------------------
def _ns(epoch_ns: int, t: float) -> int:
    return epoch_ns + round(max(t, 0.0) * 1e9)


def _status(error_type: str | None, message: str | None) -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.ERROR, message or error_type or "error")


def _emit_run(tracer: Any, ids: Any, log: RunLog, epoch_ns: int) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    run_id = log.run_id or "run"
    ids.trace_id = _hash_int(run_id, bits=128)
    start = next(iter(log.of(RunStart)), None)
    end = next(iter(reversed(log.of(RunEnd))), None)
    entry = start.entry if start is not None else "run"
    last_t = max((e.t for e in log), default=0.0)
    ids.span_id = _hash_int(run_id, "run", bits=64)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": entry,
        "brownout.run_id": run_id,
    }
    if start is not None and start.fault_plan not in (None, "", {}, []):
        attrs["brownout.fault_plan"] = json.dumps(start.fault_plan, sort_keys=True, default=str)
    test = log.meta.get("test") or (start.meta.get("test") if start is not None else None)
    if test:
        attrs["brownout.test"] = str(test)
    root = tracer.start_span(
        f"invoke_workflow {entry}",
        kind=SpanKind.INTERNAL,
        attributes=attrs,
        start_time=_ns(epoch_ns, 0.0),
        context=None,
    )
    spans: dict[str, Any] = {}  # step_id of an open agent -> its span

    def parent_of(step: str | None) -> Any:
        span = spans.get(step or "", root)
        return trace.set_span_in_context(span)

    for event in log:
        if isinstance(event, AgentStart):
            ids.span_id = _hash_int(run_id, event.step_id, bits=64)
            span = tracer.start_span(
                f"invoke_agent {event.name}",
                context=parent_of(event.parent_step_id),
                kind=SpanKind.INTERNAL,
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": event.name,
                    "gen_ai.agent.id": f"{run_id}/{event.step_id}",
                },
                start_time=_ns(epoch_ns, event.t),
            )
            spans[event.step_id] = span
        elif isinstance(event, AgentEnd):
            span = spans.pop(event.step_id, None)
            if span is None:
                continue
            if event.status != "ok":
                span.set_attribute("error.type", event.error_type or event.status)
                span.set_attribute("brownout.agent.status", event.status)
                span.set_status(_status(event.error_type or event.status, event.error))
            span.end(end_time=_ns(epoch_ns, event.t))
        elif isinstance(event, LLMCall):
            ids.span_id = _hash_int(run_id, event.step_id, bits=64)
            llm_attrs: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "brownout.llm.source": event.source,
                "brownout.llm.request_digest": event.request_digest,
                "url.path": event.path,
            }
            if event.model:
                llm_attrs["gen_ai.request.model"] = event.model
            if event.prompt_tokens is not None:
                llm_attrs["gen_ai.usage.input_tokens"] = event.prompt_tokens
            if event.completion_tokens is not None:
                llm_attrs["gen_ai.usage.output_tokens"] = event.completion_tokens
            if event.finish_reason:
                llm_attrs["gen_ai.response.finish_reasons"] = [event.finish_reason]
            if event.status_code is not None:
                llm_attrs["http.response.status_code"] = event.status_code
            if event.stream:
                llm_attrs["gen_ai.request.stream"] = True
            if event.agent:
                llm_attrs["gen_ai.agent.name"] = event.agent
            span = tracer.start_span(
                f"chat {event.model}" if event.model else "chat",
                context=parent_of(event.parent_step_id),
                kind=SpanKind.CLIENT,
                attributes=llm_attrs,
                start_time=_ns(epoch_ns, event.t - event.latency),
            )
            if event.error or (event.status_code or 0) >= 400:
                kind = event.error_type or str(event.status_code)
                span.set_attribute("error.type", kind)
                span.set_status(_status(kind, event.error))
            span.end(end_time=_ns(epoch_ns, event.t))
        elif isinstance(event, ToolCall):
            ids.span_id = _hash_int(run_id, event.step_id, bits=64)
            tool_attrs: dict[str, Any] = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": event.name,
                "gen_ai.tool.type": "function",
                "gen_ai.tool.call.id": f"{run_id}/{event.step_id}",
                "brownout.tool.side_effect": event.side_effect,
                "brownout.tool.attempt": event.attempt,
                "brownout.tool.status": event.status,
                "brownout.tool.replayed": event.replayed,
            }
            if event.idempotency_key is not None:
                tool_attrs["brownout.tool.idempotency_key"] = event.idempotency_key
            span = tracer.start_span(
                f"execute_tool {event.name}",
                context=parent_of(event.parent_step_id),
                kind=SpanKind.INTERNAL,
                attributes=tool_attrs,
                start_time=_ns(epoch_ns, event.t - event.latency),
            )
            if event.status != "ok":
                span.set_attribute("error.type", event.error_type or event.status)
                span.set_status(_status(event.error_type or event.status, event.error))
            span.end(end_time=_ns(epoch_ns, event.t))
        elif isinstance(event, FaultInjected):
            target = spans.get(event.parent_step_id or "", root)
            fault_attrs: dict[str, Any] = {
                "brownout.fault.site": event.site,
                "brownout.fault.effect": event.effect,
            }
            if event.target:
                fault_attrs["brownout.fault.target"] = event.target
            if event.call is not None:
                fault_attrs["brownout.fault.call"] = event.call
            target.add_event(
                "brownout.fault_injected", attributes=fault_attrs, timestamp=_ns(epoch_ns, event.t)
            )
        elif isinstance(event, Restart):
            # The crashed incarnation's agents never ended: their spans end at the restart.
            for step in list(spans):
                span = spans.pop(step)
                span.set_attribute("brownout.agent.status", "crashed")
                span.set_status(_status("ProcessCrashed", f"the system crashed ({event.point})"))
                span.end(end_time=_ns(epoch_ns, event.t))
            root.add_event(
                "brownout.restart",
                attributes={
                    "brownout.restart.point": event.point,
                    "brownout.restart.site": event.site,
                    "brownout.restart.incarnation": event.incarnation,
                },
                timestamp=_ns(epoch_ns, event.t),
            )
        elif isinstance(event, CheckResult):
            root.add_event(
                "brownout.check_result",
                attributes={
                    "brownout.checker": event.checker,
                    "brownout.check.passed": event.passed,
                    "brownout.check.violations": len(event.violations),
                },
                timestamp=_ns(epoch_ns, event.t),
            )
        elif isinstance(event, Verdict):
            verdict_attrs: dict[str, Any] = {
                "gen_ai.evaluation.name": event.rubric,
                "brownout.verdict.status": event.status,
            }
            if event.score is not None:
                verdict_attrs["gen_ai.evaluation.score.value"] = float(event.score)
            if event.passed is not None:
                verdict_attrs["gen_ai.evaluation.score.label"] = "pass" if event.passed else "fail"
            root.add_event(
                "gen_ai.evaluation.result", attributes=verdict_attrs, timestamp=_ns(epoch_ns, event.t)
            )
    for step in list(spans):  # agents still open when the run ended
        span = spans.pop(step)
        span.set_attribute("brownout.agent.status", "open")
        span.end(end_time=_ns(epoch_ns, last_t))
    if end is not None:
        root.set_attribute("brownout.run.status", end.status)
        if end.status != "ok":
            root.set_attribute("error.type", end.error_type or end.status)
            root.set_status(_status(end.error_type or end.status, end.error))
    root.end(end_time=_ns(epoch_ns, last_t))


def spans_for(
    logs: Iterable[RunLog],
    *,
    epoch: float | None = None,
    service_name: str = "brownout",
    exporter: SpanExporter | None = None,
) -> list[ReadableSpan]:
    """Turn run logs into finished SDK spans (and hand them to ``exporter`` if one is given).

    Args:
        logs: The runs to export, one trace each.
        epoch: Wall-clock seconds (Unix time) that virtual time 0 of every run maps to;
            default: now.
        service_name: The resource's ``service.name``.
        exporter: An SDK ``SpanExporter`` (OTLP, console, in-memory, ...) to send the spans to.
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    ids = _ids()
    # Resource(...) rather than Resource.create(...): no detectors, no random service.instance.id.
    provider = TracerProvider(resource=Resource({"service.name": service_name}), id_generator=ids)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(_SCOPE)
    epoch_ns = round((time.time() if epoch is None else epoch) * 1e9)
    for log in logs:
        # The log as it is written (scrubbed): an in-memory log must not export what a file would not hold.
        _emit_run(tracer, ids, RunLog.loads(log.dumps(), source=f"run {log.run_id}"), epoch_ns)
    provider.shutdown()
    return list(memory.get_finished_spans())


# -- OTLP JSON ------------------------------------------------------------------------------------
def _hex_ids(node: Any, to_hex: bool) -> Any:
    """Convert the id fields between proto3 JSON (base64) and OTLP JSON (hex), recursively."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str) and value:
                out[key] = (
                    base64.b64decode(value).hex()
                    if to_hex
                    else base64.b64encode(bytes.fromhex(value)).decode()
                )
            else:
                out[key] = _hex_ids(value, to_hex)
        return out
    if isinstance(node, list):
        return [_hex_ids(v, to_hex) for v in node]
    return node


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The spans as an OTLP JSON ``ExportTraceServiceRequest`` (hex ids, integer enums, camelCase)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    message = encode_spans(spans)
    data = MessageToDict(message, use_integers_for_enums=True, preserving_proto_field_name=False)
    return dict(_hex_ids(data, to_hex=True))


def load_otlp_json(path: str | os.PathLike[str]) -> list[ReadableSpan]:
    """Read an OTLP JSON trace file back into OpenTelemetry SDK spans.

    The file is validated against the OTLP protobuf schema on the way (an unknown field
    or a wrong type is an :class:`OTelExportError` naming the file).
    """
    from google.protobuf.json_format import ParseDict, ParseError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise OTelExportError(f"{source}: not a readable OTLP JSON file ({exc}).") from None
    try:
        request = ParseDict(_hex_ids(data, to_hex=False), ExportTraceServiceRequest())
    except (ParseError, ValueError) as exc:
        raise OTelExportError(
            f"{source}: not valid OTLP JSON ({exc}). Expected an ExportTraceServiceRequest "
            '{"resourceSpans": [...]} as written by `brownout export-otel --out`.'
        ) from None

    def value(any_value: Any) -> Any:
        which = any_value.WhichOneof("value")
        if which == "array_value":
            return tuple(value(v) for v in any_value.array_value.values)
        return getattr(any_value, which) if which else None

    def attributes(kvs: Any) -> dict[str, Any]:
        return {kv.key: value(kv.value) for kv in kvs}

    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version or None)
            for s in scope_spans.spans:
                trace_id = int.from_bytes(s.trace_id, "big")
                context = SpanContext(trace_id, int.from_bytes(s.span_id, "big"), False, TraceFlags(1))
                parent = (
                    SpanContext(trace_id, int.from_bytes(s.parent_span_id, "big"), False, TraceFlags(1))
                    if s.parent_span_id
                    else None
                )
                events = [Event(e.name, attributes(e.attributes), e.time_unix_nano) for e in s.events]
                code = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}[s.status.code]
                spans.append(
                    ReadableSpan(
                        name=s.name,
                        context=context,
                        parent=parent,
                        resource=resource,
                        attributes=attributes(s.attributes),
                        events=events,
                        kind=SpanKind(max(s.kind - 1, 0)),
                        status=Status(code, s.status.message or None),
                        start_time=s.start_time_unix_nano,
                        end_time=s.end_time_unix_nano,
                        instrumentation_scope=scope,
                    )
                )
    return spans


# -- inputs and destinations ----------------------------------------------------------------------
def _collect_logs(paths: Sequence[str]) -> list[RunLog]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.rglob("*.jsonl"))
            if not found:
                raise OTelExportError(f"{p}: no run logs (*.jsonl) in this directory.")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise OTelExportError(
                f"{p}: no such file or directory. Pass run log files (*.jsonl) or a directory holding them, "
                "e.g. reports/latest/runs."
            )
    logs = []
    for f in files:
        try:
            logs.append(RunLog.read(f))
        except RunLogError as exc:
            raise OTelExportError(str(exc)) from None
    return logs


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, val = pair.partition("=")
        if not sep or not key:
            raise OTelExportError(f"--header {pair!r}: expected KEY=VALUE, e.g. --header 'x-team=checkout'.")
        out[key.strip()] = val.strip()
    return out


def export_runs(
    logs: Iterable[RunLog],
    *,
    endpoint: str | None = None,
    out: str | os.PathLike[str] | None = None,
    headers: Mapping[str, str] | None = None,
    epoch: float | None = None,
    service_name: str = "brownout",
    timeout: float = 10.0,
) -> list[ReadableSpan]:
    """Export run logs as GenAI spans to an OTLP/HTTP endpoint and/or an OTLP JSON file.

    Args:
        logs: The runs to export.
        endpoint: OTLP/HTTP traces URL, e.g. ``http://127.0.0.1:4318/v1/traces``.
        out: Path of an OTLP JSON file to write.
        headers: Extra HTTP headers for the endpoint (e.g. an auth token; never written anywhere).
        epoch: Unix time that virtual time 0 maps to (default: now).
        service_name: The resource's ``service.name``.
        timeout: Seconds to wait for the endpoint.

    Returns:
        The exported spans.
    """
    if endpoint is None and out is None:
        raise OTelExportError(
            "export_runs: no destination. Pass endpoint='http://HOST:4318/v1/traces' (OTLP/HTTP) "
            "and/or out='trace.json' (OTLP JSON file)."
        )
    exporter: _CheckedExporter | None = None
    if endpoint is not None:
        if not endpoint.startswith(("http://", "https://")):
            raise OTelExportError(
                f"endpoint={endpoint!r}: an OTLP/HTTP endpoint is an http(s) URL such as "
                "http://127.0.0.1:4318/v1/traces."
            )
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise OTelExportError(
                "exporting to an OTLP endpoint needs the package opentelemetry-exporter-otlp-proto-http; "
                "install it with `pip install opentelemetry-exporter-otlp-proto-http`, or write a file with "
                "--out."
            ) from None
        exporter = _CheckedExporter(
            OTLPSpanExporter(endpoint=endpoint, headers=dict(headers or {}), timeout=timeout)
        )
    spans = spans_for(logs, epoch=epoch, service_name=service_name, exporter=exporter)  # type: ignore[arg-type]
    if exporter is not None and exporter.failed:
        raise OTelExportError(
            f"the OTLP endpoint {endpoint} did not accept the spans ({exporter.failed} export call(s) "
            "failed). Check that a collector listens there (OTLP/HTTP, path /v1/traces)."
        )
    if out is not None:
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(otlp_json(spans), indent=1, sort_keys=True) + "\n"
        write_atomically(target, scrub_text(text).encode("utf-8"))
    return spans


class _CheckedExporter:
    """Wraps an exporter and counts failed exports (the SDK's processors only log them)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        result = self.inner.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failed += 1
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


# -- CLI ------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout export-otel``."""
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="RUNLOG",
        help="run log files (*.jsonl) or directories holding them (e.g. reports/latest/runs)",
    )
    parser.add_argument(
        "--endpoint", default=None, help="OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces"
    )
    parser.add_argument("--out", default=None, metavar="FILE", help="write an OTLP JSON file")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra HTTP header for the endpoint (repeatable)",
    )
    parser.add_argument(
        "--epoch",
        type=float,
        default=None,
        metavar="UNIX_SECONDS",
        help="wall-clock time that each run's virtual time 0 maps to (default: now)",
    )
    parser.add_argument("--service-name", default="brownout", help="resource service.name (default brownout)")


def main(args: argparse.Namespace) -> int:
    """Export the given run logs; print how many spans went where."""
    try:
        logs = _collect_logs(args.paths)
        spans = export_runs(
            logs,
            endpoint=args.endpoint,
            out=args.out,
            headers=_headers(args.header),
            epoch=args.epoch,
            service_name=args.service_name,
        )
    except OTelExportError as exc:
        print(f"brownout export-otel: {exc}", file=sys.stderr)
        return 2
    where = " and ".join(w for w in (args.endpoint, args.out) if w)
    print(f"exported {len(spans)} span(s) from {len(logs)} run(s) to {where}")
    return 0
