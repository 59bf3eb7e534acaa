"""Fixtures for the framework-adapter tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def adapters_selection() -> Iterator[Any]:
    """Hands over ``harness._adapters.configure``; the selection is reset after the test."""
    from harness._adapters import configure

    yield configure
    configure(None)
