"""Injection points: the extension API that fault injectors (such as :mod:`faults`) build on.

The instrumentation calls the active run's :class:`RunHooks` at every step (LLM request,
tool call, agent entry, message send, state operation), describing the step as a site.
A hook may delay, fail, reshape or skip the step; :mod:`faults` implements one from a
:class:`faults.FaultPlan`, and a user may write their own.
"""

from harness._capture._context import (
    Frame,
    LLMSite,
    MessageSite,
    RunContext,
    RunHooks,
    StateSite,
    ToolSite,
    current_frame,
    current_run,
)

__all__ = [
    "Frame",
    "LLMSite",
    "MessageSite",
    "RunContext",
    "RunHooks",
    "StateSite",
    "ToolSite",
    "current_frame",
    "current_run",
]
