"""The scenarios package's exceptions.

Every message says what happened, the offending value, the rule, and the fix.

::

    ScenarioError                 root of everything the reference systems raise
    ├── LLMServerError            the local LLM server cannot be found, started or reached
    └── ServiceError              a reference system's local service (search, shop) failed to start
"""

from __future__ import annotations

__all__ = ["LLMServerError", "ScenarioError", "ServiceError"]


class ScenarioError(Exception):
    """Root of every error the reference systems raise."""


class LLMServerError(ScenarioError):
    """The local LLM server cannot be found, started or reached."""


class ServiceError(ScenarioError):
    """A reference system's local service failed to start or answer."""
