"""The harness's exceptions.

Every message says what happened, the offending value, the rule, and the fix.

::

    HarnessError                      root of everything brownout's harness raises
    ├── ConfigError                   an option, marker argument or setting is invalid
    ├── RunLogError                   a run log file is truncated, corrupt or of another format
    ├── CassetteError                 a cassette file cannot be read or written
    │   └── CassetteMiss              replay met a request the cassette does not hold
    ├── ReplayDivergence              a production replay took a different path than recorded
    ├── NotInRun                      an API that needs an active run was called outside one
    ├── StaleFencingToken             a write carried a fencing token older than one already accepted
    ├── ChannelEmpty                  ``Channel.receive_nowait`` found no message ready for the receiver
    ├── ReportError                   a report directory or its stored results cannot be read or written
    ├── OTelExportError               the OpenTelemetry export failed (bad input, exporter, endpoint)
    └── DoctorError                   ``brownout doctor``: the entry point cannot be found or called

    ViolationsFound (AssertionError)  a run broke one or more checkers: the test fails with the findings
    SystemCrashed (AssertionError)    under --chaos, the system ended with a crash-type exception
    UnhandledFault (AssertionError)   under --chaos, an injected fault escaped the system unhandled
    RecordedToolError (Exception)     a tool error replayed from a cassette (re-raised as the system saw it)

    WorkerKilled (BaseException)      crash-stop of an agent; ``except Exception`` does not catch it
    └── ProcessCrashed                the whole system crash-stopped at a kill point (restarted by ``resume``)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CassetteError",
    "CassetteMiss",
    "ChannelEmpty",
    "ConfigError",
    "DoctorError",
    "HarnessError",
    "NotInRun",
    "OTelExportError",
    "ProcessCrashed",
    "RecordedToolError",
    "ReplayDivergence",
    "ReportError",
    "RunLogError",
    "StaleFencingToken",
    "SystemCrashed",
    "UnhandledFault",
    "ViolationsFound",
    "WorkerKilled",
]


class HarnessError(Exception):
    """Root of every error the harness raises."""


class ConfigError(HarnessError):
    """An option, marker argument or setting is invalid."""


class RunLogError(HarnessError):
    """A run log file is truncated, corrupt or of an unknown format."""


class CassetteError(HarnessError):
    """A cassette cannot be read or written."""


class CassetteMiss(CassetteError):
    """Replay met a request that the cassette does not hold."""


class ReplayDivergence(HarnessError):
    """A replayed run diverged from its recording."""


class NotInRun(HarnessError):
    """An API that needs an active run was called outside one."""


class StaleFencingToken(HarnessError):
    """A write carried a fencing token lower than one the store has already accepted.

    Raised only by stores with ``fencing="enforce"``: the writer holds an expired lease
    (split brain) and must stop acting on it.
    """

    def __init__(self, message: str, *, token: int, highest: int) -> None:
        super().__init__(message)
        self.token = token
        self.highest = highest


class ChannelEmpty(HarnessError):
    """``Channel.receive_nowait`` found no message that is ready for this receiver."""


class ReportError(HarnessError):
    """A report directory or its stored results cannot be read or written."""


class OTelExportError(HarnessError):
    """The OpenTelemetry export could not be done (bad input, missing exporter, unreachable endpoint)."""


class DoctorError(HarnessError):
    """The entry point could not be found or called as given."""


class ViolationsFound(AssertionError):
    """A run's history broke one or more checkers. ``.run`` holds the run, ``.checkers`` their names.

    Raise it with :meth:`for_checkers`: each set of checker names gets its own subclass (all
    named ``ViolationsFound``), so that ``pytest --chaos`` reports every distinct failure
    (Hypothesis tells failures apart by exception type) and shrinks each one on its own.
    """

    checkers: tuple[str, ...] = ()
    _kinds: dict[tuple[str, ...], type[ViolationsFound]] = {}

    def __init__(self, message: str, run: Any) -> None:
        super().__init__(message)
        self.run = run

    @classmethod
    def for_checkers(cls, names: tuple[str, ...], message: str, run: Any) -> ViolationsFound:
        key = tuple(sorted(set(names)))
        kind = cls._kinds.get(key)
        if kind is None:
            kind = type("ViolationsFound", (cls,), {"checkers": key, "__module__": cls.__module__})
            cls._kinds[key] = kind
        return kind(message, run)


class UnhandledFault(AssertionError):
    """Under ``--chaos``, a fault injected at a site escaped the system unhandled. ``.site`` names it.

    Raise it with :meth:`at`: one subclass per site, so that every error type drawn at one
    site (a refused connection, a timeout, a lost reply) is one failure, shrunk once.
    """

    site: str = ""
    _kinds: dict[str, type[UnhandledFault]] = {}

    @classmethod
    def at(cls, site: str, message: str) -> UnhandledFault:
        kind = cls._kinds.get(site)
        if kind is None:
            kind = type("UnhandledFault", (cls,), {"site": site, "__module__": cls.__module__})
            cls._kinds[site] = kind
        return kind(message)


class SystemCrashed(AssertionError):
    """The system under test ended with a crash-type exception (worker kill, cancellation).

    Those derive from ``BaseException`` on purpose (the system must not catch them); they
    are wrapped here so that Hypothesis can shrink the plan that caused them.
    """


class RecordedToolError(Exception):
    """A tool error replayed from a cassette: the original type name and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class WorkerKilled(BaseException):
    """Crash-stop of an agent (an injected worker kill).

    Derives from :class:`BaseException` on purpose: a real crash is not something the
    crashing code can catch with ``except Exception``, so neither is this.
    """


class ProcessCrashed(WorkerKilled):
    """The system's process crash-stopped at an injected kill point (``crash_*`` faults).

    Everything the process was doing ends: the code that was running sees this (and
    cannot catch it with ``except Exception``); every step it tries to start afterwards
    raises it again and records nothing; its tasks are cancelled. The run then starts the
    system again with the ``resume`` it was given (``chaos.run(..., resume=...)``), from
    what survived: its durable store and the world's effects. ``.point`` names the kill
    point, ``.incarnation`` the incarnation that died.
    """

    def __init__(self, message: str, *, point: str = "", incarnation: int = 0) -> None:
        super().__init__(message)
        self.point = point
        self.incarnation = incarnation
