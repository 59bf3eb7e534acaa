"""CrewAI (``crewai``): agents and their tasks, tools, delegation and task context as handoffs.

Installed once per process and inert outside a run (each wrapper checks the active run and
:func:`enabled` first):

- **agents**: ``Agent.execute_task`` / ``aexecute_task`` (what a crew runs for every task,
  and what delegation runs for the coworker) is an ``agent(role)`` scope — the ``agent_enter``
  fault site — so the LLM calls the agent makes (the openai SDK 2.x over ``httpx``, captured
  below the framework) and its tool calls are attributed to it;
- **tools**: ``BaseTool.run`` / ``arun`` (the native function-calling path) and
  ``CrewStructuredTool.invoke`` / ``ainvoke`` (the ReAct path) run as a ``@tool`` site under
  the name the model calls the tool by (CrewAI's sanitised name, e.g. ``add``), *inside*
  CrewAI's own error handling: an injected tool fault reaches the agent exactly like a
  real tool exception ("Error executing tool: ...");
- **delegation**: a ``Delegate work to coworker`` / ``Ask question to coworker`` call is a
  ``handoff`` from the delegating agent to the coworker, the task and context as payload;
- **task context**: a task that starts with the output of earlier tasks as its context
  (``Process.sequential``, ``Task(context=[...])``) is a ``handoff`` from the agents of those
  tasks to its own agent, the context as payload.

CrewAI's global hooks (``crewai.hooks``: before/after LLM and tool call) observe but cannot
carry a fault: an exception a hook raises is swallowed (fail-open) and a blocked tool call
becomes the text "Tool execution blocked by hook". The wrappers therefore sit on the
methods the hooks surround. Nothing here depends on CrewAI's telemetry or tracing.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

from crewai.agent import Agent
from crewai.task import Task
from crewai.tools.agent_tools.base_agent_tools import BaseAgentTool
from crewai.tools.base_tool import BaseTool, Tool
from crewai.tools.structured_tool import CrewStructuredTool
from crewai.utilities.string_utils import sanitize_tool_name

from harness._adapters._registry import enabled
from harness._capture._context import _FRAME, _RUN
from harness._capture._instrument import agent, handoff, tool

__all__ = ["install"]

NAME = "crewai"
_MARK = "__brownout_crewai__"

# The tool whose site is running: the same call reaching a second wrapped method of the same
# tool (a structured tool invoking its BaseTool) is not a second site. A delegated agent's own
# tool calls are (execute_task clears it).
_IN_TOOL: contextvars.ContextVar[object | None] = contextvars.ContextVar("brownout_crewai_tool", default=None)
# A delegation on its way to the coworker: (source agent, task, context).
_DELEGATION: contextvars.ContextVar[tuple[str | None, str, str] | None] = contextvars.ContextVar(
    "brownout_crewai_delegation", default=None
)


def _active() -> bool:
    return _RUN.get() is not None and enabled(NAME)


def agent_name(crew_agent: Any) -> str:
    """An agent's name in the run log: its role."""
    role = getattr(crew_agent, "role", None)
    return str(role).strip() if role else type(crew_agent).__name__


def _current_agent() -> str | None:
    frame = _FRAME.get()
    return frame.name if frame is not None else None


# -- agents -----------------------------------------------------------------------------------
def _delegated_to(name: str) -> None:
    pending = _DELEGATION.get()
    if pending is None:
        return
    _DELEGATION.set(None)
    source, task, context = pending
    handoff(name, {"task": task, "context": context}, source=source)


def _wrap_execute_task(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def execute_task(self: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active():
            return original(self, task, *args, **kwargs)
        name = agent_name(self)
        _delegated_to(name)
        token = _IN_TOOL.set(None)
        try:
            with agent(name):
                return original(self, task, *args, **kwargs)
        finally:
            _IN_TOOL.reset(token)

    setattr(execute_task, _MARK, True)
    return execute_task


def _wrap_aexecute_task(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def aexecute_task(self: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active():
            return await original(self, task, *args, **kwargs)
        name = agent_name(self)
        _delegated_to(name)
        token = _IN_TOOL.set(None)
        try:
            async with agent(name):
                return await original(self, task, *args, **kwargs)
        finally:
            _IN_TOOL.reset(token)

    setattr(aexecute_task, _MARK, True)
    return aexecute_task


# -- task context: the outputs of earlier tasks handed to the next agent ----------------------
def _context_handoff(task: Any, crew_agent: Any, context: Any) -> None:
    if not context or crew_agent is None:
        return
    sources: list[str] = []
    explicit = getattr(task, "context", None)
    earlier = explicit if isinstance(explicit, list) else _earlier_tasks(task)
    for source_task in earlier:
        source_agent = getattr(source_task, "agent", None)
        if source_agent is not None and getattr(source_task, "output", None) is not None:
            name = agent_name(source_agent)
            if name not in sources:
                sources.append(name)
    target = agent_name(crew_agent)
    description = str(getattr(task, "description", "") or "")
    payload = {"task": description, "context": str(context)}
    if not sources:
        handoff(target, payload)  # context from outside the crew's tasks
    for source in sources:
        if source != target:
            handoff(target, payload, source=source)


def _earlier_tasks(task: Any) -> list[Any]:
    crew = getattr(getattr(task, "agent", None), "crew", None)
    tasks = list(getattr(crew, "tasks", None) or ())
    return tasks[: tasks.index(task)] if task in tasks else []


def _wrap_execute_core(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def execute_core(self: Any, crew_agent: Any, context: Any, tools: Any) -> Any:
        if _active():
            _context_handoff(self, crew_agent or getattr(self, "agent", None), context)
        return original(self, crew_agent, context, tools)

    setattr(execute_core, _MARK, True)
    return execute_core


def _wrap_aexecute_core(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def aexecute_core(self: Any, crew_agent: Any, context: Any, tools: Any) -> Any:
        if _active():
            _context_handoff(self, crew_agent or getattr(self, "agent", None), context)
        return await original(self, crew_agent, context, tools)

    setattr(aexecute_core, _MARK, True)
    return aexecute_core


# -- tools ------------------------------------------------------------------------------------
def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if args and not kwargs:
        first = args[0]
        if len(args) == 1 and isinstance(first, dict):
            return dict(first)
        return {"args": list(args)}
    return dict(kwargs)


def _note_delegation(crew_tool: Any, arguments: dict[str, Any]) -> None:
    if not isinstance(crew_tool, BaseAgentTool):
        return
    coworker = arguments.get("coworker") or arguments.get("co_worker")
    task = arguments.get("task") or arguments.get("question") or ""
    if coworker:
        _DELEGATION.set((_current_agent(), str(task), str(arguments.get("context") or "")))


def _wrap_run(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active() or _IN_TOOL.get() is self:
            return original(self, *args, **kwargs)
        name = str(sanitize_tool_name(self.name))
        arguments = _arguments(args, kwargs)

        def call(**_: Any) -> Any:
            token = _IN_TOOL.set(self)
            try:
                _note_delegation(self, arguments)
                return original(self, *args, **kwargs)
            finally:
                _IN_TOOL.reset(token)

        call.__name__ = call.__qualname__ = name
        return tool(name)(call)(**arguments)

    setattr(run, _MARK, True)
    return run


def _wrap_arun(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def arun(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _active() or _IN_TOOL.get() is self:
            return await original(self, *args, **kwargs)
        name = str(sanitize_tool_name(self.name))
        arguments = _arguments(args, kwargs)

        async def call(**_: Any) -> Any:
            token = _IN_TOOL.set(self)
            try:
                _note_delegation(self, arguments)
                return await original(self, *args, **kwargs)
            finally:
                _IN_TOOL.reset(token)

        call.__name__ = call.__qualname__ = name
        return await tool(name)(call)(**arguments)

    setattr(arun, _MARK, True)
    return arun


def _structured_target(structured: Any) -> Any:
    """The BaseTool behind a structured tool (for delegation), else the structured tool itself."""
    original = getattr(structured, "_original_tool", None)
    return original if original is not None else structured


def _wrap_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def invoke(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        target = _structured_target(self)
        if not _active() or _IN_TOOL.get() is target:
            return original(self, input, config, **kwargs)
        name = str(sanitize_tool_name(self.name))
        arguments = dict(input) if isinstance(input, dict) else {"input": input}

        def call(**_: Any) -> Any:
            token = _IN_TOOL.set(target)
            try:
                _note_delegation(target, arguments)
                return original(self, input, config, **kwargs)
            finally:
                _IN_TOOL.reset(token)

        call.__name__ = call.__qualname__ = name
        return tool(name)(call)(**arguments)

    setattr(invoke, _MARK, True)
    return invoke


def _wrap_ainvoke(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def ainvoke(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        target = _structured_target(self)
        if not _active() or _IN_TOOL.get() is target:
            return await original(self, input, config, **kwargs)
        name = str(sanitize_tool_name(self.name))
        arguments = dict(input) if isinstance(input, dict) else {"input": input}

        async def call(**_: Any) -> Any:
            token = _IN_TOOL.set(target)
            try:
                _note_delegation(target, arguments)
                return await original(self, input, config, **kwargs)
            finally:
                _IN_TOOL.reset(token)

        call.__name__ = call.__qualname__ = name
        return await tool(name)(call)(**arguments)

    setattr(ainvoke, _MARK, True)
    return ainvoke


_PATCHES: tuple[tuple[type[Any], str, Callable[[Callable[..., Any]], Callable[..., Any]]], ...] = (
    (Agent, "execute_task", _wrap_execute_task),
    (Agent, "aexecute_task", _wrap_aexecute_task),
    (Task, "_execute_core", _wrap_execute_core),
    (Task, "_aexecute_core", _wrap_aexecute_core),
    (BaseTool, "run", _wrap_run),
    (BaseTool, "arun", _wrap_arun),
    (Tool, "run", _wrap_run),
    (Tool, "arun", _wrap_arun),
    (CrewStructuredTool, "invoke", _wrap_invoke),
    (CrewStructuredTool, "ainvoke", _wrap_ainvoke),
)


def install() -> None:
    """Wrap CrewAI's agent, task and tool execution methods (once; inert outside a run)."""
    for cls, attribute, wrap in _PATCHES:
        original = cls.__dict__.get(attribute)
        if original is None or getattr(original, _MARK, False):
            continue
        setattr(cls, attribute, wrap(original))
