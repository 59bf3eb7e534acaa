"""LLM call capture: every request an httpx2 client sends to an LLM endpoint inside a run.

:func:`capture` (entered by the runner around every run) wraps ``httpx2.Client.send`` and
``httpx2.AsyncClient.send``. The wrappers sit above the transports, so they see each
request exactly once per attempt, whatever else (vcrpy, a cassette, a fault hook) sits
below them. For a request to an LLM endpoint inside an active run they

1. describe it (:class:`RequestKey`: method, path, the JSON body minus volatile and
   secret fields, and its digest);
2. hand it to the run's fault hooks (``RunHooks.llm_request`` / ``allm_request``), which
   may delay it, fail it, or answer it without touching the network;
3. emit one :class:`~harness._log._events.LLMCall` event with what came back - when the
   response is streamed (``stream=True``, the ``.stream()`` helper), once the stream is
   consumed or closed, from the parsed server-sent events.

Outside a run the wrappers cost one context-variable read. Requests that are not LLM
requests (local services, Toxiproxy's API) pass through untouched.

A request counts as an LLM request when its path ends in ``/chat/completions``,
``/completions``, ``/embeddings`` or ``/responses``, or when it carries the openai SDK's
``x-stainless-*`` headers.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx2
import orjson

from harness._capture._context import _FRAME, _RUN, LLMSite, RunContext
from harness._log._digest import digest
from harness._log._events import LLMCall, LLMSource
from harness._log._secrets import is_secret_name, scrub, scrub_json_text, scrub_query, scrub_text

__all__ = [
    "LLM_PATH_SUFFIXES",
    "VOLATILE_BODY_FIELDS",
    "Exchange",
    "RequestKey",
    "capture",
    "current_exchange",
    "describe_request",
    "is_llm_path",
    "parse_sse",
    "redact_query",
]

LLM_PATH_SUFFIXES = ("/chat/completions", "/completions", "/embeddings", "/responses")

# Body fields that identify the caller or the bookkeeping, not the question asked: they
# are kept in a cassette but left out of the request digest.
VOLATILE_BODY_FIELDS = frozenset({"user", "metadata", "store", "prompt_cache_key", "safety_identifier"})


def is_llm_path(path: str) -> bool:
    """Whether a request path names an LLM endpoint."""
    return path.rstrip("/").endswith(LLM_PATH_SUFFIXES)


def _is_llm_request(request: httpx2.Request) -> bool:
    if is_llm_path(request.url.path):
        return True
    return "x-stainless-lang" in request.headers


# -- request identity -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequestKey:
    """What identifies an LLM request: the basis of cassette matching.

    Attributes:
        method: HTTP method.
        path: URL path (no host: a recording replays against any base URL).
        query: Query parameters minus secret-named ones, sorted.
        body: The parsed JSON body, secrets scrubbed (volatile fields kept).
        canonical: What the digest is taken of: method, path, query, and the body minus
            volatile fields.
        digest: Hex digest of ``canonical``.
        model: The body's ``model`` field, if any.
        stream: Whether the body asks for a streamed reply.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    canonical: dict[str, Any]
    digest: str
    model: str | None
    stream: bool


def _parse_body(content: bytes | None) -> Any:
    if not content:
        return None
    head = content.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bytes_digest": digest(content.hex())}


def describe_request(method: str, path: str, query: str, content: bytes | None) -> RequestKey:
    """Describe a request for matching: the same inputs always give the same digest.

    Args:
        method: HTTP method.
        path: URL path.
        query: Raw query string (without ``?``).
        content: Raw request body.
    """
    params = tuple(
        sorted(
            (k, v)
            for k, v in scrub_query(parse_qsl(query, keep_blank_values=True))
            if not is_secret_name(k, bare_key=True)
        )
    )
    body = scrub(_parse_body(content))
    if isinstance(body, dict):
        stable: Any = {k: v for k, v in body.items() if k not in VOLATILE_BODY_FIELDS}
        model = body.get("model")
        stream = body.get("stream") is True
    else:
        stable, model, stream = body, None, False
    canonical: dict[str, Any] = {"method": method.upper(), "path": path, "body": stable}
    if params:
        canonical["query"] = [list(p) for p in params]
    return RequestKey(
        method=method.upper(),
        path=path,
        query=params,
        body=body,
        canonical=canonical,
        digest=digest(canonical),
        model=model if isinstance(model, str) else None,
        stream=stream,
    )


# describe_request is a pure function of its inputs, and a test replays the same requests
# run after run (every Hypothesis example asks them again): keep the recent keys, bounded
# by the bytes of the bodies they hold. Keys are shared, so nothing may mutate one.
_KEYS: dict[tuple[str, str, bytes, bytes | None], RequestKey] = {}
_KEYS_MAX_BYTES = 16_000_000
_KEYS_MAX_ENTRIES = 8192
_keys_bytes = 0
_KEYS_LOCK = threading.Lock()


def _key_of(request: httpx2.Request) -> RequestKey:
    global _keys_bytes
    try:
        content: bytes | None = request.content
    except httpx2.RequestNotRead:
        content = None
    url = request.url
    cache_key = (request.method, url.path, url.query, content)
    key = _KEYS.get(cache_key)
    if key is not None:
        return key
    key = describe_request(request.method, url.path, url.query.decode("ascii", "replace"), content)
    size = len(content or b"") + len(url.query) + 200
    with _KEYS_LOCK:
        while _KEYS and (_keys_bytes + size > _KEYS_MAX_BYTES or len(_KEYS) >= _KEYS_MAX_ENTRIES):
            oldest = next(iter(_KEYS))  # first in, first out
            del _KEYS[oldest]
            _keys_bytes -= len(oldest[3] or b"") + len(oldest[2]) + 200
        if size <= _KEYS_MAX_BYTES and cache_key not in _KEYS:
            _KEYS[cache_key] = key
            _keys_bytes += size
    return key


# -- the exchange: one attempt of one LLM request ------------------------------------------
class _Counts:
    """Per run and request digest: how often it was asked, and how often handed to the transport."""

    __slots__ = ("asked", "sent")

    def __init__(self) -> None:
        self.asked: dict[str, int] = defaultdict(int)
        self.sent: dict[str, int] = defaultdict(int)


_OCCURRENCES: weakref.WeakKeyDictionary[RunContext, _Counts] = weakref.WeakKeyDictionary()
_OCC_LOCK = threading.Lock()


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
        with _OCC_LOCK:
            counts = _OCCURRENCES.get(ctx)
            if counts is None:
                counts = _OCCURRENCES[ctx] = _Counts()
            counts.asked[key.digest] += 1
            self.occurrence = counts.asked[key.digest]
        self.source: LLMSource = "live"
        self.cassette_occurrence: int | None = None
        self.decision: Any = None  # the cassette's decision, made once per attempt
        self.substituted_for: str | None = None
        self.started = ctx.now()
        self.proceeded = False
        self.response: httpx2.Response | None = None
        self.done = False

    def sending(self) -> None:
        """Mark the request as handed to the transport now, numbering it among identical ones."""
        self.proceeded = True
        with _OCC_LOCK:
            counts = _OCCURRENCES[self.ctx]
            counts.sent[self.key.digest] += 1
            self.cassette_occurrence = counts.sent[self.key.digest]

    def site(self, request: httpx2.Request | None = None) -> LLMSite:
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
            fields = _reply_fields(content, content_type, status_code)
        fields = _scrub_reply(fields)
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
            messages=_messages_of(body),
            tools=_tool_names(body),
            stream=self.key.stream,
            status_code=status_code,
            latency=round(self.ctx.now() - self.started, 9),
            source=self.source,
            **fields,
        )


_EXCHANGE: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("brownout_exchange", default=None)


def current_exchange() -> Exchange | None:
    """The LLM request being sent in this context (set while the transport runs)."""
    return _EXCHANGE.get()


def _scrub_reply(fields: dict[str, Any]) -> dict[str, Any]:
    # The reply as a whole (a streamed one reassembled): a key split across chunks is whole here.
    text = fields.get("response_text")
    if isinstance(text, str):
        fields["response_text"] = scrub_text(text)
    calls = fields.get("tool_calls")
    if isinstance(calls, list):
        fields["tool_calls"] = [_scrub_tool_call(c) for c in calls]
    return fields


def _scrub_tool_call(call: Any) -> Any:
    if not isinstance(call, dict):
        return scrub(call)
    fn = call.get("function")
    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
        call = {**call, "function": {**fn, "arguments": scrub_json_text(fn["arguments"])}}
    elif isinstance(call.get("arguments"), str):
        call = {**call, "arguments": scrub_json_text(call["arguments"])}
    return scrub(call)


def _messages_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        value = body.get("input", body.get("prompt"))
        if value is None:
            return []
        messages = value if isinstance(value, list) else [{"role": "user", "content": value}]
    if not isinstance(messages, list):
        return []
    return [m if isinstance(m, dict) else {"content": m} for m in messages]


def _tool_names(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for item in body.get("tools") or ():
        if isinstance(item, dict):
            fn = item.get("function")
            name = fn.get("name") if isinstance(fn, dict) else item.get("name")
            if isinstance(name, str):
                names.append(name)
    return names


# -- reading replies ------------------------------------------------------------------------
def _reply_fields(content: bytes, content_type: str, status_code: int | None) -> dict[str, Any]:
    if "event-stream" in content_type or content.startswith((b"data:", b"event:")):
        return parse_sse(content.decode("utf-8", "replace"))
    try:
        data = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        text = content.decode("utf-8", "replace")
        return {"response_text": str(scrub(text))[:20000]}
    out = _from_json(data)
    if status_code is not None and status_code >= 400 and isinstance(data, dict):
        err = data.get("error")
        message = err.get("message") if isinstance(err, dict) else err
        out.setdefault("error", str(scrub(str(message or data)))[:2000])
        out.setdefault("error_type", f"HTTP {status_code}")
    return out


def _usage(out: dict[str, Any], usage: Any) -> None:
    if isinstance(usage, dict):
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if isinstance(prompt, int):
            out["prompt_tokens"] = prompt
        if isinstance(completion, int):
            out["completion_tokens"] = completion


def _from_json(data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        return out
    _usage(out, data.get("usage"))
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        message = first.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("content"), str):
                out["response_text"] = message["content"]
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                out["tool_calls"] = [c for c in calls if isinstance(c, dict)]
        elif isinstance(first.get("text"), str):  # legacy completions
            out["response_text"] = first["text"]
        if isinstance(first.get("finish_reason"), str):
            out["finish_reason"] = first["finish_reason"]
    elif isinstance(data.get("output"), list):  # the Responses API
        texts: list[str] = []
        calls = []
        for item in data["output"]:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "function_call":
                calls.append(
                    {
                        "id": item.get("call_id"),
                        "type": "function",
                        "function": {"name": item.get("name"), "arguments": item.get("arguments")},
                    }
                )
            for part in item.get("content") or ():
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        if texts:
            out["response_text"] = "".join(texts)
        if calls:
            out["tool_calls"] = calls
        if isinstance(data.get("status"), str):
            out["finish_reason"] = data["status"]
    return out


def parse_sse(text: str) -> dict[str, Any]:
    """The text, tool calls, finish reason and usage of a streamed reply (server-sent events).

    Understands chat-completion chunks (``choices[].delta``), legacy completion chunks and
    the Responses API's ``response.*`` events.
    """
    parts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(chunk, dict):
            continue
        _usage(out, chunk.get("usage"))
        kind = chunk.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            if kind == "response.output_text.delta" and isinstance(chunk.get("delta"), str):
                parts.append(chunk["delta"])
            elif kind == "response.completed" and isinstance(chunk.get("response"), dict):
                done = _from_json(chunk["response"])
                done.pop("response_text", None)
                out.update(done)
            continue
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if isinstance(delta.get("content"), str):
                    parts.append(delta["content"])
                for tc in delta.get("tool_calls") or ():
                    if not isinstance(tc, dict):
                        continue
                    slot = calls.setdefault(
                        int(tc.get("index", 0)), {"function": {"name": "", "arguments": ""}}
                    )
                    if tc.get("id"):
                        slot["id"] = tc["id"]
                    if tc.get("type"):
                        slot["type"] = tc["type"]
                    fn = tc.get("function")
                    if isinstance(fn, dict):
                        if fn.get("name"):
                            slot["function"]["name"] += fn["name"]
                        if fn.get("arguments"):
                            slot["function"]["arguments"] += fn["arguments"]
            elif isinstance(choice.get("text"), str):
                parts.append(choice["text"])
            if isinstance(choice.get("finish_reason"), str):
                out["finish_reason"] = choice["finish_reason"]
    if parts:
        out["response_text"] = "".join(parts)
    if calls:
        out["tool_calls"] = [calls[i] for i in sorted(calls)]
    return out


def _decoded(content: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(content, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(content)
        except zlib.error:
            return zlib.decompress(content, -zlib.MAX_WBITS)
    return content


def _emit_response(
    ex: Exchange, response: httpx2.Response, raw: bytes | None = None, error: BaseException | None = None
) -> None:
    content_type = response.headers.get("content-type", "")
    if raw is None:
        content = response.content
    else:
        try:
            content = _decoded(raw, response.headers.get("content-encoding", ""))
        except zlib.error:
            content = b""
    ex.emit(status_code=response.status_code, content=content, content_type=content_type, error=error)


# -- streams: emit when consumed or closed ---------------------------------------------------
class _Tap:
    """What both stream taps keep: the inner stream, the exchange, and the bytes seen so far."""

    def __init__(self, inner: Any, ex: Exchange, response: httpx2.Response) -> None:
        self._inner = inner
        self._ex = ex
        self._response = response
        self._chunks: list[bytes] = []
        self._error: BaseException | None = None
        self._started = False

    @property
    def elapsed(self) -> Any:
        return getattr(self._inner, "elapsed", None)


class _TapStream(_Tap, httpx2.SyncByteStream):
    """Passes a response stream through, keeping the bytes; emits the event on close."""

    def __iter__(self) -> Iterator[bytes]:
        if self._started:  # iterated again: the SDK drains a stream it stopped reading at [DONE]
            yield from self._inner
            return
        self._started = True
        try:
            for chunk in self._inner:
                self._chunks.append(chunk)
                yield chunk
        except GeneratorExit:  # the reader stopped early; close() emits what it saw
            raise
        except BaseException as exc:
            self._error = exc
            raise
        _emit_response(self._ex, self._response, b"".join(self._chunks))

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            _emit_response(self._ex, self._response, b"".join(self._chunks), self._error)


class _ATapStream(_Tap, httpx2.AsyncByteStream):
    """Async twin of :class:`_TapStream`."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:  # iterated again: the SDK drains a stream it stopped reading at [DONE]
            async for chunk in self._inner:
                yield chunk
            return
        self._started = True
        try:
            async for chunk in self._inner:
                self._chunks.append(chunk)
                yield chunk
        except GeneratorExit:  # the reader stopped early; aclose() emits what it saw
            raise
        except BaseException as exc:
            self._error = exc
            raise
        _emit_response(self._ex, self._response, b"".join(self._chunks))

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            _emit_response(self._ex, self._response, b"".join(self._chunks), self._error)


def _finish(ex: Exchange, response: httpx2.Response, is_async: bool) -> None:
    if not ex.proceeded or response is not ex.response:
        ex.source = "injected"
    if hasattr(response, "_content"):
        _emit_response(ex, response)
    elif is_async:
        response.stream = _ATapStream(response.stream, ex, response)
    else:
        response.stream = _TapStream(response.stream, ex, response)


def _failed(ex: Exchange, exc: BaseException) -> None:
    if not ex.proceeded:
        ex.source = "injected"
    ex.emit(error=exc)


# -- the client patches ----------------------------------------------------------------------
_ORIGINAL_SEND: Callable[..., httpx2.Response] = httpx2.Client.send
_ORIGINAL_ASEND: Callable[..., Any] = httpx2.AsyncClient.send


def _send(self: httpx2.Client, request: httpx2.Request, *args: Any, **kwargs: Any) -> httpx2.Response:
    ctx = _RUN.get()
    if ctx is None or not _is_llm_request(request):
        return _ORIGINAL_SEND(self, request, *args, **kwargs)
    ex = Exchange(ctx, _key_of(request))

    def proceed() -> httpx2.Response:
        ex.sending()
        token = _EXCHANGE.set(ex)
        try:
            response = _ORIGINAL_SEND(self, request, *args, **kwargs)
        finally:
            _EXCHANGE.reset(token)
        ex.response = response
        return response

    try:
        response = ctx.hooks.llm_request(ctx, ex.site(request), proceed)
        if not kwargs.get("stream", False) and not hasattr(response, "_content"):
            response.read()
    except BaseException as exc:
        _failed(ex, exc)
        raise
    _finish(ex, response, False)
    return response


async def _asend(
    self: httpx2.AsyncClient, request: httpx2.Request, *args: Any, **kwargs: Any
) -> httpx2.Response:
    ctx = _RUN.get()
    if ctx is None or not _is_llm_request(request):
        return await _ORIGINAL_ASEND(self, request, *args, **kwargs)  # type: ignore[no-any-return]
    ex = Exchange(ctx, _key_of(request))

    async def proceed() -> httpx2.Response:
        ex.sending()
        token = _EXCHANGE.set(ex)
        try:
            response: httpx2.Response = await _ORIGINAL_ASEND(self, request, *args, **kwargs)
        finally:
            _EXCHANGE.reset(token)
        ex.response = response
        return response

    try:
        response = await ctx.hooks.allm_request(ctx, ex.site(request), proceed)
        if not kwargs.get("stream", False) and not hasattr(response, "_content"):
            await response.aread()
    except BaseException as exc:
        _failed(ex, exc)
        raise
    _finish(ex, response, True)
    return response


_PATCH_LOCK = threading.Lock()
_DEPTH = 0


def _install() -> None:
    global _DEPTH, _ORIGINAL_SEND, _ORIGINAL_ASEND
    with _PATCH_LOCK:
        if _DEPTH == 0:
            _ORIGINAL_SEND = httpx2.Client.send
            _ORIGINAL_ASEND = httpx2.AsyncClient.send
            httpx2.Client.send = _send  # type: ignore[method-assign]
            httpx2.AsyncClient.send = _asend  # type: ignore[method-assign]
        _DEPTH += 1


def _uninstall() -> None:
    global _DEPTH
    with _PATCH_LOCK:
        _DEPTH -= 1
        if _DEPTH == 0:
            httpx2.Client.send = _ORIGINAL_SEND  # type: ignore[method-assign]
            httpx2.AsyncClient.send = _ORIGINAL_ASEND  # type: ignore[method-assign]


@contextlib.contextmanager
def capture() -> Iterator[None]:
    """Capture LLM calls made through httpx2 clients while the block runs (re-entrant)."""
    _install()
    try:
        yield
    finally:
        _uninstall()


def redact_query(query: str) -> str:
    """A query string with secret-named parameters' values replaced."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(scrub_query(pairs), safe="[]")
