"""The scenarios package's exceptions.

Every message says what happened, the offending value, the rule, and the fix.

::

    ScenarioError                 root of everything the reference systems raise
    ├── LLMServerError            the local LLM server cannot be found, started or reached
    ├── ServiceError              a reference system's local service (search, shop) failed to start
    └── ScenarioConfigError       a reference system or variant name that does not exist (also a ValueError)

    ServiceUnavailable (ConnectionError)   a reference service could not be reached (refused, reset, cut)
    ServiceCallError (RuntimeError)        a reference service answered with an error

    SubtaskFailed (Exception)              inside a reference system: a sub-agent could not produce its
    ├── CarrierUnavailable                 answer; the system catches it and reports what is missing
    └── InvoicerFailed
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CarrierUnavailable",
    "InvoicerFailed",
    "LLMServerError",
    "ScenarioConfigError",
    "ScenarioError",
    "ServiceCallError",
    "ServiceError",
    "ServiceUnavailable",
    "SubtaskFailed",
]


class ScenarioError(Exception):
    """Root of every error the reference systems raise."""


class LLMServerError(ScenarioError):
    """The local LLM server cannot be found, started or reached."""


class ServiceError(ScenarioError):
    """A reference system's local service failed to start or answer."""


class ScenarioConfigError(ScenarioError, ValueError):
    """A reference system, run or variant name that does not exist."""


class ServiceUnavailable(ConnectionError):
    """The service could not be reached (refused, reset, timed out, or a cut reply)."""


class ServiceCallError(RuntimeError):
    """The service answered with an error status."""

    def __init__(self, status: int, body: Any, url: str) -> None:
        detail = body.get("error") if isinstance(body, dict) else body
        super().__init__(f"{url} answered HTTP {status}: {detail}")
        self.status = status
        self.body = body


class SubtaskFailed(Exception):
    """Inside a reference system: a sub-agent could not produce its answer (caught and reported there)."""


class CarrierUnavailable(SubtaskFailed):
    """tracking: the carrier's API failed (after the tracker's own retries), or its breaker is open."""


class InvoicerFailed(SubtaskFailed):
    """invoicing: the invoicer could not read or price the order."""
