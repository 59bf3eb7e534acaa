"""One attempt of one LLM request inside a run (an exchange), and the ``llm_call`` event it becomes."""

from __future__ import annotations

import contextvars
import threading
import weakref
import zlib
from collections import defaultdict
from typing import Any

from harness._capture._context import _FRAME, LLMSite, RunContext
from harness._capture._llm_anthropic import is_anthropic_path, request_messages
from harness._capture._llm_reply import decoded, reply_fields
from harness._capture._llm_request import RequestKey
from harness._log._events import LLMCall, LLMSource
from harness._log._secrets import scrub, scrub_json_text, scrub_text


# -- the exchange: one attempt of one LLM request ------------------------------------------
class Counts:
    """Per run and request digest: how often it was asked, and how often handed to the transport."""

    __slots__ = ("asked", "sent")

    def __init__(self) -> None:
        self.asked: dict[str, int] = defaultdict(int)
        self.sent: dict[str, int] = defaultdict(int)


OCCURRENCES: weakref.WeakKeyDictionary[RunContext, Counts] = weakref.WeakKeyDictionary()
OCC_LOCK = threading.Lock()


class Exchange:
    """One attempt of one LLM request inside a run, from request to (streamed) reply.

    The cassette layer reads the request key, agent, call position and
    ``cassette_occurrence`` from here and writes back where the reply came from
    (``source``).

    ``occurrence`` counts the identical requests the run *asked* (every attempt, also
    those a fault answered); ``cassette_occurrence`` counts those it *sent*, i.e. handed
    to the transport, numbered at the moment they are handed over. That is the "n" of
    "the n-th identical request gets the n-th recording": requests that overlap in time
    are numbered in the order they were sent, never in the order their replies arrive,
    so the numbering is the same in the recording and in every replay (under the virtual
    clock, a fault's latency moves a request's send time deterministically).
    """

    __slots__ = (
        "agent",
        "call",
        "cassette_occurrence",
        "ctx",
        "decision",
        "done",
        "key",
        "occurrence",
        "parent_step_id",
        "proceeded",
        "response",
        "source",
        "started",
        "substituted_for",
    )

    def __init__(self, ctx: RunContext, key: RequestKey) -> None:
        frame = _FRAME.get()
        self.ctx = ctx
        self.key = key
        self.agent = frame.name if frame else None
        self.parent_step_id = frame.step_id if frame else None
        self.call = ctx.count_llm(self.agent)
        with OCC_LOCK:
            counts = OCCURRENCES.get(ctx)
            if counts is None:
                counts = OCCURRENCES[ctx] = Counts()
            counts.asked[key.digest] += 1
            self.occurrence = counts.asked[key.digest]
        self.source: LLMSource = "live"
        self.cassette_occurrence: int | None = None
        self.decision: Any = None  # the cassette's decision, made once per attempt
        self.substituted_for: str | None = None
        self.started = ctx.now()
        self.proceeded = False
        self.response: Any = None  # an httpx2.Response or httpx.Response
        self.done = False

    def sending(self) -> None:
        """Mark the request as handed to the transport now, numbering it among identical ones."""
        self.proceeded = True
        with OCC_LOCK:
            counts = OCCURRENCES[self.ctx]
            counts.sent[self.key.digest] += 1
            self.cassette_occurrence = counts.sent[self.key.digest]

    def site(self, request: Any = None) -> LLMSite:
        return LLMSite(
            self.agent, self.call, self.key.path, self.key.model, self.key.digest, self.key.stream, request
        )

    # -- the event ---------------------------------------------------------------------
    def emit(
        self,
        *,
        status_code: int | None = None,
        content: bytes | None = None,
        content_type: str = "",
        error: BaseException | None = None,
    ) -> None:
        if self.done:
            return
        self.done = True
        fields: dict[str, Any] = {}
        if content is not None:
            fields = reply_fields(content, content_type, status_code)
        fields = scrub_reply(fields)
        if error is not None:
            fields["error"] = str(scrub(str(error)))[:2000] or type(error).__name__
            fields["error_type"] = type(error).__name__
        body = self.key.body if isinstance(self.key.body, dict) else {}
        self.ctx.emit(
            LLMCall,
            agent=self.agent,
            parent_step_id=self.parent_step_id,
            method=self.key.method,
            path=self.key.path,
            model=self.key.model,
            request_digest=self.key.digest,
            occurrence=self.occurrence,
            messages=request_messages(body) if is_anthropic_path(self.key.path) else messages_of(body),
            tools=tool_names(body),
            stream=self.key.stream,
            status_code=status_code,
            latency=round(self.ctx.now() - self.started, 9),
            source=self.source,
            **fields,
        )


EXCHANGE: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("brownout_exchange", default=None)


def current_exchange() -> Exchange | None:
    """The LLM request being sent in this context (set while the transport runs)."""
    return EXCHANGE.get()


def scrub_reply(fields: dict[str, Any]) -> dict[str, Any]:
    # The reply as a whole (a streamed one reassembled): a key split across chunks is whole here.
    text = fields.get("response_text")
    if isinstance(text, str):
        fields["response_text"] = scrub_text(text)
    calls = fields.get("tool_calls")
    if isinstance(calls, list):
        fields["tool_calls"] = [scrub_tool_call(c) for c in calls]
    return fields


def scrub_tool_call(call: Any) -> Any:
    if not isinstance(call, dict):
        return scrub(call)
    fn = call.get("function")
    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
        call = {**call, "function": {**fn, "arguments": scrub_json_text(fn["arguments"])}}
    elif isinstance(call.get("arguments"), str):
        call = {**call, "arguments": scrub_json_text(call["arguments"])}
    return scrub(call)


def messages_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        value = body.get("input", body.get("prompt"))
        if value is None:
            return []
        messages = value if isinstance(value, list) else [{"role": "user", "content": value}]
    if not isinstance(messages, list):
        return []
    return [m if isinstance(m, dict) else {"content": m} for m in messages]


def tool_names(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for item in body.get("tools") or ():
        if isinstance(item, dict):
            fn = item.get("function")
            name = fn.get("name") if isinstance(fn, dict) else item.get("name")
            if isinstance(name, str):
                names.append(name)
    return names


def emit_response(
    ex: Exchange, response: Any, raw: bytes | None = None, error: BaseException | None = None
) -> None:
    content_type = response.headers.get("content-type", "")
    if raw is None:
        content = response.content
    else:
        try:
            content = decoded(raw, response.headers.get("content-encoding", ""))
        except zlib.error:
            content = b""
    ex.emit(status_code=response.status_code, content=content, content_type=content_type, error=error)
