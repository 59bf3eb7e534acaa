"""Synthetic LLM server failures, byte-for-byte what an OpenAI-compatible server sends.

The replies are ``Response`` objects (status, headers and the provider's JSON error body)
and the transport errors are the exceptions a real connection raises, each of the client
library the request came from — ``httpx2`` for the openai SDK 3.x, ``httpx`` for 2.x — so
the SDK parses, retries and raises exactly as it would against a failing server. A request
to Anthropic's Messages API gets Anthropic's error and message shapes
(:mod:`faults._anthropic_replies`).
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from faults import _anthropic_replies as messages_api

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "TruncatedStream",
    "context_length_reply",
    "cut_sse",
    "disconnected",
    "empty_reply",
    "http_library",
    "malformed_reply",
    "rate_limit_reply",
    "read_timeout",
    "request_for",
    "server_error_reply",
    "truncated_body_error",
    "truncated_reply",
]

_LIBRARIES = ("httpx2", "httpx")  # the client libraries the capture layer patches, newest first


def http_library(obj: Any = None) -> ModuleType:
    """The client library (``httpx2`` or ``httpx``) of ``obj`` (a request or response); for ``None``
    or a foreign object, the first one installed."""
    if obj is not None:
        for cls in type(obj).__mro__:
            top = cls.__module__.partition(".")[0]
            if top in _LIBRARIES:
                return sys.modules[top]
    return _installed_library()


@functools.cache
def _installed_library() -> ModuleType:
    for name in _LIBRARIES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("neither httpx2 nor httpx is installed: the openai SDK brings one (pip install openai)")


_ERROR_BODIES: dict[int, dict[str, Any]] = {
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    504: {
        "message": "The server did not respond in time. Please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}

_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def request_for(site: Any) -> httpx2.Request:
    """The outgoing request of an LLM site.

    Taken from ``site.request`` when the capture layer passes it; otherwise from the
    capture layer's frame (its ``request`` argument); as a last resort a request is rebuilt
    from the site's path, so that a synthetic response always has one.
    """
    request = getattr(site, "request", None)
    if _is_request(request):
        return request  # type: ignore[return-value]
    frame = sys._getframe(1)
    for _ in range(6):
        if frame is None:
            break
        candidate = frame.f_locals.get("request")
        if _is_request(candidate):
            return candidate  # type: ignore[return-value]
        frame = frame.f_back  # type: ignore[assignment]
    library = http_library()
    return library.Request(  # type: ignore[no-any-return]
        "POST", f"http://127.0.0.1{getattr(site, 'path', '/v1/chat/completions')}"
    )


def _is_request(obj: Any) -> bool:
    return obj is not None and isinstance(obj, http_library(obj).Request)


def read_timeout(request: httpx2.Request) -> float | None:
    """The client's read timeout for ``request`` (``None``: the client waits forever)."""
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        value = timeout.get("read")
        return float(value) if value is not None else None
    return 600.0


def _body(request: httpx2.Request) -> dict[str, Any]:
    try:
        data = json.loads(request.content or b"{}")
    except (ValueError, http_library(request).RequestNotRead):
        return {}
    return data if isinstance(data, dict) else {}


def _headers(call: int, content_type: str = "application/json", **extra: str) -> dict[str, str]:
    headers = {"content-type": content_type, "x-request-id": f"req_brownout_{call:06d}"}
    headers.update(extra)
    return headers


def _json(status: int, body: Any, request: httpx2.Request, headers: dict[str, str]) -> httpx2.Response:
    return http_library(request).Response(  # type: ignore[no-any-return]
        status, headers=headers, content=json.dumps(body).encode(), request=request
    )


def _model(request: httpx2.Request) -> str:
    return str(_body(request).get("model") or "unknown-model")


def rate_limit_reply(request: httpx2.Request, call: int, retry_after: float | None) -> httpx2.Response:
    """HTTP 429 with ``retry-after`` and the provider's ``rate_limit_exceeded`` error body."""
    if messages_api.is_anthropic(request):
        return messages_api.rate_limit_reply(request, call, retry_after)
    wait = retry_after
    extra = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{wait or 1:g}s",
    }
    if wait is not None:
        extra["retry-after"] = f"{wait:g}"
        extra["retry-after-ms"] = str(int(wait * 1000))
    error = {
        "message": (
            f"Rate limit reached for {_model(request)} in organization org-brownout on requests per min "
            f"(RPM): Limit 500, Used 500, Requested 1. Please try again in {wait or 1:g}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        ),
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    return _json(429, {"error": error}, request, _headers(call, **extra))


def server_error_reply(request: httpx2.Request, call: int, status: int) -> httpx2.Response:
    """HTTP 500/503/504 with the provider's error body; 502 as a gateway's HTML page."""
    if messages_api.is_anthropic(request):
        return messages_api.server_error_reply(request, call, status, _BAD_GATEWAY)
    if status == 502:
        return http_library(request).Response(  # type: ignore[no-any-return]
            502, headers=_headers(call, "text/html"), content=_BAD_GATEWAY.encode(), request=request
        )
    return _json(status, {"error": _ERROR_BODIES[status]}, request, _headers(call))


def context_length_reply(request: httpx2.Request, call: int) -> httpx2.Response:
    """HTTP 400 ``invalid_request_error`` with code ``context_length_exceeded``."""
    if messages_api.is_anthropic(request):
        return messages_api.context_length_reply(request, call)
    error = {
        "message": (
            "This model's maximum context length is 4096 tokens. However, your messages resulted in "
            "5120 tokens. Please reduce the length of the messages."
        ),
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    return _json(400, {"error": error}, request, _headers(call))


def malformed_reply(request: httpx2.Request, call: int) -> httpx2.Response:
    """HTTP 200 whose JSON body (or SSE event) stops mid-document."""
    if messages_api.is_anthropic(request):
        return messages_api.malformed_reply(request, call)
    return _malformed(request, _model(request), bool(_body(request).get("stream")), call)


def empty_reply(request: httpx2.Request, call: int) -> httpx2.Response:
    """HTTP 200 with a well-formed reply whose content is empty."""
    if messages_api.is_anthropic(request):
        return messages_api.empty_reply(request, call)
    return _empty(request, _model(request), bool(_body(request).get("stream")), call)


def disconnected(request: httpx2.Request) -> httpx2.RemoteProtocolError:
    """The error a connection closed before any reply raises."""
    error = http_library(request).RemoteProtocolError
    return error("Server disconnected without sending a response.", request=request)  # type: ignore[no-any-return]


def _chat_id(call: int) -> str:
    return f"chatcmpl-brownout{call:06d}"


def _malformed(request: httpx2.Request, model: str, stream: bool, call: int) -> httpx2.Response:
    if stream:
        text = (
            f'data: {{"id":"{_chat_id(call)}","object":"chat.completion.chunk","created":0,"model":"{model}",'
            '"choices":[{"index":0,"delta":{"content":"The ans\n\ndata: [DONE]\n\n'
        )
        return http_library(request).Response(  # type: ignore[no-any-return]
            200, headers=_headers(call, "text/event-stream"), content=text.encode(), request=request
        )
    text = (
        f'{{"id":"{_chat_id(call)}","object":"chat.completion","created":0,"model":"{model}",'
        '"choices":[{"index":0,"message":{"role":"assistant","content":"The ans'
    )
    return http_library(request).Response(  # type: ignore[no-any-return]
        200, headers=_headers(call), content=text.encode(), request=request
    )


def _empty(request: httpx2.Request, model: str, stream: bool, call: int) -> httpx2.Response:
    path = request.url.path
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    if path.endswith("/responses"):
        resp = {
            "id": f"resp_brownout{call:06d}",
            "object": "response",
            "created_at": 0,
            "model": model,
            "status": "completed",
            "output": [],
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        }
        if stream:
            event = {"type": "response.completed", "sequence_number": 0, "response": resp}
            text = f"event: response.completed\ndata: {json.dumps(event)}\n\n"
            return http_library(request).Response(  # type: ignore[no-any-return]
                200, headers=_headers(call, "text/event-stream"), content=text.encode(), request=request
            )
        return _json(200, resp, request, _headers(call))
    if path.endswith("/completions") and not path.endswith("/chat/completions"):
        choice: dict[str, Any] = {"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}
        obj = "text_completion"
    else:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "finish_reason": "stop",
            "logprobs": None,
        }
        obj = "chat.completion"
    if stream:
        base = {"id": _chat_id(call), "object": "chat.completion.chunk", "created": 0, "model": model}
        first = {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
        last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        text = f"data: {json.dumps(first)}\n\ndata: {json.dumps(last)}\n\ndata: [DONE]\n\n"
        return http_library(request).Response(  # type: ignore[no-any-return]
            200, headers=_headers(call, "text/event-stream"), content=text.encode(), request=request
        )
    reply = {
        "id": _chat_id(call),
        "object": obj,
        "created": 0,
        "model": model,
        "choices": [choice],
        "usage": usage,
    }
    return _json(200, reply, request, _headers(call))


# -- truncation -----------------------------------------------------------------------------
def cut_sse(content: bytes, after_chunks: int) -> bytes:
    """The first ``after_chunks`` SSE events of ``content`` (never the final ``[DONE]``)."""
    events = [e for e in content.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
    kept = [e for e in events if e.strip() != b"data: [DONE]"][:after_chunks]
    return b"".join(e + b"\n\n" for e in kept)


def truncated_body_error(request: httpx2.Request) -> httpx2.RemoteProtocolError:
    return http_library(request).RemoteProtocolError(  # type: ignore[no-any-return]
        "peer closed connection without sending complete message body: incomplete chunked read",
        request=request,
    )


def truncated_reply(real: httpx2.Response, head: bytes, request: httpx2.Request) -> httpx2.Response:
    """``real``'s status and headers with a body that stops after ``head``, like a cut connection."""
    headers = {
        k: v for k, v in real.headers.items() if k.lower() not in ("content-length", "content-encoding")
    }
    library = http_library(request)
    stream = _truncated_stream_class(library)(head, request)
    return library.Response(  # type: ignore[no-any-return]
        real.status_code, headers=headers, stream=stream, request=request
    )


@functools.cache
def _truncated_stream_class(library: ModuleType) -> type[TruncatedStream]:
    """:class:`TruncatedStream` as a byte stream of ``library``: a response reads only its own library's."""
    bases = (TruncatedStream, library.SyncByteStream, library.AsyncByteStream)
    return type("TruncatedStream", bases, {"__module__": __name__})


class TruncatedStream:
    """Yields the bytes that arrived, then fails like a connection cut mid-body (sync or async)."""

    def __init__(self, head: bytes, request: httpx2.Request) -> None:
        self._head = head
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        if self._head:
            yield self._head
        raise truncated_body_error(self._request)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:  # the same bytes, then the same error
            yield chunk
