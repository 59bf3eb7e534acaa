"""Hand-built run logs for the report and OpenTelemetry tests."""

from __future__ import annotations

from typing import Any

from harness import RunLog
from harness.events import AgentEnd, AgentStart, FaultInjected, LLMCall, RunEnd, RunStart, ToolCall, Verdict


class LogBuilder:
    """Appends events with dense seq numbers and a clock that the caller advances."""

    def __init__(self, run_id: str = "r1", entry: str = "shop.checkout:run", plan: Any = None) -> None:
        self.log = RunLog(run_id)
        self.t = 0.0
        self.stack: list[tuple[str, str]] = []
        self.add(RunStart, entry=entry, args={"args": [], "kwargs": {}}, fault_plan=plan)

    def add(self, cls: Any, **fields: Any) -> Any:
        seq = len(self.log)
        parent = self.stack[-1] if self.stack else None
        values = {
            "run_id": self.log.run_id,
            "seq": seq,
            "t": round(self.t, 6),
            "step_id": f"s{seq}",
            "parent_step_id": parent[1] if parent else None,
            "agent": parent[0] if parent else None,
        }
        values.update(fields)
        event = cls(**values)
        self.log.append(event)
        return event

    def agent(self, name: str) -> None:
        event = self.add(AgentStart, name=name, agent=name)
        self.stack.append((name, event.step_id))

    def end_agent(self, status: str = "ok", error: str | None = None) -> None:
        name, step = self.stack.pop()
        self.add(
            AgentEnd,
            step_id=step,
            name=name,
            status=status,
            start_seq=int(step[1:]),
            agent=name,
            error=error,
            error_type="TimeoutError" if status == "timeout" else None,
            parent_step_id=self.stack[-1][1] if self.stack else None,
        )

    def llm(
        self,
        *,
        source: str = "replayed",
        prompt: int = 20,
        completion: int = 10,
        latency: float = 0.5,
        text: str = "ok",
        model: str = "smollm2",
    ) -> None:
        self.t += latency
        self.add(
            LLMCall,
            path="/v1/chat/completions",
            model=model,
            request_digest="d" * 16,
            messages=[{"role": "user", "content": "hello"}],
            response_text=text,
            status_code=200,
            finish_reason="stop",
            prompt_tokens=prompt,
            completion_tokens=completion,
            latency=latency,
            source=source,
        )

    def tool(
        self,
        name: str,
        *,
        status: str = "ok",
        side_effect: bool = False,
        attempt: int = 1,
        error: str | None = None,
        key: str | None = None,
    ) -> None:
        self.t += 0.1
        self.add(
            ToolCall,
            name=name,
            args={"order": 7},
            args_digest="a" * 16,
            attempt=attempt,
            side_effect=side_effect,
            status=status,
            result=None if error else {"ok": True},
            error=error,
            error_type="RuntimeError" if error else None,
            latency=0.1,
            idempotency_key=key,
        )

    def fault(self, site: str, effect: str, target: str | None = None, call: int | None = 1) -> None:
        self.add(
            FaultInjected,
            site=site,
            effect=effect,
            target=target,
            call=call,
            fault={"site": site, "effect": effect},
        )

    def verdict(self, rubric: str, score: float | None, passed: bool | None, status: str = "scored") -> None:
        self.add(Verdict, rubric=rubric, score=score, passed=passed, status=status)

    def end(self, status: str = "ok", output: Any = "done", error: str | None = None) -> RunLog:
        while self.stack:
            self.end_agent()
        self.add(
            RunEnd,
            status=status,
            output=output,
            error=error,
            error_type="RuntimeError" if error else None,
            agent=None,
            parent_step_id=None,
        )
        return self.log


def checkout_log(
    run_id: str = "r1",
    *,
    fault: str | None = None,
    crash: bool = False,
    substituted: bool = False,
    duplicate: bool = False,
) -> RunLog:
    """A small checkout system's run: orchestrator -> payment agent (LLM + charge) -> notifier (email)."""
    plan = {"faults": [{"site": "tool", "effect": fault}]} if fault else None
    b = LogBuilder(run_id, plan=plan)
    b.agent("orchestrator")
    b.llm(source="substituted" if substituted else "replayed")
    b.agent("payments")
    if fault:
        b.fault("tool", fault, target="charge_card")
    b.tool(
        "charge_card",
        side_effect=True,
        status="error" if fault else "ok",
        error="card declined" if fault else None,
    )
    if fault:
        b.tool("charge_card", side_effect=True, attempt=2)
    b.end_agent()
    b.agent("notifier")
    b.llm(prompt=40, completion=25)
    b.tool("send_email", side_effect=True)
    if duplicate:
        b.tool("send_email", side_effect=True, attempt=2)
    b.end_agent(status="error" if crash else "ok", error="smtp down" if crash else None)
    b.end_agent()
    return b.end(status="error" if crash else "ok", error="smtp down" if crash else None)
