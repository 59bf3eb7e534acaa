"""pydantic-ai (``pydantic-ai-slim``, import name ``pydantic_ai``): agents, tools, delegation.

Through pydantic-ai's own extension points, installed once per process and inert outside a run:

- **a capability** (``AbstractCapability.wrap_run``), added to every run that starts inside a
  brownout run (``Agent.iter`` — what ``run``, ``run_sync`` and ``run_stream`` go through — gets
  it as one more run capability, after the caller's own): each agent run is an
  ``agent(<Agent.name>)`` scope (the ``worker`` fault site), so the model requests it makes —
  pydantic-ai's OpenAI and Anthropic models send through the openai / anthropic SDKs, which
  brownout captures — are ``llm_call`` events of the agent. pydantic-ai makes the context
  variables set in ``wrap_run`` ambient in the run's tool tasks and the caller's ``iter`` block.
- **function tools** (``FunctionToolset.call_tool``: ``@agent.tool``, ``@agent.tool_plain``,
  ``tools=[...]``, a ``FunctionToolset``): each call of the tool's function is one ``@tool`` site
  under the name the model called it by, with the validated arguments. The site is the function
  call itself, *inside* pydantic-ai's handling of it: an injected error reaches
  ``on_tool_execute_error`` capabilities and fails the run exactly as the function's own
  exception would; an injected hang is cut by the tool's ``timeout`` (``anyio.fail_after``) and
  becomes pydantic-ai's ``ModelRetry("Timed out after ...")``, on the run's virtual clock; a
  ``ModelRetry`` the function raises is recorded as the failed call it is, then retried by the model.
- **delegation** (an agent run started inside another agent's tool, pydantic-ai's "agent
  delegation"): a ``handoff`` event from the calling agent to the delegate, payload
  ``{"tool": <the tool>, "prompt": <the delegate's user prompt>}``; the delegate's scope nests
  under the caller's.

Not captured: MCP and other non-function toolsets' tools, output tools and output validators,
programmatic hand-off (application code running one agent after another: two agent scopes, no
``handoff`` event); see docs/adapters.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic_ai import Agent
from pydantic_ai import _utils as pydantic_ai_utils
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.toolsets.function import FunctionToolsetTool

from harness._adapters._registry import enabled
from harness._capture._context import _FRAME, _RUN
from harness._capture._instrument import agent, handoff, tool

__all__ = ["install"]

NAME = "pydantic_ai"
_MARK = "__brownout_adapter__"


def _active() -> bool:
    return _RUN.get() is not None and enabled(NAME)


@dataclasses.dataclass(frozen=True, slots=True)
class _Caller:
    """The tool call a delegate agent runs inside of."""

    agent: str | None
    tool: str


# Set while a tool's function runs: an agent run started there is a delegation.
_IN_TOOL: contextvars.ContextVar[_Caller | None] = contextvars.ContextVar(
    "brownout_pydantic_ai_tool", default=None
)


def _agent_name(ctx: Any) -> str:
    pydantic_agent = getattr(ctx, "agent", None)
    name = getattr(pydantic_agent, "name", None)
    return name if isinstance(name, str) and name else "agent"


# -- agent runs -------------------------------------------------------------------------------
@dataclasses.dataclass
class BrownoutCapability(AbstractCapability[Any]):
    """Each agent run as an ``agent(name)`` scope; a run started inside a tool as a delegation."""

    async def wrap_run(self, ctx: Any, *, handler: Callable[[], Awaitable[Any]]) -> Any:
        if not _active():
            return await handler()
        name = _agent_name(ctx)
        caller = _IN_TOOL.get()
        if caller is not None:
            handoff(name, {"tool": caller.tool, "prompt": ctx.prompt}, source=caller.agent)
        token = _IN_TOOL.set(None)  # the delegate's own tools are its own
        try:
            with _on_the_runs_clock():
                async with agent(name):
                    return await handler()
        finally:
            _IN_TOOL.reset(token)


_EXECUTOR: ThreadPoolExecutor | None = None


def _on_the_runs_clock() -> contextlib.AbstractContextManager[Any]:
    """Sync tool functions (and other sync callbacks) through the event loop's ``run_in_executor``.

    pydantic-ai runs them with ``anyio.to_thread.run_sync`` unless an executor is set
    (``Agent.using_thread_executor``, the ``UseThreadExecutor`` capability): anyio's own worker
    threads are invisible to the run's virtual clock loop, which would take the loop for idle and
    jump to the next timer. Through ``run_in_executor`` the loop schedules the work on the run's
    clock. An executor the caller chose is kept (the loop schedules it the same way).
    """
    global _EXECUTOR
    chosen = getattr(pydantic_ai_utils, "_thread_executor", None)  # private: read only if present
    if chosen is not None and chosen.get() is not None:
        return contextlib.nullcontext()
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="brownout-pydantic-ai")
    return Agent.using_thread_executor(_EXECUTOR)


def _wrap_iter(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def iter(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _active():
            capabilities = list(kwargs.get("capabilities") or ())
            capabilities.append(BrownoutCapability())
            kwargs["capabilities"] = capabilities
        return original(self, *args, **kwargs)

    setattr(iter, _MARK, True)
    return iter


# -- function tools ---------------------------------------------------------------------------
def _tool_site(call_func: Callable[[dict[str, Any], Any], Awaitable[Any]], name: str) -> Callable[..., Any]:
    """``call_func(args, ctx)`` (a function tool's call) as a ``@tool`` site named ``name``."""

    async def site(tool_args: dict[str, Any], ctx: Any) -> Any:
        async def call(**arguments: Any) -> Any:
            frame = _FRAME.get()
            token = _IN_TOOL.set(_Caller(frame.name if frame else None, name))
            try:
                return await call_func(tool_args, ctx)
            finally:
                _IN_TOOL.reset(token)

        call.__name__ = call.__qualname__ = name
        return await tool(name)(call)(**tool_args)

    return site


def _wrap_call_tool(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(original)
    async def call_tool(self: Any, name: str, tool_args: dict[str, Any], ctx: Any, toolset_tool: Any) -> Any:
        if not _active() or not isinstance(toolset_tool, FunctionToolsetTool):
            return await original(self, name, tool_args, ctx, toolset_tool)
        sited = dataclasses.replace(toolset_tool, call_func=_tool_site(toolset_tool.call_func, name))
        return await original(self, name, tool_args, ctx, sited)

    setattr(call_tool, _MARK, True)
    return call_tool


def install() -> None:
    """Wrap ``Agent.iter`` (to add the capability) and ``FunctionToolset.call_tool`` (once)."""
    if not getattr(Agent.iter, _MARK, False):
        Agent.iter = _wrap_iter(Agent.iter)  # type: ignore[method-assign]
    if not getattr(FunctionToolset.call_tool, _MARK, False):
        FunctionToolset.call_tool = _wrap_call_tool(FunctionToolset.call_tool)  # type: ignore[method-assign, assignment]
