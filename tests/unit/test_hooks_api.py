"""harness.hooks.require_run: an extension that needs the active run says so clearly outside one."""

from __future__ import annotations

import pytest

from harness import NotInRun, agent, run_system
from harness.hooks import require_run


def test_outside_a_run_it_raises_not_in_run_naming_the_caller_and_the_fix() -> None:
    with pytest.raises(NotInRun, match=r"my_adapter\.on_event needs an active brownout run.*chaos\.run"):
        require_run("my_adapter.on_event")


def test_inside_a_run_it_returns_the_run() -> None:
    def system() -> str:
        with agent("solo"):
            return require_run("test").run_id

    run = run_system(system)
    assert run.output == run.run_id
