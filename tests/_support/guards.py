"""Test helpers that test modules import by name (a conftest is not importable reliably:
several folders have one, and pytest swaps them in ``sys.modules``)."""

from __future__ import annotations

from typing import Any

API_KEY = "sk-test-4f9c2b7e1d8a6c3b5e0f9a2d"


class SocketGuard:
    """Counts (and refuses) every attempt to open a network connection."""

    def __init__(self) -> None:
        self.attempts: list[Any] = []

    def refuse(self, address: Any) -> OSError:
        self.attempts.append(address)
        return ConnectionRefusedError(
            f"socket guard: a connection to {address!r} was attempted during replay"
        )
