"""OpenAI Agents SDK (``openai-agents``, import name ``agents``): agents, tools, handoffs, guardrails.

Through the SDK's own extension points, installed once per process and inert outside a run:

- **the default agent runner** (``agents.run.set_default_agent_runner``): ``Runner.run``,
  ``run_sync`` and ``run_streamed`` go through a delegating runner that, inside a brownout run,
  adds brownout's ``RunHooks`` (composed with the caller's) and a ``call_model_input_filter``
  (composed with the caller's) to the ``RunConfig``;
- **``call_model_input_filter``**, called before every model call in the task that makes it,
  with the agent: it opens the agent's ``agent(name)`` scope (one scope per agent turn, from
  its first model call until it hands off or ends; the ``agent_enter`` fault site), so the
  model's LLM calls and the tool calls that follow are attributed to the agent;
- **``FunctionTool.on_invoke_tool``**: the invoker's inner implementation runs as a ``@tool``
  site under the tool's own name, inside the SDK's failure handling — an injected tool fault
  reaches the model exactly like a real tool exception would (by default as "An error occurred
  while running the tool. Please try again.");
- **``RunHooks.on_handoff``** (with ``on_llm_end`` to find the transfer call's arguments): a
  ``handoff`` event from the old agent to the new one, the handoff input as payload;
- guardrail tripwires (input, output, tool) raised out of a run become ``custom`` events named
  ``guardrail_tripwire``.

Nothing here depends on the SDK's tracing, which may be off.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, FunctionTool, RunConfig, RunHooks
from agents import run as sdk_run
from agents.exceptions import (
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
)
from agents.handoffs import Handoff as SdkHandoff
from agents.run_config import CallModelData, ModelInputData

from harness._adapters._registry import enabled
from harness._capture._context import _FRAME, _RUN, Frame
from harness._capture._instrument import agent, handoff, tool
from harness._log._events import Custom
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub

__all__ = ["install"]

NAME = "agents"
_MARK = "__brownout_tool_site__"
_WRAPPED = "__agents_function_tool_wrapped_callable__"  # set by @function_tool on its implementation


def _active() -> bool:
    return _RUN.get() is not None and enabled(NAME)


# -- tools ------------------------------------------------------------------------------------
def _arguments(input_json: str) -> dict[str, Any]:
    try:
        parsed = json.loads(input_json) if input_json else {}
    except (TypeError, ValueError):
        return {"input": input_json}
    return parsed if isinstance(parsed, dict) else {"input": parsed}


def _tool_site(
    invoke: Callable[[Any, str], Awaitable[Any]], name: str
) -> Callable[[Any, str], Awaitable[Any]]:
    """``invoke(ctx, input_json)`` as a ``@tool`` site named ``name`` (its arguments: the JSON)."""

    @functools.wraps(invoke)  # keeps the SDK's metadata on the implementation (__dict__)
    async def site(ctx: Any, input_json: str) -> Any:
        if not _active():
            return await invoke(ctx, input_json)

        async def call(**arguments: Any) -> Any:
            return await invoke(ctx, input_json)

        call.__name__ = call.__qualname__ = name
        return await tool(name)(call)(**_arguments(input_json))

    setattr(site, _MARK, name)
    return site


def _instrument_tool(function_tool: Any) -> None:
    if not isinstance(function_tool, FunctionTool):
        return  # hosted, computer, shell, MCP tools: not function tools (see docs/adapters.md)
    invoker: Any = function_tool.on_invoke_tool
    inner = getattr(invoker, "_invoke_tool_impl", None)
    if callable(inner):
        # An invoker made by @function_tool: wrap what it wraps, so its failure handling
        # (failure_error_function) sees injected faults as it sees real ones. A function the
        # user already declared with harness.tool is its own site: not a second one.
        declared = getattr(getattr(inner, _WRAPPED, None), "__brownout_tool__", None)
        if getattr(inner, _MARK, None) is None and declared is None:
            invoker._invoke_tool_impl = _tool_site(inner, function_tool.name)
    elif getattr(invoker, _MARK, None) is None:
        function_tool.on_invoke_tool = _tool_site(invoker, function_tool.name)


def _instrument_agent(sdk_agent: Any) -> None:
    for function_tool in getattr(sdk_agent, "tools", None) or ():
        _instrument_tool(function_tool)


# -- one Runner.run ---------------------------------------------------------------------------
class _Session:
    """Brownout's view of one SDK run: the open agent scope and the last model responses."""

    def __init__(self, user_filter: Any, run_input: Any) -> None:
        self.outer: Frame | None = _FRAME.get()
        self.input = _last_user_text(run_input)
        self.scope: agent | None = None
        self.restart = False
        self.user_filter = user_filter
        self.responses: dict[str, Any] = {}

    async def filter(self, data: CallModelData[Any]) -> ModelInputData:
        """``RunConfig.call_model_input_filter``: open the calling agent's scope, then the user's filter."""
        sdk_agent = data.agent
        _instrument_agent(sdk_agent)
        await self.enter(str(getattr(sdk_agent, "name", None) or type(sdk_agent).__name__))
        if self.user_filter is None:
            return data.model_data
        result = self.user_filter(data)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    async def enter(self, name: str) -> None:
        """Make ``name``'s scope the current frame here, opening it if this is a new turn."""
        scope = self.scope
        if scope is not None and (scope.name != name or self.restart):
            self.close(None)
            scope = None
        self.restart = False
        if scope is None:
            _FRAME.set(self.outer)  # a turn's scope is a child of the scope Runner.run was called in
            scope = agent(name)
            await scope.__aenter__()  # the worker fault site: may raise WorkerKilled or hang
            self.scope = scope
        else:
            frame = getattr(scope, "_frame", None)
            if frame is not None:
                _FRAME.set(frame)  # a later turn of the same agent, maybe in another task

    def close(self, exc: BaseException | None) -> None:
        scope, self.scope = self.scope, None
        if scope is not None:
            scope.__exit__(type(exc) if exc is not None else None, exc, None)
        _FRAME.set(self.outer)

    def finish(self, exc: BaseException | None) -> None:
        """After the SDK run: close the last scope, record a guardrail tripwire."""
        if exc is not None:
            _record_tripwire(exc)
        self.close(exc)

    def handoff_payload(self, source: str, target_agent: Any) -> dict[str, Any]:
        """The handoff input: the arguments the source model passed to the transfer tool for
        ``target_agent`` (typed by the handoff's ``input_type``, often empty) and the user input
        the run is working on (what the receiving agent's history carries)."""
        response = self.responses.get(source)
        names = {SdkHandoff.default_tool_name(target_agent)} if isinstance(target_agent, Agent) else set()
        arguments: dict[str, Any] = {}
        for item in getattr(response, "output", None) or ():
            if getattr(item, "type", None) == "function_call" and (
                not names or getattr(item, "name", None) in names
            ):
                raw = getattr(item, "arguments", "") or ""
                arguments = _arguments(raw) if raw.strip() else {}
                break
        return {"arguments": arguments, "input": self.input}


def _last_user_text(run_input: Any) -> Any:
    """The run's input as text: a string as is, else the last user message's content."""
    if isinstance(run_input, str):
        return run_input
    if isinstance(run_input, list):
        for item in reversed(run_input):
            if isinstance(item, dict) and item.get("role") == "user":
                return item.get("content")
    return None


def _record_tripwire(exc: BaseException) -> None:
    ctx = _RUN.get()
    if ctx is None:
        return
    data: dict[str, Any]
    if isinstance(exc, InputGuardrailTripwireTriggered | OutputGuardrailTripwireTriggered):
        result = exc.guardrail_result
        guardrail = result.guardrail
        data = {
            "kind": "input" if isinstance(exc, InputGuardrailTripwireTriggered) else "output",
            "guardrail": guardrail.get_name() if hasattr(guardrail, "get_name") else str(guardrail),
            "agent": getattr(getattr(result, "agent", None), "name", None),
            "output_info": getattr(result.output, "output_info", None),
        }
    elif isinstance(exc, ToolInputGuardrailTripwireTriggered | ToolOutputGuardrailTripwireTriggered):
        tool_guardrail = exc.guardrail
        data = {
            "kind": "tool_input" if isinstance(exc, ToolInputGuardrailTripwireTriggered) else "tool_output",
            "guardrail": getattr(tool_guardrail, "name", None) or type(tool_guardrail).__name__,
            "output_info": getattr(exc.output, "output_info", None),
        }
    else:
        return
    ctx.emit(Custom, name="guardrail_tripwire", data=scrub(jsonable(data)))


def _hooks_class() -> type[Any]:
    """RunHooks that record what brownout needs, then call the caller's hooks (if any)."""

    class BrownoutHooks(RunHooks[Any]):
        def __init__(self, session: _Session, inner: Any) -> None:
            self._session = session
            self._inner = inner

        async def on_agent_start(self, context: Any, agent: Any) -> None:
            self._session.restart = True  # a new turn of this agent (the start or a handoff)
            if self._inner is not None:
                await self._inner.on_agent_start(context, agent)

        async def on_agent_end(self, context: Any, agent: Any, output: Any) -> None:
            scope = self._session.scope
            if scope is not None and scope.name == agent.name:
                self._session.close(None)  # final output: the turn ended well
            if self._inner is not None:
                await self._inner.on_agent_end(context, agent, output)

        async def on_llm_start(self, context: Any, agent: Any, system_prompt: Any, input_items: Any) -> None:
            if self._inner is not None:
                await self._inner.on_llm_start(context, agent, system_prompt, input_items)

        async def on_llm_end(self, context: Any, agent: Any, response: Any) -> None:
            self._session.responses[agent.name] = response
            if self._inner is not None:
                await self._inner.on_llm_end(context, agent, response)

        async def on_handoff(self, context: Any, from_agent: Any, to_agent: Any) -> None:
            payload = self._session.handoff_payload(from_agent.name, to_agent)
            handoff(to_agent.name, payload, source=from_agent.name)
            if self._inner is not None:
                await self._inner.on_handoff(context, from_agent, to_agent)

        async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
            if self._inner is not None:
                await self._inner.on_tool_start(context, agent, tool)

        async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: Any) -> None:
            if self._inner is not None:
                await self._inner.on_tool_end(context, agent, tool, result)

        def __getattr__(self, name: str) -> Any:
            # hooks a later SDK version adds: the caller's, if any
            if self._inner is not None:
                return getattr(self._inner, name)
            raise AttributeError(name)

    return BrownoutHooks


_HOOKS: type[Any] | None = None


def _prepare(run_input: Any, kwargs: dict[str, Any]) -> tuple[_Session, dict[str, Any]]:
    global _HOOKS
    if _HOOKS is None:
        _HOOKS = _hooks_class()
    run_config = kwargs.get("run_config") or RunConfig()
    session = _Session(run_config.call_model_input_filter, run_input)
    out = dict(kwargs)
    out["run_config"] = dataclasses.replace(run_config, call_model_input_filter=session.filter)
    out["hooks"] = _HOOKS(session, kwargs.get("hooks"))
    return session, out


def _runner_class() -> type[Any]:
    class BrownoutAgentRunner(sdk_run.AgentRunner):
        """Delegates to the runner it replaced; inside a brownout run, adds the hooks and filter."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        async def run(self, starting_agent: Any, input: Any, **kwargs: Any) -> Any:
            if not _active():
                return await self.inner.run(starting_agent, input, **kwargs)
            session, kwargs = _prepare(input, kwargs)
            try:
                result = await self.inner.run(starting_agent, input, **kwargs)
            except BaseException as exc:
                session.finish(exc)
                raise
            session.finish(None)
            return result

        def run_sync(self, starting_agent: Any, input: Any, **kwargs: Any) -> Any:
            if not _active():
                return self.inner.run_sync(starting_agent, input, **kwargs)
            session, kwargs = _prepare(input, kwargs)
            try:
                result = self.inner.run_sync(starting_agent, input, **kwargs)
            except BaseException as exc:
                session.finish(exc)
                raise
            session.finish(None)
            return result

        def run_streamed(self, starting_agent: Any, input: Any, **kwargs: Any) -> Any:
            if not _active():
                return self.inner.run_streamed(starting_agent, input, **kwargs)
            session, kwargs = _prepare(input, kwargs)
            result = self.inner.run_streamed(starting_agent, input, **kwargs)
            task = getattr(result, "run_loop_task", None)
            if task is not None:

                def done(finished: Any) -> None:
                    exc = None if finished.cancelled() else finished.exception()
                    session.finish(exc)

                task.add_done_callback(done)
            return result

    return BrownoutAgentRunner


def install() -> None:
    """Put brownout's delegating runner in front of the SDK's default runner (once)."""
    current = sdk_run.get_default_agent_runner()
    if getattr(current, "inner", None) is not None and type(current).__name__ == "BrownoutAgentRunner":
        return
    sdk_run.set_default_agent_runner(_runner_class()(current))
