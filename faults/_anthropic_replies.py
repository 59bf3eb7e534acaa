"""Synthetic failures of the Anthropic Messages API, in the shapes its server sends.

An LLM fault at a request to ``.../v1/messages`` must fail the way Anthropic fails, or the
``anthropic`` SDK would not parse it as it parses a real failure: errors are
``{"type": "error", "error": {"type": "rate_limit_error", "message": ...}}`` with a
``request-id`` header, an overloaded engine is ``overloaded_error``, a too-long prompt is an
``invalid_request_error`` saying "prompt is too long", and replies are ``message`` objects (or
their ``message_start`` ... ``message_stop`` events when streamed). Transport failures
(timeouts, disconnects, cut streams) are the same for every provider and stay in
:mod:`faults._llm_replies`.

Each reply is a ``Response`` of the request's own client library (``httpx2`` for the
anthropic SDK 2.x), so the SDK's retries and exceptions run exactly as against the real API.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "context_length_reply",
    "empty_reply",
    "is_anthropic",
    "is_message",
    "malformed_reply",
    "rate_limit_reply",
    "rewrite_answer",
    "server_error_reply",
]

_MESSAGES_PATH = "/v1/messages"

_SERVER_ERRORS: dict[int, tuple[str, str]] = {
    500: ("api_error", "Internal server error"),
    503: ("overloaded_error", "Overloaded"),
    504: ("timeout_error", "Request timed out before it could be processed"),
}


def is_anthropic(request: Any) -> bool:
    """Whether ``request`` goes to the Messages API (its path, or the SDK's version header)."""
    url = getattr(request, "url", None)
    path = str(getattr(url, "path", "") or "")
    if path.rstrip("/").endswith(_MESSAGES_PATH):
        return True
    headers = getattr(request, "headers", None)
    return headers is not None and "anthropic-version" in headers


def _library(request: Any) -> Any:
    """The client library (``httpx2`` / ``httpx``) ``request`` belongs to."""
    return sys.modules[type(request).__module__.partition(".")[0]]


def _body(request: Any) -> dict[str, Any]:
    try:
        data = json.loads(request.content or b"{}")
    except Exception:  # not JSON, or a streamed body not read yet
        return {}
    return data if isinstance(data, dict) else {}


def _model(request: Any) -> str:
    return str(_body(request).get("model") or "unknown-model")


def _headers(call: int, content_type: str = "application/json", **extra: str) -> dict[str, str]:
    headers = {"content-type": content_type, "request-id": f"req_brownout{call:06d}"}
    headers.update(extra)
    return headers


def _respond(request: Any, status: int, content: bytes, headers: dict[str, str]) -> httpx2.Response:
    response = _library(request).Response(status, headers=headers, content=content, request=request)
    return cast("httpx2.Response", response)  # or an httpx.Response, for a request made with httpx


def _error(request: Any, call: int, status: int, kind: str, message: str, **extra: str) -> httpx2.Response:
    body = {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": f"req_brownout{call:06d}",
    }
    return _respond(request, status, json.dumps(body).encode(), _headers(call, **extra))


def rate_limit_reply(request: Any, call: int, retry_after: float | None) -> httpx2.Response:
    """HTTP 429 ``rate_limit_error`` with ``retry-after`` and the ``anthropic-ratelimit-*`` headers."""
    extra = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "1970-01-01T00:00:00Z",
    }
    if retry_after is not None:
        extra["retry-after"] = f"{retry_after:g}"
    message = (
        "This request would exceed the rate limit for your organization of 50 requests per minute. "
        "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response "
        "headers for current usage. Please reduce the prompt length or the maximum tokens requested, "
        "or try again later."
    )
    return _error(request, call, 429, "rate_limit_error", message, **extra)


def server_error_reply(request: Any, call: int, status: int, bad_gateway: str) -> httpx2.Response:
    """HTTP 500 ``api_error``, 503 ``overloaded_error``, 504 ``timeout_error``; 502 a gateway's page."""
    if status == 502:
        return _respond(request, 502, bad_gateway.encode(), _headers(call, "text/html"))
    kind, message = _SERVER_ERRORS[status]
    return _error(request, call, status, kind, message)


def context_length_reply(request: Any, call: int) -> httpx2.Response:
    """HTTP 400 ``invalid_request_error``: the prompt is longer than the model's context window."""
    return _error(
        request, call, 400, "invalid_request_error", "prompt is too long: 205120 tokens > 200000 maximum"
    )


def _message(call: int, model: str, content: list[Any], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": f"msg_brownout{call:06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


def malformed_reply(request: Any, call: int) -> httpx2.Response:
    """HTTP 200 whose ``message`` JSON (or a streamed event) stops mid-document."""
    model = _model(request)
    if _body(request).get("stream"):
        start = _event("message_start", {"message": _message(call, model, [], None)})
        block = _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        cut = (
            "event: content_block_delta\n"
            'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The ans\n\n'
        )
        return _respond(request, 200, (start + block + cut).encode(), _headers(call, "text/event-stream"))
    text = (
        f'{{"id":"msg_brownout{call:06d}","type":"message","role":"assistant","model":"{model}",'
        '"content":[{"type":"text","text":"The ans'
    )
    return _respond(request, 200, text.encode(), _headers(call))


def empty_reply(request: Any, call: int) -> httpx2.Response:
    """HTTP 200 with a well-formed ``message`` holding no content (``stop_reason: end_turn``)."""
    model = _model(request)
    if _body(request).get("stream"):
        text = (
            _event("message_start", {"message": _message(call, model, [], None)})
            + _event(
                "message_delta",
                {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 0}},
            )
            + _event("message_stop", {})
        )
        return _respond(request, 200, text.encode(), _headers(call, "text/event-stream"))
    body = json.dumps(_message(call, model, [], "end_turn")).encode()
    return _respond(request, 200, body, _headers(call))


def is_message(reply: Any) -> bool:
    """Whether a parsed reply body is a Messages API ``message``."""
    return (
        isinstance(reply, dict) and reply.get("type") == "message" and isinstance(reply.get("content"), list)
    )


def rewrite_answer(reply: dict[str, Any], transform: Callable[[Any], Any]) -> bool:
    """Pass the message's JSON answer through ``transform``, in place: the first text block that
    holds JSON, else the first ``tool_use`` block's ``input``. Returns whether it changed."""
    blocks = [b for b in reply.get("content") or () if isinstance(b, dict)]
    for block in blocks:
        if block.get("type") != "text" or not isinstance(block.get("text"), str):
            continue
        try:
            answer = json.loads(block["text"])
        except ValueError:
            continue
        changed = transform(answer)
        if changed != answer:
            block["text"] = json.dumps(changed)
            return True
    for block in blocks:
        if block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
            changed = transform(block["input"])
            if changed != block["input"]:
                block["input"] = changed
                return True
            return False
    return False
