"""Injection points: the extension API that fault injectors (such as :mod:`faults`) build on.

The instrumentation calls the active run's :class:`RunHooks` at every step (LLM request,
tool call, agent entry, message send, state operation), describing the step as a site.
A hook answers with a *decision* — proceed, wait, fail, block, run and then fail or be
late, reshape the result, respond without running; drop, duplicate, delay or hold a
message; serve a stale read, corrupt or lose a write — and the instrumentation carries it
out, the same way in sync and async code. :mod:`faults` decides from a
:class:`faults.FaultPlan`; a user may write their own hooks.
"""

from harness._capture._context import (
    Frame,
    LLMSite,
    MessageSite,
    RunContext,
    RunHooks,
    StateSite,
    ToolSite,
    WorkerSite,
    current_frame,
    current_run,
    require_run,
)
from harness._capture._decisions import (
    PROCEED,
    Block,
    CorruptWrite,
    DeadlineCancelled,
    DelayMessage,
    DropMessage,
    DuplicateMessage,
    Fail,
    HoldMessage,
    LoseWrite,
    MessageDecision,
    Proceed,
    Reshape,
    Respond,
    RewriteReply,
    RunThenFail,
    RunThenWait,
    ServeStale,
    StateDecision,
    StepDecision,
    Wait,
    acarry_out,
    carry_out,
)

__all__ = [
    "PROCEED",
    "Block",
    "CorruptWrite",
    "DeadlineCancelled",
    "DelayMessage",
    "DropMessage",
    "DuplicateMessage",
    "Fail",
    "Frame",
    "HoldMessage",
    "LLMSite",
    "LoseWrite",
    "MessageDecision",
    "MessageSite",
    "Proceed",
    "Reshape",
    "Respond",
    "RewriteReply",
    "RunContext",
    "RunHooks",
    "RunThenFail",
    "RunThenWait",
    "ServeStale",
    "StateDecision",
    "StateSite",
    "StepDecision",
    "ToolSite",
    "Wait",
    "WorkerSite",
    "acarry_out",
    "carry_out",
    "current_frame",
    "current_run",
    "require_run",
]
