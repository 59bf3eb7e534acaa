"""Hand-built run logs for the checker tests: dense seq numbers, agent scopes, a clock that ticks."""

from __future__ import annotations

from typing import Any, TypeVar

from harness import RunLog
from harness.events import (
    AgentEnd,
    AgentStart,
    Compensation,
    Constraint,
    DeadLetter,
    Escalation,
    EventBase,
    Handoff,
    Join,
    LLMCall,
    Postcondition,
    RunEnd,
    RunStart,
    Spawn,
    StateRead,
    StateWrite,
    ToolCall,
    Wait,
    digest,
)

E = TypeVar("E", bound=EventBase)


class LogBuilder:
    """Appends events as the instrumentation would, inside the agent scopes opened with :meth:`start`."""

    def __init__(self, run_id: str = "r1") -> None:
        self.log = RunLog(run_id)
        self.t = 0.0
        self.stack: list[tuple[str, str]] = []  # (agent name, step id)
        self.add(RunStart, entry="tests:system")

    def add(self, cls: type[E], **fields: Any) -> E:
        seq = len(self.log)
        parent = self.stack[-1] if self.stack else None
        values: dict[str, Any] = {
            "run_id": self.log.run_id,
            "seq": seq,
            "t": round(self.t, 6),
            "step_id": f"s{seq}",
            "parent_step_id": parent[1] if parent else None,
            "agent": parent[0] if parent else None,
        }
        values.update(fields)
        event = cls(**values)
        self.log.append(event)  # type: ignore[arg-type]
        self.t += 0.5
        return event

    # -- agents --------------------------------------------------------------------------
    def start(self, name: str, *, budget: int | None = None) -> AgentStart:
        event: AgentStart = self.add(
            AgentStart,
            name=name,
            agent=name,
            budget_tokens=budget,
            spawned_by=self.stack[-1][0] if self.stack else None,
        )
        self.stack.append((name, event.step_id))
        return event

    def end(self, status: str = "ok", *, error_type: str | None = None) -> AgentEnd:
        name, step_id = self.stack.pop()
        parent = self.stack[-1][1] if self.stack else None
        return self.add(
            AgentEnd,
            step_id=step_id,
            name=name,
            agent=name,
            parent_step_id=parent,
            status=status,
            error_type=error_type,
            error=None if status == "ok" else f"{error_type or status}",
            start_seq=int(step_id[1:]),
        )

    def end_detached(self, start: AgentStart, status: str = "cancelled") -> AgentEnd:
        """End an agent outside the stack discipline (e.g. cancelled by the runner after run_end)."""
        self.stack = [f for f in self.stack if f[1] != start.step_id]
        return self.add(
            AgentEnd,
            step_id=start.step_id,
            name=start.name,
            agent=start.name,
            parent_step_id=start.parent_step_id,
            status=status,
            start_seq=start.seq,
        )

    # -- steps ---------------------------------------------------------------------------
    def tool(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        status: str = "ok",
        attempt: int = 1,
        key: str | None = None,
        side_effect: bool = False,
        compensate: str | None = None,
        compensates: str | None = None,
        executed: bool = True,
        replayed: bool = False,
        token: int | None = None,
        result: Any = None,
        error: str | None = None,
    ) -> ToolCall:
        args = dict(args or {})
        return self.add(
            ToolCall,
            name=name,
            args=args,
            args_digest=digest([name, args]),
            attempt=attempt,
            idempotency_key=key,
            side_effect=side_effect,
            compensate=compensate,
            compensates=compensates,
            status=status,
            result=result,
            error=error if error is not None else (None if status == "ok" else f"{status}!"),
            error_type=None if status == "ok" else "ToolError",
            executed=executed,
            replayed=replayed,
            fencing_token=token,
        )

    def compensation(
        self, tool: str, for_tool: str, *, status: str = "ok", for_step: str | None = None
    ) -> Any:
        return self.add(Compensation, tool=tool, for_tool=for_tool, status=status, for_step=for_step)

    def llm(
        self, *, prompt_tokens: int | None = None, messages: list[dict[str, Any]] | None = None
    ) -> LLMCall:
        return self.add(
            LLMCall,
            path="/v1/chat/completions",
            model="smollm2",
            request_digest="d",
            messages=messages or [{"role": "user", "content": "hi"}],
            prompt_tokens=prompt_tokens,
        )

    def handoff(self, target: str, payload: Any, **fields: Any) -> Handoff:
        return self.add(
            Handoff,
            source=self.stack[-1][0] if self.stack else None,
            target=target,
            payload=payload,
            **fields,
        )

    def constraint(self, name: str, value: Any, **fields: Any) -> Constraint:
        return self.add(Constraint, name=name, value=value, **fields)

    def read(self, key: str, version: int, *, store: str = "kv") -> StateRead:
        return self.add(StateRead, store=store, key=key, version=version)

    def write(
        self, key: str, *, current: int, store: str = "kv", accepted: bool = True, **fields: Any
    ) -> StateWrite:
        new = fields.pop("new_version", current + 1 if accepted else None)
        return self.add(
            StateWrite,
            store=store,
            key=key,
            current_version=current,
            new_version=new,
            accepted=accepted,
            **fields,
        )

    def wait(self, phase: str, waiter: str, waits_for: str | None, resource: str, **fields: Any) -> Wait:
        return self.add(Wait, phase=phase, waiter=waiter, waits_for=waits_for, resource=resource, **fields)

    def spawn(self, task: str) -> Spawn:
        return self.add(Spawn, task=task, target=task)

    def join(self, task: str, outcome: str = "ok") -> Join:
        return self.add(Join, task=task, outcome=outcome)

    def dead_letter(
        self, tool: str, *, for_step: str | None = None, args: dict[str, Any] | None = None
    ) -> Any:
        return self.add(DeadLetter, tool=tool, for_step=for_step, args=args or {}, error="failed")

    def escalate(self, reason: str = "needs a human", *, for_step: str | None = None) -> Any:
        return self.add(Escalation, reason=reason, for_step=for_step)

    def postcondition(self, name: str, holds: bool | None, **fields: Any) -> Postcondition:
        return self.add(Postcondition, name=name, holds=holds, **fields)

    def run_end(
        self,
        status: str = "ok",
        output: Any = None,
        *,
        error_type: str | None = None,
        error: str | None = None,
    ) -> RunEnd:
        return self.add(
            RunEnd,
            status=status,
            output=output,
            error_type=error_type,
            error=error,
            agent=None,
            parent_step_id=None,
        )
