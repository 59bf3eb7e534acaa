"""The pytest session's brownout state: one object per session, fed by the plugin's hooks."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["ChaosSession"]


class ChaosSession:
    """Collects what chaos tests did during a pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.items: dict[str, Any] = {}

    def attach(self, item: pytest.Item, fixture: Any) -> None:
        self.items[item.nodeid] = fixture

    def on_report(self, item: pytest.Item, fixture: Any, report: pytest.TestReport) -> None:
        """Called once per chaos test after its call phase."""

    def finish(self, exitstatus: int) -> None:
        """Called at session end."""

    def terminal_summary(self, terminalreporter: Any) -> None:
        """Called to print brownout's section of the terminal summary."""
