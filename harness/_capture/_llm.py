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
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

from harness._capture._context import _RUN
from harness._capture._llm_exchange import EXCHANGE, Exchange, current_exchange
from harness._capture._llm_reply import parse_sse
from harness._capture._llm_request import (
    LLM_PATH_SUFFIXES,
    VOLATILE_BODY_FIELDS,
    RequestKey,
    describe_request,
    is_llm_path,
    is_llm_request,
    key_of,
    redact_query,
)
from harness._capture._llm_stream import failed, finish

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


# -- the client patches ----------------------------------------------------------------------
_ORIGINAL_SEND: Callable[..., httpx2.Response] = httpx2.Client.send
_ORIGINAL_ASEND: Callable[..., Any] = httpx2.AsyncClient.send


def _send(self: httpx2.Client, request: httpx2.Request, *args: Any, **kwargs: Any) -> httpx2.Response:
    ctx = _RUN.get()
    if ctx is None or not is_llm_request(request):
        return _ORIGINAL_SEND(self, request, *args, **kwargs)
    ex = Exchange(ctx, key_of(request))

    def proceed() -> httpx2.Response:
        ex.sending()
        token = EXCHANGE.set(ex)
        try:
            response = _ORIGINAL_SEND(self, request, *args, **kwargs)
        finally:
            EXCHANGE.reset(token)
        ex.response = response
        return response

    try:
        response = ctx.hooks.llm_request(ctx, ex.site(request), proceed)
        if not kwargs.get("stream", False) and not hasattr(response, "_content"):
            response.read()
    except BaseException as exc:
        failed(ex, exc)
        raise
    finish(ex, response, False)
    return response


async def _asend(
    self: httpx2.AsyncClient, request: httpx2.Request, *args: Any, **kwargs: Any
) -> httpx2.Response:
    ctx = _RUN.get()
    if ctx is None or not is_llm_request(request):
        return await _ORIGINAL_ASEND(self, request, *args, **kwargs)  # type: ignore[no-any-return]
    ex = Exchange(ctx, key_of(request))

    async def proceed() -> httpx2.Response:
        ex.sending()
        token = EXCHANGE.set(ex)
        try:
            response: httpx2.Response = await _ORIGINAL_ASEND(self, request, *args, **kwargs)
        finally:
            EXCHANGE.reset(token)
        ex.response = response
        return response

    try:
        response = await ctx.hooks.allm_request(ctx, ex.site(request), proceed)
        if not kwargs.get("stream", False) and not hasattr(response, "_content"):
            await response.aread()
    except BaseException as exc:
        failed(ex, exc)
        raise
    finish(ex, response, True)
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
