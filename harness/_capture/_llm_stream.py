"""Streamed replies: byte-stream taps that emit the ``llm_call`` when the stream is consumed or closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from harness._capture._llm_exchange import Exchange, emit_response


# -- streams: emit when consumed or closed ---------------------------------------------------
class Tap:
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


class TapStream(Tap, httpx2.SyncByteStream):
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
        emit_response(self._ex, self._response, b"".join(self._chunks))

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            emit_response(self._ex, self._response, b"".join(self._chunks), self._error)


class ATapStream(Tap, httpx2.AsyncByteStream):
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


def finish(ex: Exchange, response: httpx2.Response, is_async: bool) -> None:
    if not ex.proceeded or response is not ex.response:
        ex.source = "injected"
    if hasattr(response, "_content"):
        emit_response(ex, response)
    elif is_async:
        response.stream = ATapStream(response.stream, ex, response)
    else:
        response.stream = TapStream(response.stream, ex, response)


def failed(ex: Exchange, exc: BaseException) -> None:
    if not ex.proceeded:
        ex.source = "injected"
    ex.emit(error=exc)
