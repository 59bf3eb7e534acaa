"""LLM call capture: every request an httpx2 or httpx client sends to an LLM endpoint inside a run.

:func:`capture` (entered by the runner around every run) wraps ``Client.send`` and
``AsyncClient.send`` of each installed client library: ``httpx2`` (what the openai SDK 3.x
sends through) and ``httpx`` (the openai SDK 2.x, and frameworks pinned to it such as
CrewAI). Both become the same ``llm_call`` events, fault sites and cassette entries; each
request is answered with its own library's classes (:mod:`harness._capture._llm_http`).
The wrappers sit above the transports, so they see each
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
``/completions``, ``/embeddings``, ``/responses`` or ``/v1/messages`` (Anthropic's Messages
API, :mod:`harness._capture._llm_anthropic`), or when it carries the ``x-stainless-*``
headers of the openai or anthropic SDK.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from harness._capture._context import _RUN
from harness._capture._llm_exchange import EXCHANGE, Exchange, current_exchange
from harness._capture._llm_http import client_libraries
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


# -- the client patches: one per installed client library -----------------------------------
class ClientPatch:
    """``Client.send`` / ``AsyncClient.send`` of one client library (``httpx2`` or ``httpx``), wrapped."""

    def __init__(self, library: ModuleType) -> None:
        self.library = library
        self.original_send: Callable[..., Any] = library.Client.send
        self.original_asend: Callable[..., Any] = library.AsyncClient.send

    def install(self) -> None:
        self.original_send = self.library.Client.send
        self.original_asend = self.library.AsyncClient.send
        self.library.Client.send = self._sync_send()
        self.library.AsyncClient.send = self._async_send()

    def uninstall(self) -> None:
        self.library.Client.send = self.original_send
        self.library.AsyncClient.send = self.original_asend

    def _sync_send(self) -> Callable[..., Any]:
        original = self.original_send

        def send(client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            ctx = _RUN.get()
            if ctx is None or not is_llm_request(request):
                return original(client, request, *args, **kwargs)
            ex = Exchange(ctx, key_of(request))

            def proceed() -> Any:
                ex.sending()
                token = EXCHANGE.set(ex)
                try:
                    response = original(client, request, *args, **kwargs)
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

        send.__brownout__ = True  # type: ignore[attr-defined]
        return send

    def _async_send(self) -> Callable[..., Any]:
        original = self.original_asend

        async def asend(client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            ctx = _RUN.get()
            if ctx is None or not is_llm_request(request):
                return await original(client, request, *args, **kwargs)
            ex = Exchange(ctx, key_of(request))

            async def proceed() -> Any:
                ex.sending()
                token = EXCHANGE.set(ex)
                try:
                    response = await original(client, request, *args, **kwargs)
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

        asend.__brownout__ = True  # type: ignore[attr-defined]
        return asend


_PATCH_LOCK = threading.Lock()
_DEPTH = 0
_PATCHES: list[ClientPatch] = []


def _install() -> None:
    global _DEPTH
    with _PATCH_LOCK:
        if _DEPTH == 0:
            _PATCHES[:] = [ClientPatch(library) for library in client_libraries()]
            for patch in _PATCHES:
                patch.install()
        _DEPTH += 1


def _uninstall() -> None:
    global _DEPTH
    with _PATCH_LOCK:
        _DEPTH -= 1
        if _DEPTH == 0:
            for patch in reversed(_PATCHES):
                patch.uninstall()
            _PATCHES.clear()


@contextlib.contextmanager
def capture() -> Iterator[None]:
    """Capture LLM calls made through httpx2 and httpx clients while the block runs (re-entrant)."""
    _install()
    try:
        yield
    finally:
        _uninstall()
