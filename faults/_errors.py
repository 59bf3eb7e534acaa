"""The exceptions of the ``faults`` package.

Every message says what happened, the offending value, the rule, and the fix.

::

    HarnessError (harness)
    └── FaultError                    root of everything ``faults`` raises
        ├── FaultPlanError            a fault or fault plan is invalid (also a ConfigError)
        └── NetworkFaultError         a proxy or the Toxiproxy API misbehaved

    AckLost (TimeoutError)            an injected lost acknowledgement: the tool ran, the reply was lost
"""

from __future__ import annotations

from harness import ConfigError, HarnessError

__all__ = ["AckLost", "FaultError", "FaultPlanError", "NetworkFaultError"]


class FaultError(HarnessError):
    """Root of every error the ``faults`` package raises."""


class FaultPlanError(FaultError, ConfigError):
    """A fault or a fault plan is invalid (bad JSON, unknown effect, effect not valid at its site...)."""


class NetworkFaultError(FaultError):
    """A proxy could not be created or changed, or the Toxiproxy API answered with an error."""


class AckLost(TimeoutError):
    """The tool executed, but its reply never reached the caller: the caller sees a timeout."""

    lost_ack = True
