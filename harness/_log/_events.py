"""The typed, versioned events that make up a run's history.

Every observable step of a system under test becomes one immutable :class:`Event`.
Events are pydantic models discriminated by their ``kind`` field; the union
:data:`AnyEvent` is what a :class:`~harness.RunLog` holds and what its JSONL file
stores, one event a line after a format/version header.

Common fields, on every event:

- ``run_id``: the run this event belongs to (the only field that differs between
  two replays of the same run);
- ``seq``: position in the run, 0-based, dense;
- ``t``: virtual time in seconds since the run started (the run's clock, not the wall);
- ``step_id``: this step's id (``"s<seq>"`` of the event that opened the step);
- ``parent_step_id``: the enclosing agent step, ``None`` at top level;
- ``agent``: the name of the agent the step ran in, ``None`` outside any agent;
- ``incarnation``: which start of the system the step belongs to: 0 until the system
  first crash-stops at an injected kill point, then 1 for the restarted system, and so on
  (a ``restart`` event separates them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from harness._log._model import HarnessModel

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "AgentEnd",
    "AgentStart",
    "AgentStatus",
    "AnyEvent",
    "BudgetUse",
    "CheckResult",
    "Compensation",
    "Constraint",
    "Custom",
    "DeadLetter",
    "Escalation",
    "EventBase",
    "FaultInjected",
    "Handoff",
    "Join",
    "LLMCall",
    "LLMSource",
    "MessageReceive",
    "MessageSend",
    "Postcondition",
    "Restart",
    "RunEnd",
    "RunStart",
    "Spawn",
    "StateRead",
    "StateWrite",
    "ToolCall",
    "Verdict",
    "Wait",
    "event_adapter",
]

FORMAT = "brownout-runlog"
FORMAT_VERSION = 1

AgentStatus = Literal["ok", "error", "timeout", "cancelled", "killed"]
# external: recorded with harness.llm_call (a client brownout does not carry); seen, not replayed.
LLMSource = Literal["live", "replayed", "substituted", "injected", "external"]


class EventBase(HarnessModel):
    """Fields every event carries. Events are frozen: a history is never rewritten."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    seq: int
    t: float
    step_id: str
    parent_step_id: str | None = None
    agent: str | None = None
    incarnation: int = 0


class RunStart(EventBase):
    """The run began: what was called, under which fault plan."""

    kind: Literal["run_start"] = "run_start"
    entry: str
    args: Any = None
    fault_plan: Any = None
    meta: dict[str, Any] = Field(default_factory=dict)


class RunEnd(EventBase):
    """The run finished. ``status`` is how the entry point ended, not whether it was correct."""

    kind: Literal["run_end"] = "run_end"
    status: Literal["ok", "error", "cancelled", "killed"]
    error: str | None = None
    error_type: str | None = None
    output: Any = None


class AgentStart(EventBase):
    """An agent scope opened (``harness.agent(name)``)."""

    kind: Literal["agent_start"] = "agent_start"
    name: str
    spawned_by: str | None = None
    budget_tokens: int | None = None
    # Runs in its own task or thread (spawned, gathered, wait_for'd), apart from its parent
    # scope: a crash of it can be observed and handled by the parent. An inline sub-agent
    # (same task as its parent) crashing is the parent crashing.
    detached: bool = False


class AgentEnd(EventBase):
    """An agent scope closed, with how it ended."""

    kind: Literal["agent_end"] = "agent_end"
    name: str
    status: AgentStatus
    error: str | None = None
    error_type: str | None = None
    start_seq: int
    reported: Any = None


class LLMCall(EventBase):
    """One request to an LLM endpoint and its reply (or failure)."""

    kind: Literal["llm_call"] = "llm_call"
    method: str = "POST"
    path: str
    model: str | None = None
    request_digest: str
    occurrence: int = 0
    messages: list[dict[str, Any]] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    stream: bool = False
    status_code: int | None = None
    response_text: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float = 0.0
    source: LLMSource = "live"
    error: str | None = None
    error_type: str | None = None


class ToolCall(EventBase):
    """One call of a ``@tool`` function: arguments, result or error, attempt and idempotency key."""

    kind: Literal["tool_call"] = "tool_call"
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    args_digest: str
    attempt: int = 1
    idempotency_key: str | None = None
    side_effect: bool = False
    compensate: str | None = None
    compensates: str | None = None
    status: Literal["ok", "error", "timeout", "cancelled", "killed", "lost_ack"] = "ok"
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    executed: bool = True
    replayed: bool = False
    latency: float = 0.0
    fencing_token: int | None = None
    # The log's length when the call was made: every event with a lower seq happened before
    # the caller made it (a tool_call is appended when the call ends, so its own seq says
    # only when it ended). None in logs written before it was recorded.
    began_at: int | None = None


class Compensation(EventBase):
    """A compensating action ran for an earlier side effect (saga)."""

    kind: Literal["compensation"] = "compensation"
    tool: str
    for_tool: str
    for_step: str | None = None
    status: Literal["ok", "error"] = "ok"


class Handoff(EventBase):
    """Work passed from one agent to another, with the payload and its contract check."""

    kind: Literal["handoff"] = "handoff"
    source: str | None = None
    target: str
    payload: Any = None
    schema_name: str | None = None
    valid: bool | None = None
    errors: list[str] = Field(default_factory=list)
    constraints: list[Any] = Field(default_factory=list)
    # What a judge is to ask of the payload (``handoff(..., rubric=...)``): a question, rubric
    # data, or the path of a rubric file. Recorded only; the judges evaluate it in goal_drift.
    rubric: Any = None


class MessageSend(EventBase):
    """A message put on a channel."""

    kind: Literal["message_send"] = "message_send"
    channel: str
    message_id: str
    sender: str | None = None
    recipient: str | None = None
    payload: Any = None
    delivered: bool = True


class MessageReceive(EventBase):
    """A message taken from a channel."""

    kind: Literal["message_receive"] = "message_receive"
    channel: str
    message_id: str
    receiver: str | None = None
    payload: Any = None


class StateRead(EventBase):
    """A read of the shared state store."""

    kind: Literal["state_read"] = "state_read"
    store: str
    key: str
    version: int
    value: Any = None
    stale: bool = False


class StateWrite(EventBase):
    """A write (or compare-and-set) on the shared state store."""

    kind: Literal["state_write"] = "state_write"
    store: str
    key: str
    op: Literal["write", "cas"] = "write"
    based_on_version: int | None = None
    expected_version: int | None = None
    new_version: int | None = None
    current_version: int = 0
    value: Any = None
    fencing_token: int | None = None
    accepted: bool = True
    lost: bool = False


class Wait(EventBase):
    """Who waits on whom: a begin/end pair around a blocking wait (channel receive, join, lock)."""

    kind: Literal["wait"] = "wait"
    phase: Literal["begin", "end"]
    waiter: str | None = None
    waits_for: str | None = None
    resource: str
    deadline: float | None = None
    outcome: Literal["ok", "timeout", "cancelled", "killed"] | None = None


class Spawn(EventBase):
    """A task or sub-agent started concurrently; a matching :class:`Join` should follow."""

    kind: Literal["spawn"] = "spawn"
    task: str
    target: str | None = None


class Join(EventBase):
    """A spawned task was awaited (joined) or cancelled."""

    kind: Literal["join"] = "join"
    task: str
    outcome: Literal["ok", "error", "cancelled", "timeout"] = "ok"


class DeadLetter(EventBase):
    """A failed call parked for later handling instead of being dropped."""

    kind: Literal["dead_letter"] = "dead_letter"
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    for_step: str | None = None


class Escalation(EventBase):
    """A failure handed to a human or a supervisor."""

    kind: Literal["escalation"] = "escalation"
    reason: str
    for_step: str | None = None


class Constraint(EventBase):
    """A hard constraint of the task, declared as data (``harness.constraint``).

    The ``goal_drift`` checker looks for ``value`` in every later handoff payload
    (when ``handoffs``) and in the run's final output (when ``output``).
    """

    kind: Literal["constraint"] = "constraint"
    name: str
    value: Any = None
    handoffs: bool = True
    output: bool = True


class Postcondition(EventBase):
    """An agent's declared postcondition was evaluated on what it reported."""

    kind: Literal["postcondition"] = "postcondition"
    name: str
    holds: bool | None
    detail: str | None = None


class BudgetUse(EventBase):
    """An acquire, release or denial on a shared :class:`harness.Budget`.

    ``amount`` is what was taken, given back or refused; ``in_use`` and ``held`` (by this
    branch) are after the operation; ``capacity`` is the budget's capacity at that moment.
    """

    kind: Literal["budget"] = "budget"
    budget: str
    op: Literal["acquire", "release", "deny"]
    branch: str
    amount: float
    in_use: float
    held: float
    capacity: float


class Restart(EventBase):
    """The system crash-stopped at a kill point and was started again (its next incarnation).

    ``incarnation`` (as on every event) is the new one; ``crashed`` the one that died,
    ``point`` the kill point (``before_effect``, ``after_effect``, ``mid_call``,
    ``after_checkpoint``, ``mid_stream``), ``site`` the step it struck and ``crash_seq`` the
    seq of the last event the crashed incarnation recorded (usually the struck call's end).
    """

    kind: Literal["restart"] = "restart"
    crashed: int
    point: str
    site: str
    crash_seq: int | None = None


class FaultInjected(EventBase):
    """The harness injected a fault at this step."""

    kind: Literal["fault_injected"] = "fault_injected"
    site: str
    effect: str
    fault: dict[str, Any] = Field(default_factory=dict)
    target: str | None = None
    call: int | None = None


class CheckResult(EventBase):
    """A checker ran on the history."""

    kind: Literal["check_result"] = "check_result"
    checker: str
    passed: bool
    violations: list[dict[str, Any]] = Field(default_factory=list)


class Verdict(EventBase):
    """A judge scored an output."""

    kind: Literal["verdict"] = "verdict"
    rubric: str
    passed: bool | None
    score: float | None = None
    status: Literal["scored", "unscored", "indeterminate"] = "scored"
    detail: dict[str, Any] = Field(default_factory=dict)


class Custom(EventBase):
    """A user annotation (``harness.note``)."""

    kind: Literal["custom"] = "custom"
    name: str
    data: Any = None


AnyEvent = Annotated[
    RunStart
    | RunEnd
    | AgentStart
    | AgentEnd
    | LLMCall
    | ToolCall
    | Compensation
    | Handoff
    | MessageSend
    | MessageReceive
    | StateRead
    | StateWrite
    | Wait
    | Spawn
    | Join
    | DeadLetter
    | Escalation
    | Postcondition
    | Constraint
    | BudgetUse
    | Restart
    | FaultInjected
    | CheckResult
    | Verdict
    | Custom,
    Field(discriminator="kind"),
]

event_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
