"""brownout's harness: instrumentation, run logs, cassettes, the runner and the pytest plugin.

Public names only; internals live in ``_private`` concept folders (``_log``, ``_capture``,
``_cassette``, ``_run``, ``_checkers``, ``_report``, ``_pytest``, ``_cli``). Names are
resolved lazily on first use, so ``import harness`` (and the pytest plugin) stays cheap:
nothing below is imported until a program asks for it.

Extension APIs for other packages and for users live in public submodules:
:mod:`harness.events` (event types), :mod:`harness.hooks` (injection points for fault
injectors), :mod:`harness.checkers` (the checker registry), :mod:`harness.cassettes`
(cassette files) and :mod:`harness.secrets` (the scrubber).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# public name -> the private module that defines it
_LAZY: dict[str, str] = {
    "AnyEvent": "harness._log._events",
    "RunLog": "harness._log._runlog",
    "CassetteError": "harness._errors",
    "CassetteMiss": "harness._errors",
    "ConfigError": "harness._errors",
    "HarnessError": "harness._errors",
    "NotInRun": "harness._errors",
    "ReplayDivergence": "harness._errors",
    "RunLogError": "harness._errors",
    "WorkerKilled": "harness._errors",
    "ProcessCrashed": "harness._errors",
    "StaleFencingToken": "harness._errors",
    "ChannelEmpty": "harness._errors",
    "Channel": "harness._capture._channel",
    "Budget": "harness._capture._budget",
    "RunHooks": "harness._capture._context",
    "current_run": "harness._capture._context",
    "run_dir": "harness._capture._context",
    "constraint": "harness._capture._declare",
    "dead_letter": "harness._capture._declare",
    "escalate": "harness._capture._declare",
    "postcondition": "harness._capture._declare",
    "redundant": "harness._capture._declare",
    "agent": "harness._capture._instrument",
    "handoff": "harness._capture._instrument",
    "spawn": "harness._capture._instrument",
    "tool": "harness._capture._instrument",
    "llm_call": "harness._capture._llm_record",
    "StateStore": "harness._capture._state",
    "Versioned": "harness._capture._state",
    "record": "harness._run._record",
    "Run": "harness._run._runner",
    "run_system": "harness._run._runner",
    "instrument": "harness._adapters._registry",
    "Violation": "harness._checkers._registry",
    "checker": "harness._checkers._registry",
    "run_checks": "harness._checkers._registry",
    "register_semantic_check": "harness._checkers._semantic",
    "ChaosSettings": "harness._pytest._settings",
    "load_profile": "harness._pytest._settings",
    "register_profile": "harness._pytest._settings",
}

__all__ = [
    "AnyEvent",
    "Budget",
    "CassetteError",
    "CassetteMiss",
    "Channel",
    "ChannelEmpty",
    "ChaosSettings",
    "ConfigError",
    "HarnessError",
    "NotInRun",
    "ProcessCrashed",
    "ReplayDivergence",
    "Run",
    "RunHooks",
    "RunLog",
    "RunLogError",
    "StaleFencingToken",
    "StateStore",
    "Versioned",
    "Violation",
    "WorkerKilled",
    "agent",
    "checker",
    "constraint",
    "current_run",
    "dead_letter",
    "escalate",
    "handoff",
    "instrument",
    "llm_call",
    "load_profile",
    "postcondition",
    "record",
    "redundant",
    "register_profile",
    "register_semantic_check",
    "run_checks",
    "run_dir",
    "run_system",
    "spawn",
    "tool",
]

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on first use
    from harness._adapters._registry import instrument
    from harness._capture._budget import Budget
    from harness._capture._channel import Channel
    from harness._capture._context import RunHooks, current_run, run_dir
    from harness._capture._declare import constraint, dead_letter, escalate, postcondition, redundant
    from harness._capture._instrument import agent, handoff, spawn, tool
    from harness._capture._llm_record import llm_call
    from harness._capture._state import StateStore, Versioned
    from harness._checkers._registry import Violation, checker, run_checks
    from harness._checkers._semantic import register_semantic_check
    from harness._errors import (
        CassetteError,
        CassetteMiss,
        ChannelEmpty,
        ConfigError,
        HarnessError,
        NotInRun,
        ProcessCrashed,
        ReplayDivergence,
        RunLogError,
        StaleFencingToken,
        WorkerKilled,
    )
    from harness._log._events import AnyEvent
    from harness._log._runlog import RunLog
    from harness._pytest._settings import ChaosSettings, load_profile, register_profile
    from harness._run._record import record
    from harness._run._runner import Run, run_system


if os.environ.get("BROWNOUT_RECORD", "").strip():
    # Production recording: outermost agent() scopes outside a run record one run each;
    # importing the recorder installs it (an opt-in at run time, not a static dependency).
    importlib.import_module("harness._run._record")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(
            f"module 'harness' has no attribute {name!r}; public names: {', '.join(__all__)}"
        )
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
