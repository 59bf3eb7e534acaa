"""Crash and restart: the system's process crash-stops at a kill point and is started again.

Each kill point is one effect. A crash stops the whole system (the run's incarnation),
not one worker: the code that was running sees :class:`harness.ProcessCrashed`, every step
the dead process tries afterwards is refused, its tasks are cancelled, and the run starts
the system again with the ``resume`` the test declared (``chaos.run(start, ...,
resume=...)``) from what survived: its durable store (``StateStore(path=...)``, a
framework's checkpointer) and the world's effects. Exploration draws these effects only
for a test that declares how its system restarts (``restart = True``).

==================  ======  ============================================================
effect              site    the process dies ...
==================  ======  ============================================================
crash_before_effect tool    before the call leaves it (the effect never happens)
crash_after_effect  tool    after the call took effect, before the system recorded it
crash_mid_call      tool    ``after`` seconds into a long call (part of its work done)
crash_after_checkpoint state right after a write was made durable, before the writer heard back
crash_mid_stream    llm     while the answer was streaming in (none of it was used)
==================  ======  ============================================================
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

import faults._effects  # noqa: F401  (registered first: exploration draws, and shrinks towards, those)
from faults._registry import AnySite, Decision, EffectBase, register_effect
from harness.hooks import (
    Fail,
    Interrupt,
    LLMSite,
    RewriteReply,
    RunThenFail,
    StateSite,
    ToolSite,
    WriteThenFail,
    crash_process,
)

if TYPE_CHECKING:
    import httpx2  # or httpx: the request's own client library

    from faults._models import Fault

__all__ = [
    "KILL_POINTS",
    "CrashAfterCheckpoint",
    "CrashAfterEffect",
    "CrashBeforeEffect",
    "CrashMidCall",
    "CrashMidStream",
]


def _where(site: AnySite) -> str:
    if isinstance(site, ToolSite):
        return f"tool {site.name!r} call {site.call}"
    if isinstance(site, LLMSite):
        return f"LLM call {site.call} of {site.agent or 'no agent'}"
    if isinstance(site, StateSite):
        return f"store {site.store!r} write {site.call} ({site.key})"
    return repr(site)


class _Crash(EffectBase):
    """A kill point: the system's process crash-stops here; the run restarts it with ``resume``."""

    point: ClassVar[str] = ""
    restart = True

    def _crash(self, site: AnySite) -> Any:
        return functools.partial(crash_process, _where(site), self.point)


@register_effect
class CrashBeforeEffect(_Crash):
    """The process dies just before the tool call leaves it: the call never runs."""

    kind: Literal["crash_before_effect"] = "crash_before_effect"
    sites = frozenset({"tool"})
    point = "before_effect"
    models = "a process killed (OOM, deploy, pre-emption) after deciding to act, before acting"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return Fail(self._crash(site))


@register_effect
class CrashAfterEffect(_Crash):
    """The tool call runs (its effect happens), then the process dies before it records that:
    the ambiguous window between an effect and the checkpoint that would say it was done."""

    kind: Literal["crash_after_effect"] = "crash_after_effect"
    sites = frozenset({"tool"})
    point = "after_effect"
    models = "a crash after the payment went through but before the workflow saved that it did"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return RunThenFail(self._crash(site))


@register_effect
class CrashMidCall(_Crash):
    """The process dies ``after`` seconds into the tool call: a long call is cut off part-way
    (an async tool still running is cancelled; a sync one runs to its end, then the crash)."""

    kind: Literal["crash_mid_call"] = "crash_mid_call"
    after: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    sites = frozenset({"tool"})
    point = "mid_call"
    primary = "after"
    seconds_fields = frozenset({"after"})
    models = "a worker killed during a long batch job or upload, with part of the work done"
    explore = {"after": [1.0, 0.1, 30.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return Interrupt(self.after, self._crash(site))


@register_effect
class CrashAfterCheckpoint(_Crash):
    """The write (a checkpoint) is made durable, then the process dies before the writer
    hears back: the store says the step is done, the caller never learned it."""

    kind: Literal["crash_after_checkpoint"] = "crash_after_checkpoint"
    sites = frozenset({"state"})
    acts_on = "write"
    point = "after_checkpoint"
    models = "a crash between committing a checkpoint and answering the caller (who then retries)"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return WriteThenFail(self._crash(site))


@register_effect
class CrashMidStream(_Crash):
    """The process dies while the LLM's answer streams in: none of it is used, and the
    request is not recorded as answered anywhere the restarted system could find."""

    kind: Literal["crash_mid_stream"] = "crash_mid_stream"
    sites = frozenset({"llm"})
    point = "mid_stream"
    models = "a process killed while a long streamed completion was arriving"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        crash = self._crash(site)

        def die(response: httpx2.Response, body: bytes) -> httpx2.Response:
            raise crash()

        return RewriteReply(die)


# kill point -> the effect kind that strikes there
KILL_POINTS: dict[str, str] = {
    cls.point: cls.model_fields["kind"].default
    for cls in (CrashBeforeEffect, CrashAfterEffect, CrashMidCall, CrashAfterCheckpoint, CrashMidStream)
}
