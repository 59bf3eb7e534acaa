"""Streamed replies: byte-stream taps that emit the ``llm_call`` when the stream is consumed or closed."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

from harness._capture._llm_exchange import Exchange, emit_response
from harness._capture._llm_http import library_of


# -- streams: emit when consumed or closed ---------------------------------------------------
class Tap:
    """What both stream taps keep: the inner stream, the exchange, and the bytes seen so far."""

    def __init__(self, inner: Any, ex: Exchange, response: Any) -> None:
        self._inner = inner
        self._ex = ex
        self._response = response
        self._chunks: list[bytes] = []
        self._error: BaseException | None = None
        self._started = False

    @property
    def elapsed(self) -> Any:
        return getattr(self._inner, "elapsed", None)


class TapStream(Tap):
    """Passes a response stream through, keeping the bytes; emits the event on close.

    Used as a ``SyncByteStream`` of the response's own library (:func:`tap_classes`).
    """

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
        emit_response(self._ex, self._response, b"".join(self._chunks))

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            emit_response(self._ex, self._response, b"".join(self._chunks), self._error)


class ATapStream(Tap):
    """Async twin of :class:`TapStream`."""

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
        emit_response(self._ex, self._response, b"".join(self._chunks))

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            emit_response(self._ex, self._response, b"".join(self._chunks), self._error)


@functools.cache
def tap_classes(library: ModuleType) -> tuple[type[TapStream], type[ATapStream]]:
    """The taps as byte streams of ``library`` (``httpx2`` or ``httpx``): a response reads only its
    own library's ``SyncByteStream`` / ``AsyncByteStream``."""
    sync = type("TapStream", (TapStream, library.SyncByteStream), {"__module__": __name__})
    asynchronous = type("ATapStream", (ATapStream, library.AsyncByteStream), {"__module__": __name__})
    return sync, asynchronous


def finish(ex: Exchange, response: Any, is_async: bool) -> None:
    if not ex.proceeded or response is not ex.response:
        ex.source = "injected"
    if hasattr(response, "_content"):
        emit_response(ex, response)
        return
    library = library_of(response)
    if library is None:  # a response object of neither library: its stream cannot be tapped
        emit_response(ex, response, b"")
        return
    sync, asynchronous = tap_classes(library)
    tap = asynchronous if is_async else sync
    response.stream = tap(response.stream, ex, response)


def failed(ex: Exchange, exc: BaseException) -> None:
    if not ex.proceeded:
        ex.source = "injected"
    ex.emit(error=exc)
