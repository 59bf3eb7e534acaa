"""Transport patches: one set of vcrpy stubs for every cassette; each request goes to its run's cassette."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from harness._capture._context import current_run
from harness._capture._llm import (
    Exchange,
    current_exchange,
    is_llm_path,
)
from harness._capture._llm_http import client_libraries
from harness._cassette._index import IndexedCassette


# -- routing: one set of transport patches for every cassette --------------------------------
def owner_for(request_path: str) -> tuple[IndexedCassette | None, Exchange | None]:
    exchange = current_exchange()
    if exchange is not None:
        cassette = exchange.ctx.cassette
        vcr = getattr(cassette, "_vcr", None)
        if isinstance(vcr, IndexedCassette):
            return vcr, exchange
        return None, None
    run = current_run()
    vcr = getattr(run.cassette, "_vcr", None) if run is not None else None
    if isinstance(vcr, IndexedCassette) and is_llm_path(request_path):
        return vcr, None
    return None, None


class Router:
    """The "cassette" vcrpy's stubs talk to: hands each request to its run's cassette."""

    write_protected = False

    def can_play_response_for(self, request: Any) -> bool:
        owner, exchange = owner_for(request.path)
        if owner is None:
            request._brownout = None
            return False
        decided = exchange.decision if exchange is not None else None
        request._brownout = decided if decided is not None else owner.decide(request, exchange)
        return owner.can_play_response_for(request)

    def play_response(self, request: Any) -> dict[str, Any]:
        return request._brownout.owner.play_response(request)  # type: ignore[no-any-return]

    def filter_request(self, request: Any) -> Any:
        return None  # never reached: write_protected is False

    def append(self, request: Any, response: dict[str, Any]) -> None:
        decision = getattr(request, "_brownout", None)
        if decision is not None:
            decision.owner.append(request, response)


_ROUTER = Router()
_ROUTER_LOCK = threading.Lock()
_ROUTER_DEPTH = 0
_ROUTER_SAVED: list[tuple[Any, str, Any]] = []


def transport_patches() -> Iterator[tuple[Any, str, Any]]:
    """(class, attribute, replacement) for the transports of each installed client library.

    ``httpx2`` (the openai SDK 3.x) and ``httpx`` (2.x) alike: vcrpy's stubs take the library
    as an argument, and a replayed reply is built with the request's own library, so a
    cassette recorded over one replays over the other.

    A request that belongs to no cassette goes straight to the original transport (vcrpy's
    stub would buffer the whole response, which a non-LLM stream must not suffer).
    """
    from vcr.stubs.httpx_stubs import vcr_handle_async_request, vcr_handle_request

    for module in client_libraries():
        for cls_name in ("HTTPTransport", "WSGITransport", "MockTransport"):
            cls = getattr(module, cls_name, None)
            if cls is None or not hasattr(cls, "handle_request"):
                continue
            original = cls.__dict__.get("handle_request", cls.handle_request)
            yield (
                cls,
                "handle_request",
                sync_patch(original, vcr_handle_request(_ROUTER, original, module), module),
            )
        for cls_name in ("AsyncHTTPTransport", "ASGITransport", "MockTransport"):
            cls = getattr(module, cls_name, None)
            if cls is None or not hasattr(cls, "handle_async_request"):
                continue
            original = cls.__dict__.get("handle_async_request", cls.handle_async_request)
            yield (
                cls,
                "handle_async_request",
                async_patch(original, vcr_handle_async_request(_ROUTER, original, module), module),
            )


def replayed(owner: IndexedCassette, exchange: Exchange, module: Any) -> Any:
    """The response for a request the capture layer described, or ``None`` to go through vcrpy.

    The capture layer has already parsed the body and taken its digest, and replaying
    needs nothing from the request but that; so a replayed (or substituted) reply is
    built here from the recording's cached pieces, the way vcrpy's stub deserialises
    it, without vcrpy re-reading the request into a ``vcr.request.Request`` (about a
    tenth of a replayed SDK call). Requests to record, and requests the capture layer did
    not see, take vcrpy's stub.
    """
    decision = exchange.decision = owner.decide(None, exchange)
    if decision is None or decision.action == "record":
        return None
    status, headers, body = owner.served(decision).pieces()
    return module.Response(status, headers=headers, stream=module.ByteStream(body))


def sync_patch(original: Callable[..., Any], stub: Callable[..., Any], module: Any) -> Callable[..., Any]:
    def handle_request(self: Any, request: Any) -> Any:
        owner, exchange = owner_for(request.url.path)
        if owner is None:
            return original(self, request)
        if exchange is not None:
            response = replayed(owner, exchange, module)
            if response is not None:
                return response
        return stub(self, request)

    handle_request.__brownout__ = True  # type: ignore[attr-defined]
    return handle_request


def async_patch(original: Callable[..., Any], stub: Callable[..., Any], module: Any) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        owner, exchange = owner_for(request.url.path)
        if owner is None:
            return await original(self, request)
        if exchange is not None:
            response = replayed(owner, exchange, module)
            if response is not None:
                return response
        return await stub(self, request)

    handle_async_request.__brownout__ = True  # type: ignore[attr-defined]
    return handle_async_request


def install_router() -> None:
    global _ROUTER_DEPTH
    with _ROUTER_LOCK:
        if _ROUTER_DEPTH == 0:
            for cls, attr, replacement in transport_patches():
                _ROUTER_SAVED.append((cls, attr, cls.__dict__.get(attr)))
                setattr(cls, attr, replacement)
        _ROUTER_DEPTH += 1


def uninstall_router() -> None:
    global _ROUTER_DEPTH
    with _ROUTER_LOCK:
        _ROUTER_DEPTH -= 1
        if _ROUTER_DEPTH == 0:
            for cls, attr, saved in reversed(_ROUTER_SAVED):
                if saved is None:
                    delattr(cls, attr)
                else:
                    setattr(cls, attr, saved)
            _ROUTER_SAVED.clear()
