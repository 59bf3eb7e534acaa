"""brownout's faults: fault models, fault plans, injectors and the virtual clock.

A :class:`Fault` is a site selector (``site``, ``target``, ``call``) plus an effect; a
:class:`FaultPlan` is a small ordered set of faults, and ``plan.hooks()`` injects them
into a run. Each effect is one class registered in the effect registry
(:func:`register_effect`), whose ``decide`` returns what happens at a site; a custom
effect is registered the same way. Network faults (Toxiproxy) live in :mod:`faults.network`.
"""

from faults._clock import LogicalClock, VirtualClockLoop, patched_time, real_monotonic
from faults._effects import (
    Bandwidth,
    ContextLengthExceeded,
    Corrupt,
    Delay,
    Disconnect,
    Down,
    Drop,
    Duplicate,
    EmptyResponse,
    EmptyResult,
    Hang,
    Kill,
    Latency,
    LimitData,
    LostAck,
    LostWrite,
    MalformedResponse,
    MalformedResult,
    RateLimit,
    Reorder,
    ResetPeer,
    ServerError,
    Slicer,
    SlowClose,
    SlowThenSucceed,
    StaleRead,
    Timeout,
    ToolError,
    TruncatedResponse,
)
from faults._errors import AckLost, FaultError, FaultPlanError, NetworkFaultError
from faults._inject import PlanHooks
from faults._models import Chance, Effect, Fault, FaultPlan
from faults._registry import EFFECTS, SITES, EffectBase, effect_kinds, register_effect
from harness.hooks import DeadlineCancelled

__all__ = [
    "EFFECTS",
    "SITES",
    "AckLost",
    "Bandwidth",
    "Chance",
    "ContextLengthExceeded",
    "Corrupt",
    "DeadlineCancelled",
    "Delay",
    "Disconnect",
    "Down",
    "Drop",
    "Duplicate",
    "Effect",
    "EffectBase",
    "EmptyResponse",
    "EmptyResult",
    "Fault",
    "FaultError",
    "FaultPlan",
    "FaultPlanError",
    "Hang",
    "Kill",
    "Latency",
    "LimitData",
    "LogicalClock",
    "LostAck",
    "LostWrite",
    "MalformedResponse",
    "MalformedResult",
    "NetworkFaultError",
    "PlanHooks",
    "RateLimit",
    "Reorder",
    "ResetPeer",
    "ServerError",
    "Slicer",
    "SlowClose",
    "SlowThenSucceed",
    "StaleRead",
    "Timeout",
    "ToolError",
    "TruncatedResponse",
    "VirtualClockLoop",
    "effect_kinds",
    "patched_time",
    "real_monotonic",
    "register_effect",
]
