"""Services the reference systems call (each a real local HTTP service on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, Any]]:
    """Start every service lazily, once per session (or xdist worker)."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {"stack": stack}
