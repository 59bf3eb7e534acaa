"""Fault models: a :class:`Fault` is a site selector plus an effect; a :class:`FaultPlan` is a few of them.

A fault names *where* it strikes (``site``, ``target``, ``call``) and *what* happens
(``effect``, one of the effect models below, discriminated by ``kind``). Everything is
pydantic, round-trips through JSON, and prints as one readable line::

    tool[send_email]#2: slow_then_succeed(40s)
    llm[planner]#1: rate_limit(retry_after=20s)
    worker[researcher]#every: kill
    network[payments]#every: latency(1.5s, jitter=0.2s)

Call numbers are 1-based and count the calls *at that site in one run*: with a target,
the calls of that tool / by that agent / on that channel or store; without one
(``tool[*]``), all calls at the site. Every HTTP attempt counts as an LLM call, so the
openai SDK's own retries are separate calls.
"""

from __future__ import annotations

import json
import random
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_serializer,
    model_validator,
)

from faults._errors import FaultPlanError

__all__ = [
    "EFFECTS",
    "SITES",
    "Bandwidth",
    "Chance",
    "ContextLengthExceeded",
    "Corrupt",
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
    "FaultPlan",
    "Hang",
    "Kill",
    "Latency",
    "LimitData",
    "LostAck",
    "LostWrite",
    "MalformedResponse",
    "MalformedResult",
    "RateLimit",
    "Reorder",
    "ResetPeer",
    "ServerError",
    "Site",
    "Slicer",
    "SlowClose",
    "SlowThenSucceed",
    "StaleRead",
    "Timeout",
    "ToolError",
    "TruncatedResponse",
    "effect_kinds",
]

Site = Literal["llm", "tool", "message", "state", "worker", "network"]
SITES: tuple[str, ...] = ("llm", "tool", "message", "state", "worker", "network")
Stream = Literal["downstream", "upstream"]

_Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _fmt(value: Any, seconds: bool) -> str:
    if seconds and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}s"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class EffectBase(BaseModel):
    """What happens at a site. Subclasses set ``kind``, the sites they apply to, and parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sites: ClassVar[frozenset[str]] = frozenset()
    # The parameter printed without its name, and the parameters measured in seconds.
    primary: ClassVar[str | None] = None
    seconds_fields: ClassVar[frozenset[str]] = frozenset()
    # What the effect models, for docs and error messages.
    models: ClassVar[str] = ""

    def __str__(self) -> str:
        kind = getattr(self, "kind", type(self).__name__)
        parts: list[str] = []
        for name, info in type(self).model_fields.items():
            if name == "kind":
                continue
            value = getattr(self, name)
            if value == info.default and (name != self.primary or value is None):
                continue
            text = _fmt(value, name in self.seconds_fields)
            if name == self.primary:
                parts.insert(0, text)
            else:
                parts.append(f"{name}={text}")
        return f"{kind}({', '.join(parts)})" if parts else str(kind)


class _Toxic(EffectBase):
    """Parameters every network toxic takes (ignored elsewhere, and rejected if set elsewhere)."""

    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, gt=0, le=1)


# -- shared by several sites ----------------------------------------------------------------
class Latency(_Toxic):
    """The step takes ``seconds`` longer (virtual time), then proceeds normally."""

    kind: Literal["latency"] = "latency"
    seconds: _Seconds = 2.0
    jitter: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    sites = frozenset({"llm", "tool", "network"})
    primary = "seconds"
    seconds_fields = frozenset({"seconds", "jitter"})
    models = "a slow provider, a slow downstream service, a congested link"


class Timeout(_Toxic):
    """Nothing comes back; after ``after`` seconds the caller's timeout fires.

    LLM: ``httpx2.ReadTimeout`` after ``after`` seconds (default: the client's own read
    timeout), which the openai SDK turns into ``APITimeoutError`` after its retries. Tool:
    ``TimeoutError`` after ``after`` seconds (default 30); the tool did not run. Network:
    Toxiproxy's ``timeout`` toxic (data stops; the connection closes after ``after`` s, or
    never when ``after`` is not given).
    """

    kind: Literal["timeout"] = "timeout"
    after: _Seconds | None = None
    sites = frozenset({"llm", "tool", "network"})
    primary = "after"
    seconds_fields = frozenset({"after"})
    models = "a request that never gets an answer within the caller's timeout"


class Hang(EffectBase):
    """The step blocks until it is cancelled (by a caller's timeout or the run's deadline)."""

    kind: Literal["hang"] = "hang"
    sites = frozenset({"llm", "tool", "worker"})
    models = "a stuck connection, a deadlocked service, a worker stuck in a loop"


# -- LLM ------------------------------------------------------------------------------------
class RateLimit(EffectBase):
    """HTTP 429 with ``retry-after`` and the provider's ``rate_limit_exceeded`` error body."""

    kind: Literal["rate_limit"] = "rate_limit"
    retry_after: _Seconds | None = 1.0
    sites = frozenset({"llm"})
    seconds_fields = frozenset({"retry_after"})
    models = "the provider's rate limit (RPM/TPM) was hit"


class ServerError(EffectBase):
    """HTTP 500/502/503/504 with the provider's error body (502 from a gateway, as HTML)."""

    kind: Literal["server_error"] = "server_error"
    status: Literal[500, 502, 503, 504] = 500
    sites = frozenset({"llm"})
    primary = "status"
    models = "a provider outage, an overloaded engine, a failing gateway"


class MalformedResponse(EffectBase):
    """HTTP 200 whose JSON body (or SSE event) is cut mid-document: the SDK cannot decode it."""

    kind: Literal["malformed"] = "malformed"
    sites = frozenset({"llm"})
    models = "a proxy or server bug returning a broken body with a success status"


class TruncatedResponse(EffectBase):
    """The connection drops mid-reply: a stream is cut after ``after_chunks`` SSE events.

    Streaming: the first ``after_chunks`` events arrive, then ``httpx2.RemoteProtocolError``.
    Non-streaming: the body is cut, which the SDK reports as ``APIConnectionError`` after retries.
    """

    kind: Literal["truncated"] = "truncated"
    after_chunks: int = Field(default=1, ge=0)
    sites = frozenset({"llm"})
    primary = "after_chunks"
    models = "a dropped connection in the middle of a streamed answer"


class EmptyResponse(EffectBase):
    """HTTP 200 with a well-formed reply whose content is empty (``finish_reason='stop'``)."""

    kind: Literal["empty"] = "empty"
    sites = frozenset({"llm"})
    models = "a model that returns nothing (safety filter, stop token, server bug)"


class ContextLengthExceeded(EffectBase):
    """HTTP 400 ``invalid_request_error`` with code ``context_length_exceeded``."""

    kind: Literal["context_length"] = "context_length"
    sites = frozenset({"llm"})
    models = "a prompt that grew past the model's context window"


class Disconnect(EffectBase):
    """The server closes the connection before replying (``httpx2.RemoteProtocolError``)."""

    kind: Literal["disconnect"] = "disconnect"
    sites = frozenset({"llm"})
    models = "a load balancer or server dropping the connection"


# -- tools ----------------------------------------------------------------------------------
ToolErrorType = Literal[
    "ConnectionError", "TimeoutError", "RuntimeError", "ValueError", "PermissionError", "OSError"
]


class ToolError(EffectBase):
    """The tool raises ``error_type`` without running (a failed downstream call)."""

    kind: Literal["error"] = "error"
    error_type: ToolErrorType = "ConnectionError"
    message: str | None = None
    sites = frozenset({"tool"})
    primary = "error_type"
    models = "a downstream service failing or refusing the call"


class SlowThenSucceed(EffectBase):
    """The tool runs (its side effect happens), but its reply comes ``seconds`` later.

    A caller with a shorter timeout gives up first, and typically retries: the classic
    source of duplicated side effects.
    """

    kind: Literal["slow_then_succeed"] = "slow_then_succeed"
    seconds: _Seconds = 40.0
    sites = frozenset({"tool"})
    primary = "seconds"
    seconds_fields = frozenset({"seconds"})
    models = "a slow service that completes the work after the client has given up"


class LostAck(EffectBase):
    """The tool runs, then its reply is lost: after ``after`` seconds the caller sees a timeout."""

    kind: Literal["lost_ack"] = "lost_ack"
    after: _Seconds = 30.0
    sites = frozenset({"tool"})
    primary = "after"
    seconds_fields = frozenset({"after"})
    models = "an acknowledgement lost on the way back: the work is done, the caller does not know"


class MalformedResult(EffectBase):
    """The tool runs, but its result arrives garbled: the first half of its JSON text."""

    kind: Literal["malformed_result"] = "malformed_result"
    sites = frozenset({"tool"})
    models = "a truncated or garbled response from an API behind a tool"


class EmptyResult(EffectBase):
    """The tool runs, but returns an empty value of its result's type ("", {}, [], None)."""

    kind: Literal["empty_result"] = "empty_result"
    sites = frozenset({"tool"})
    models = "an API that answers 200 with nothing in it"


# -- messages -------------------------------------------------------------------------------
class Drop(EffectBase):
    """The message is lost: the sender thinks it was sent, nobody receives it."""

    kind: Literal["drop"] = "drop"
    sites = frozenset({"message"})
    models = "a lost message (a queue without delivery guarantees, a crashed broker)"


class Duplicate(EffectBase):
    """The message is delivered twice, with the same message id (at-least-once delivery)."""

    kind: Literal["duplicate"] = "duplicate"
    sites = frozenset({"message"})
    models = "redelivery by an at-least-once queue"


class Delay(EffectBase):
    """The message becomes receivable ``seconds`` after it was sent."""

    kind: Literal["delay"] = "delay"
    seconds: _Seconds = 5.0
    sites = frozenset({"message"})
    primary = "seconds"
    seconds_fields = frozenset({"seconds"})
    models = "a slow or backed-up queue"


class Reorder(EffectBase):
    """The message is held back and delivered right after the next message on the channel
    (or after ``hold`` seconds, if no other message comes by then)."""

    kind: Literal["reorder"] = "reorder"
    hold: _Seconds = 10.0
    sites = frozenset({"message"})
    seconds_fields = frozenset({"hold"})
    models = "out-of-order delivery (partitions, retries, parallel consumers)"


# -- shared state ---------------------------------------------------------------------------
class Corrupt(EffectBase):
    """The write stores a corrupted value (the version advances as usual)."""

    kind: Literal["corrupt"] = "corrupt"
    sites = frozenset({"state"})
    models = "bit rot, a buggy serializer, a partial write"


class StaleRead(EffectBase):
    """The read returns the previous version of the key (a lagging replica or cache)."""

    kind: Literal["stale_read"] = "stale_read"
    sites = frozenset({"state"})
    models = "a read from a replica or cache that has not seen the latest write"


class LostWrite(EffectBase):
    """The write is acknowledged with a new version but never stored."""

    kind: Literal["lost_write"] = "lost_write"
    sites = frozenset({"state"})
    models = "a write acknowledged before it was durable, then lost (crash, failover)"


# -- workers --------------------------------------------------------------------------------
class Kill(EffectBase):
    """The agent crash-stops: ``harness.WorkerKilled`` (a ``BaseException``), which ``except
    Exception`` does not catch.

    ``after_calls=0`` kills it on entry; ``after_calls=n`` right after its n-th tool or LLM
    call completed (the call's side effect happened, the agent never saw the reply).
    """

    kind: Literal["kill"] = "kill"
    after_calls: int = Field(default=0, ge=0)
    sites = frozenset({"worker"})
    primary = "after_calls"
    models = "a crashed process, an OOM kill, a pre-empted container"

    def __str__(self) -> str:
        return "kill" if self.after_calls == 0 else f"kill(after {self.after_calls} calls)"


# -- network toxics (Toxiproxy) -------------------------------------------------------------
class Bandwidth(_Toxic):
    """Limit the connection to ``rate`` KB/s."""

    kind: Literal["bandwidth"] = "bandwidth"
    rate: int = Field(default=10, ge=0)
    sites = frozenset({"network"})
    primary = "rate"
    models = "a saturated or throttled link"


class SlowClose(_Toxic):
    """Delay the TCP close by ``delay`` seconds."""

    kind: Literal["slow_close"] = "slow_close"
    delay: _Seconds = 1.0
    sites = frozenset({"network"})
    primary = "delay"
    seconds_fields = frozenset({"delay"})
    models = "a peer that lingers before closing connections"


class ResetPeer(_Toxic):
    """Reset the connection (TCP RST) after ``after`` seconds (0: at once)."""

    kind: Literal["reset_peer"] = "reset_peer"
    after: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    sites = frozenset({"network"})
    primary = "after"
    seconds_fields = frozenset({"after"})
    models = "a crashed peer or a middlebox killing the connection"


class Slicer(_Toxic):
    """Cut data into small packets (``average_size`` bytes +- ``size_variation``), ``delay`` apart."""

    kind: Literal["slicer"] = "slicer"
    average_size: int = Field(default=8, ge=1)
    size_variation: int = Field(default=0, ge=0)
    delay: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    sites = frozenset({"network"})
    primary = "average_size"
    seconds_fields = frozenset({"delay"})
    models = "fragmented TCP segments that expose framing bugs"


class LimitData(_Toxic):
    """Close the connection once ``bytes`` bytes have passed."""

    kind: Literal["limit_data"] = "limit_data"
    bytes: int = Field(default=64, ge=1)
    sites = frozenset({"network"})
    primary = "bytes"
    models = "a connection cut mid-transfer"


class Down(EffectBase):
    """The proxy is disabled: connections are refused and open ones dropped."""

    kind: Literal["down"] = "down"
    sites = frozenset({"network"})
    models = "the service or the route to it is down"


Effect = Annotated[
    Latency
    | Timeout
    | Hang
    | RateLimit
    | ServerError
    | MalformedResponse
    | TruncatedResponse
    | EmptyResponse
    | ContextLengthExceeded
    | Disconnect
    | ToolError
    | SlowThenSucceed
    | LostAck
    | MalformedResult
    | EmptyResult
    | Drop
    | Duplicate
    | Delay
    | Reorder
    | Corrupt
    | StaleRead
    | LostWrite
    | Kill
    | Bandwidth
    | SlowClose
    | ResetPeer
    | Slicer
    | LimitData
    | Down,
    Field(discriminator="kind"),
]

EFFECTS: dict[str, type[EffectBase]] = {
    cls.model_fields["kind"].default: cls
    for cls in (
        Latency,
        Timeout,
        Hang,
        RateLimit,
        ServerError,
        MalformedResponse,
        TruncatedResponse,
        EmptyResponse,
        ContextLengthExceeded,
        Disconnect,
        ToolError,
        SlowThenSucceed,
        LostAck,
        MalformedResult,
        EmptyResult,
        Drop,
        Duplicate,
        Delay,
        Reorder,
        Corrupt,
        StaleRead,
        LostWrite,
        Kill,
        Bandwidth,
        SlowClose,
        ResetPeer,
        Slicer,
        LimitData,
        Down,
    )
}


def effect_kinds(site: str) -> list[str]:
    """The effect kinds valid at ``site``, in a stable order (simplest first)."""
    return [kind for kind, cls in EFFECTS.items() if site in cls.sites]


class Chance(BaseModel):
    """Select each call with probability ``p``, decided by a hash of ``seed`` and the call number.

    The same seed selects the same calls in every run, whatever else happens in between.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    p: float = Field(gt=0, le=1)
    seed: StrictInt = 0

    def selects(self, key: str, call: int) -> bool:
        return random.Random(f"{self.seed}:{key}:{call}").random() < self.p

    def __str__(self) -> str:
        return f"p={self.p:g}/seed={self.seed}"


CallSelector = Annotated[StrictInt, Field(ge=1)] | Literal["every"] | Chance


class Fault(BaseModel):
    """One fault: where it strikes (site, target, call) and what happens (effect).

    Attributes:
        site: ``llm``, ``tool``, ``message``, ``state``, ``worker`` or ``network``.
        target: The agent (llm, worker), tool, channel, store or proxy name; ``None`` for any.
        call: The 1-based call number, ``"every"``, or a :class:`Chance`.
        effect: What happens (one of the effect models; see docs/faults.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Site
    target: str | None = None
    call: CallSelector = 1
    effect: Effect

    @field_serializer("effect")
    def _compact_effect(self, effect: EffectBase) -> dict[str, Any]:
        # Only the kind and the parameters that differ from their defaults: short replay commands.
        data = effect.model_dump(mode="json", exclude_defaults=True)
        return {"kind": effect.kind, **data}  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _check(self) -> Fault:
        effect = self.effect
        if self.site not in effect.sites:
            valid = ", ".join(effect_kinds(self.site))
            raise ValueError(
                f"effect {effect.kind!r} does not apply at site {self.site!r}; it applies at "
                f"{', '.join(sorted(effect.sites))}. Effects valid at {self.site!r}: {valid}"
            )
        if isinstance(effect, _Toxic) and self.site != "network":
            if effect.stream != "downstream" or effect.toxicity != 1.0:
                raise ValueError(
                    f"stream={effect.stream!r}/toxicity={effect.toxicity:g} apply only at site 'network'; "
                    f"remove them from this {self.site!r} fault"
                )
            if isinstance(effect, Latency) and effect.jitter:
                raise ValueError(
                    f"jitter applies only at site 'network'; remove it from this {self.site!r} fault"
                )
        if self.site == "network" and self.call != "every":
            raise ValueError(
                f"call={self.call!r}: a network fault acts on the proxy for the whole run, so call must be "
                "'every' (use toxicity=<0..1> for a fraction of connections)"
            )
        if self.target is not None and not self.target:
            raise ValueError(
                "target='' is empty: name the agent/tool/channel/store/proxy, or use null for any"
            )
        return self

    @property
    def kind(self) -> str:
        """``<site>.<effect kind>``, the name used in ``@pytest.mark.chaos(faults=[...])``."""
        return f"{self.site}.{self.effect.kind}"

    def selects(self, target: str | None, call_for_target: int, call_at_site: int) -> bool:
        """Whether this fault strikes the given call (target name, its count, the site's count)."""
        if self.target is not None and self.target != target:
            return False
        n = call_for_target if self.target is not None else call_at_site
        if self.call == "every":
            return True
        if isinstance(self.call, Chance):
            return self.call.selects(f"{self.site}:{self.target or '*'}", n)
        return n == self.call

    def __str__(self) -> str:
        return f"{self.site}[{self.target or '*'}]#{self.call}: {self.effect}"


class FaultPlan(BaseModel):
    """A small, ordered set of faults: what goes wrong in one run.

    When several faults select the same call, the first one in the plan wins.
    ``plan.hooks()`` gives the :class:`harness.RunHooks` that inject them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    faults: tuple[Fault, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _accept_list(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"faults": list(data)}
        return data

    @model_validator(mode="after")
    def _check(self) -> FaultPlan:
        seen: set[Fault] = set()
        for index, fault in enumerate(self.faults):
            if fault in seen:
                raise ValueError(f"faults[{index}] ({fault}) appears twice; a plan holds each fault once")
            seen.add(fault)
        return self

    @classmethod
    def from_json(cls, text: str | bytes) -> FaultPlan:
        """Parse a plan from JSON (an object ``{"faults": [...]}`` or a bare list of faults).

        Raises:
            FaultPlanError: naming the field, the value and the rule that was broken.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            snippet = (text if isinstance(text, str) else text.decode("utf-8", "replace"))[:80]
            raise FaultPlanError(
                f"fault plan is not valid JSON ({exc.msg} at char {exc.pos}): {snippet!r}. Pass the JSON "
                'printed in a failure message, e.g. {"faults": [{"site": "tool", "target": "send_email", '
                '"call": 1, "effect": {"kind": "error"}}]}.'
            ) from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Any) -> FaultPlan:
        """Validate already-parsed data (dict or list) into a plan; errors as in :meth:`from_json`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise FaultPlanError(_explain(exc)) from None

    def hooks(self) -> Any:
        """The :class:`harness.RunHooks` that inject this plan's faults into one run."""
        from faults._inject import PlanHooks

        return PlanHooks(self)

    def __str__(self) -> str:
        if not self.faults:
            return "(no faults)"
        return "; ".join(str(f) for f in self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    def describe(self) -> str:
        """One fault a line, numbered."""
        if not self.faults:
            return "  (no faults)"
        return "\n".join(f"  {i}. {f}" for i, f in enumerate(self.faults, 1))


def _explain(exc: ValidationError) -> str:
    problems = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_branch(p)) or "(plan)"
        if loc in seen:  # one line per field, even where a union produced several errors
            continue
        seen.add(loc)
        value = err.get("input")
        shown = json.dumps(value, default=repr)[:80] if not isinstance(value, dict) else "{...}"
        msg = err["msg"].removeprefix("Value error, ")
        if loc.endswith(".call") and len(err["loc"]) > 2:
            msg = 'must be a call number >= 1, "every", or {"p": <0..1>, "seed": <int>}'
        problems.append(f"  - {loc} = {shown}: {msg}")
    kinds = ", ".join(EFFECTS)
    return (
        f"invalid fault plan ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
        + "\n".join(problems)
        + f"\nA fault is {{site: {'|'.join(SITES)}, target: name or null, call: n >= 1 | 'every' | "
        f"{{p, seed}}, effect: {{kind, ...}}}}; effect kinds: {kinds}. See docs/faults.md."
    )


def _is_union_branch(part: Any) -> bool:
    # pydantic inserts union branch names (``int``, ``literal['every']``, ``Chance``) into error locations.
    return isinstance(part, str) and (
        part in ("int", "constrained-int", "Chance") or part.startswith("literal[")
    )
