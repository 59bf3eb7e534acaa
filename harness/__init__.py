"""brownout's harness: instrumentation, run logs, cassettes, the runner and the pytest plugin.

Public names only; internals live in ``_private`` modules.
"""

from harness._capture._channel import Channel, ChannelEmpty
from harness._capture._context import RunHooks, current_run
from harness._capture._declare import constraint, dead_letter, escalate, postcondition, redundant
from harness._capture._instrument import agent, handoff, spawn, tool
from harness._capture._state import StaleFencingToken, StateStore, Versioned
from harness._checkers._registry import Violation, checker, run_checks
from harness._checkers._semantic import register_semantic_check
from harness._errors import (
    CassetteError,
    CassetteMiss,
    ConfigError,
    HarnessError,
    NotInRun,
    ReplayDivergence,
    RunLogError,
    WorkerKilled,
)
from harness._log._events import AnyEvent
from harness._log._runlog import RunLog
from harness._pytest._settings import ChaosSettings, load_profile, register_profile
from harness._run._record import record
from harness._run._runner import Run, run_system

__all__ = [
    "AnyEvent",
    "CassetteError",
    "CassetteMiss",
    "Channel",
    "ChannelEmpty",
    "ChaosSettings",
    "ConfigError",
    "HarnessError",
    "NotInRun",
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
    "load_profile",
    "postcondition",
    "record",
    "redundant",
    "register_profile",
    "register_semantic_check",
    "run_checks",
    "run_system",
    "spawn",
    "tool",
]
