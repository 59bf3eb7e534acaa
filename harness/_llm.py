"""LLM call capture (placeholder until the cassette layer lands)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["capture"]


@contextlib.contextmanager
def capture() -> Iterator[None]:
    yield
