"""The built-in effects: each is one class with its parameters and its :meth:`~EffectBase.decide`.

An effect's ``decide`` turns it into a decision from :mod:`harness.hooks` for the site it
strikes; the instrumentation carries the decision out, the same way in sync and async
code. Each class is registered (:func:`faults.register_effect`) in the order below, which
is the order :func:`faults.effect_kinds` lists them and exploration draws them.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field

from faults import _anthropic_replies as messages_api
from faults._errors import AckLost
from faults._llm_replies import (
    context_length_reply,
    cut_sse,
    disconnected,
    empty_reply,
    http_library,
    malformed_reply,
    rate_limit_reply,
    read_timeout,
    request_for,
    server_error_reply,
    truncated_body_error,
    truncated_reply,
)
from faults._registry import AnySite, Decision, EffectBase, register_effect
from harness import WorkerKilled
from harness.events import ToolCall
from harness.hooks import (
    Block,
    BudgetSite,
    CorruptWrite,
    DelayMessage,
    DropMessage,
    DuplicateMessage,
    Fail,
    HoldMessage,
    InflateUse,
    LLMSite,
    LoseWrite,
    Reshape,
    Respond,
    RewriteReply,
    RunThenFail,
    RunThenWait,
    ServeStale,
    ShrinkBudget,
    ToolSite,
    Wait,
    WorkerSite,
    current_run,
)

if TYPE_CHECKING:
    import httpx2

    from faults._models import Fault

__all__ = [
    "AlteredField",
    "Balloon",
    "Bandwidth",
    "ContextLengthExceeded",
    "Corrupt",
    "Delay",
    "Disconnect",
    "Down",
    "Drop",
    "DroppedItem",
    "Duplicate",
    "EmptyResponse",
    "EmptyResult",
    "Hang",
    "Kill",
    "Latency",
    "LimitData",
    "LostAck",
    "LostWrite",
    "MalformedResponse",
    "MalformedResult",
    "PerturbedValue",
    "RateLimit",
    "Reorder",
    "ResetPeer",
    "ServerError",
    "Shrink",
    "Slicer",
    "SlowClose",
    "SlowThenSucceed",
    "StaleRead",
    "StaleResult",
    "Timeout",
    "ToolError",
    "TruncatedResponse",
    "alter_field",
    "alter_text",
    "corrupt_value",
    "drop_item",
    "perturb_number",
]

Stream = Literal["downstream", "upstream"]

_Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_MS = 1000.0


def _label(site: AnySite) -> str:
    """How an error message names the step."""
    if isinstance(site, ToolSite):
        return f"tool {site.name!r} call {site.call}"
    if isinstance(site, LLMSite):
        return f"LLM call {site.call} of {site.agent or 'no agent'}"
    if isinstance(site, WorkerSite):
        return f"worker {site.name!r}"
    return repr(site)


def _unexpected(effect: EffectBase, site: AnySite) -> TypeError:
    return TypeError(
        f"effect {effect.kind!r} does not apply at {site!r}; it applies at {sorted(effect.sites)}"
    )


class _Toxic(EffectBase):
    """Parameters every network toxic takes (ignored elsewhere, and rejected if set elsewhere)."""

    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, gt=0, le=1)

    def check_at(self, site: str) -> None:
        if site != "network" and (self.stream != "downstream" or self.toxicity != 1.0):
            raise ValueError(
                f"stream={self.stream!r}/toxicity={self.toxicity:g} apply only at site 'network'; "
                f"remove them from this {site!r} fault"
            )


# -- shared by several sites ----------------------------------------------------------------
@register_effect
class Latency(_Toxic):
    """The step takes ``seconds`` longer (virtual time), then proceeds normally."""

    kind: Literal["latency"] = "latency"
    seconds: _Seconds = 2.0
    jitter: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    sites = frozenset({"llm", "tool", "network"})
    primary = "seconds"
    seconds_fields = frozenset({"seconds", "jitter"})
    models = "a slow provider, a slow downstream service, a congested link"
    explore = {"seconds": [2.0, 0.5, 10.0, 45.0]}

    def check_at(self, site: str) -> None:
        super().check_at(site)
        if site != "network" and self.jitter:
            raise ValueError(f"jitter applies only at site 'network'; remove it from this {site!r} fault")

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return Wait(self.seconds)

    def toxic(self) -> tuple[str, dict[str, Any]]:
        return "latency", {"latency": int(self.seconds * _MS), "jitter": int(self.jitter * _MS)}


@register_effect
class Timeout(_Toxic):
    """Nothing comes back; after ``after`` seconds the caller's timeout fires.

    LLM: ``ReadTimeout`` (of the request's client library, ``httpx2`` or ``httpx``) after
    ``after`` seconds (default: the client's own read timeout), which the openai SDK turns
    into ``APITimeoutError`` after its retries. Tool:
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
    explore = {"after": [None, 5.0, 30.0, 120.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if isinstance(site, LLMSite):
            return _read_timeout(site, self.after)
        after = self.after or 30.0
        message = f"injected fault: {_label(site)} timed out after {after:g}s"
        return Fail(functools.partial(TimeoutError, message), after=after)

    def toxic(self) -> tuple[str, dict[str, Any]]:
        return "timeout", {"timeout": int((self.after or 0) * _MS)}


def _read_timeout(site: LLMSite, after: float | None) -> Decision:
    """An LLM request that gets no answer: a read timeout after ``after`` or the client's own."""
    request = request_for(site)
    wait = after or read_timeout(request)
    if wait is None:  # the client waits forever
        return Block(_label(site))
    read_timeout_error = http_library(request).ReadTimeout
    error = functools.partial(read_timeout_error, "The read operation timed out", request=request)
    return Fail(error, after=wait)


@register_effect
class Hang(EffectBase):
    """The step blocks until it is cancelled (by a caller's timeout or the run's deadline)."""

    kind: Literal["hang"] = "hang"
    sites = frozenset({"llm", "tool", "worker"})
    models = "a stuck connection, a deadlocked service, a worker stuck in a loop"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if isinstance(site, LLMSite):
            return _read_timeout(site, None)
        return Block(_label(site))


# -- LLM ------------------------------------------------------------------------------------
class _Reply(EffectBase):
    """An LLM effect answered with a synthetic reply instead of the provider's."""

    sites = frozenset({"llm"})

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        """The response a failing OpenAI-compatible server sends."""
        raise NotImplementedError

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if not isinstance(site, LLMSite):
            raise _unexpected(self, site)
        return Respond(functools.partial(self.reply, request_for(site), site.call))


@register_effect
class RateLimit(_Reply):
    """HTTP 429 with ``retry-after`` and the provider's ``rate_limit_exceeded`` error body."""

    kind: Literal["rate_limit"] = "rate_limit"
    retry_after: _Seconds | None = 1.0
    seconds_fields = frozenset({"retry_after"})
    models = "the provider's rate limit (RPM/TPM) was hit"
    explore = {"retry_after": [1.0, 20.0, None]}

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        return rate_limit_reply(request, call, self.retry_after)


@register_effect
class ServerError(_Reply):
    """HTTP 500/502/503/504 with the provider's error body (502 from a gateway, as HTML)."""

    kind: Literal["server_error"] = "server_error"
    status: Literal[500, 502, 503, 504] = 500
    primary = "status"
    models = "a provider outage, an overloaded engine, a failing gateway"
    explore = {"status": [500, 503, 502, 504]}

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        return server_error_reply(request, call, self.status)


@register_effect
class MalformedResponse(_Reply):
    """HTTP 200 whose JSON body (or SSE event) is cut mid-document: the SDK cannot decode it."""

    kind: Literal["malformed"] = "malformed"
    models = "a proxy or server bug returning a broken body with a success status"

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        return malformed_reply(request, call)


@register_effect
class TruncatedResponse(EffectBase):
    """The connection drops mid-reply: a stream is cut after ``after_chunks`` SSE events.

    Streaming: the first ``after_chunks`` events arrive, then ``RemoteProtocolError``.
    Non-streaming: the body is cut, which the SDK reports as ``APIConnectionError`` after retries.
    """

    kind: Literal["truncated"] = "truncated"
    after_chunks: int = Field(default=1, ge=0)
    sites = frozenset({"llm"})
    primary = "after_chunks"
    models = "a dropped connection in the middle of a streamed answer"
    explore = {"after_chunks": [1, 0, 3]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if not isinstance(site, LLMSite):
            raise _unexpected(self, site)
        request, stream = request_for(site), site.stream

        def cut(real: httpx2.Response, body: bytes) -> httpx2.Response:
            if not stream:
                raise truncated_body_error(request)
            return truncated_reply(real, cut_sse(body, self.after_chunks), request)

        return RewriteReply(cut)


@register_effect
class EmptyResponse(_Reply):
    """HTTP 200 with a well-formed reply whose content is empty (``finish_reason='stop'``)."""

    kind: Literal["empty"] = "empty"
    models = "a model that returns nothing (safety filter, stop token, server bug)"

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        return empty_reply(request, call)


@register_effect
class ContextLengthExceeded(_Reply):
    """HTTP 400 ``invalid_request_error`` with code ``context_length_exceeded``."""

    kind: Literal["context_length"] = "context_length"
    models = "a prompt that grew past the model's context window"

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        return context_length_reply(request, call)


@register_effect
class Disconnect(_Reply):
    """The server closes the connection before replying (``RemoteProtocolError``)."""

    kind: Literal["disconnect"] = "disconnect"
    models = "a load balancer or server dropping the connection"

    def reply(self, request: httpx2.Request, call: int) -> httpx2.Response:
        raise disconnected(request)

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if not isinstance(site, LLMSite):
            raise _unexpected(self, site)
        return Fail(functools.partial(disconnected, request_for(site)))


# -- tools ----------------------------------------------------------------------------------
ToolErrorType = Literal[
    "ConnectionError", "TimeoutError", "RuntimeError", "ValueError", "PermissionError", "OSError"
]
_TOOL_ERRORS: dict[str, type[Exception]] = {
    "ConnectionError": ConnectionError,
    "TimeoutError": TimeoutError,
    "RuntimeError": RuntimeError,
    "ValueError": ValueError,
    "PermissionError": PermissionError,
    "OSError": OSError,
}


@register_effect
class ToolError(EffectBase):
    """The tool raises ``error_type`` without running (a failed downstream call)."""

    kind: Literal["error"] = "error"
    error_type: ToolErrorType = "ConnectionError"
    message: str | None = None
    sites = frozenset({"tool"})
    primary = "error_type"
    models = "a downstream service failing or refusing the call"
    explore = {"error_type": ["ConnectionError", "RuntimeError", "TimeoutError", "ValueError"]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        message = self.message or f"injected fault: {_label(site)} failed"
        return Fail(functools.partial(_TOOL_ERRORS[self.error_type], message))


@register_effect
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
    explore = {"seconds": [40.0, 5.0, 120.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return RunThenWait(self.seconds)


@register_effect
class LostAck(EffectBase):
    """The tool runs, then its reply is lost: after ``after`` seconds the caller sees a timeout."""

    kind: Literal["lost_ack"] = "lost_ack"
    after: _Seconds = 30.0
    sites = frozenset({"tool"})
    primary = "after"
    seconds_fields = frozenset({"after"})
    models = "an acknowledgement lost on the way back: the work is done, the caller does not know"
    explore = {"after": [30.0, 5.0, 120.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        message = (
            f"injected fault: {_label(site)} ran, but its reply was lost (timeout after {self.after:g}s)"
        )
        return RunThenFail(functools.partial(AckLost, message), after=self.after)


@register_effect
class MalformedResult(EffectBase):
    """The tool runs, but its result arrives garbled: the first half of its JSON text."""

    kind: Literal["malformed_result"] = "malformed_result"
    sites = frozenset({"tool"})
    models = "a truncated or garbled response from an API behind a tool"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return Reshape(_garble)


def _garble(result: Any) -> str:
    try:
        text = json.dumps(result, default=repr)
    except (TypeError, ValueError):
        text = repr(result)
    return text[: max(1, len(text) // 2)]


@register_effect
class EmptyResult(EffectBase):
    """The tool runs, but returns an empty value of its result's type ("", {}, [], None)."""

    kind: Literal["empty_result"] = "empty_result"
    sites = frozenset({"tool"})
    models = "an API that answers 200 with nothing in it"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return Reshape(_emptied)


def _emptied(result: Any) -> Any:
    if isinstance(result, str):
        return ""
    if isinstance(result, bytes):
        return b""
    if isinstance(result, dict | list | tuple | set):
        return type(result)()
    return None


# -- plausible but wrong -------------------------------------------------------------------
# These answer with a value that looks right and is not. No system can tell one from the
# truth without a second source (a declared postcondition, a second opinion), so exploration
# draws them only when a marker names them (``opt_in``): a correct system that trusts its
# dependency is not wrong for believing it.
def _leaf_numbers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, number) for every int or float (not bool) in a JSON-like value, depth first."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_numbers(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaf_numbers(item, (*path, index))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced by ``new`` (tuples stay tuples)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        out[head] = _replace(value[head], rest, new)
        return out
    items = list(value)
    items[head] = _replace(items[head], rest, new)
    return tuple(items) if isinstance(value, tuple) else items


def _nudge(number: Any, scale: float) -> Any:
    """``number`` moved by ``scale`` of itself, same type and sign: plausible, and different."""
    if isinstance(number, int):
        return number + max(1, round(abs(number) * scale))
    if number == 0 or number != number:  # zero, NaN
        return scale
    return number * (1 + scale)


def perturb_number(value: Any, scale: float = 0.1) -> Any:
    """``value`` with its first number (depth first) moved by ``scale`` of itself; else unchanged."""
    for path, number in _leaf_numbers(value):
        return _replace(value, path, _nudge(number, scale))
    return value


def _first_list(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    if isinstance(value, list | tuple) and value:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_list(item, (*path, key))
            if found is not None:
                return found
    return None


def drop_item(value: Any, index: int = -1) -> Any:
    """``value`` (or its first non-empty list, depth first) with the item at ``index`` left out."""
    path = _first_list(value)
    if path is None:
        return value
    items = value
    for part in path:
        items = items[part]
    kept = list(items)
    del kept[index if -len(kept) <= index < len(kept) else -1]
    return _replace(value, path, tuple(kept) if isinstance(items, tuple) else kept)


def _next_char(char: str) -> str:
    for first, last in (("a", "z"), ("A", "Z"), ("0", "9")):
        if first <= char <= last:
            return first if char == last else chr(ord(char) + 1)
    return char


def alter_text(text: str) -> str:
    """``text`` with its last letter or digit replaced by the next one: ``inv-7`` -> ``inv-8``."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isascii() and text[i].isalnum():
            return text[:i] + _next_char(text[i]) + text[i + 1 :]
    return text + "x"


def _altered(value: Any) -> tuple[bool, Any]:
    """(changed, a plausible wrong value of the same type)."""
    if isinstance(value, bool):
        return True, not value
    if isinstance(value, int | float):
        return True, _nudge(value, 0.1)
    if isinstance(value, str):
        return True, alter_text(value)
    if isinstance(value, list | tuple):
        return (True, drop_item(value)) if value else (False, value)
    if isinstance(value, dict):
        return _alter_field(value, None)
    return False, value


def _alter_field(value: dict[Any, Any], field: str | None) -> tuple[bool, Any]:
    keys = [field] if field is not None and field in value else list(value)
    for key in keys:
        changed, new = _altered(value[key])
        if changed:
            return True, {**value, key: new}
    return False, value


def alter_field(value: Any, field: str | None = None) -> Any:
    """``value`` (or its first mapping, depth first) with one field given a plausible wrong value.

    The field named ``field`` when the mapping has it, else the first one that can be altered:
    a number moved by 10%, a boolean flipped, a text's last letter or digit changed
    (``inv-7`` -> ``inv-8``), a list's last item left out.
    """
    if isinstance(value, dict):
        return _alter_field(value, field)[1]
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                changed, new = _alter_field(item, field)
                if changed:
                    return _replace(value, (index,), new)
    return value


def _json_reply(transform: Callable[[Any], Any]) -> Callable[[httpx2.Response, bytes], httpx2.Response]:
    """An LLM reply whose JSON answer (the message content, else the first tool call's
    arguments) goes through ``transform``; any other reply (streamed, text) is passed on as is."""

    def rewrite(real: httpx2.Response, body: bytes) -> httpx2.Response:
        headers = {
            k: v for k, v in real.headers.items() if k.lower() not in ("content-length", "content-encoding")
        }
        content = body
        try:
            reply = json.loads(body)
        except ValueError:
            reply = None
        try:
            message = reply["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            message = None
        if messages_api.is_message(reply) and messages_api.rewrite_answer(reply, transform):
            content = json.dumps(reply).encode()  # an Anthropic Messages API reply
        elif isinstance(message, dict):
            calls = message.get("tool_calls") or []
            holders: list[tuple[dict[str, Any], str]] = [(message, "content")]
            if calls and isinstance(calls[0], dict) and isinstance(calls[0].get("function"), dict):
                holders.append((calls[0]["function"], "arguments"))
            for holder, key in holders:
                try:
                    answer = json.loads(holder.get(key) or "")
                except (ValueError, TypeError):
                    continue
                changed = transform(answer)
                if changed != answer:
                    holder[key] = json.dumps(changed)
                    content = json.dumps(reply).encode()
                    break
        response = http_library(real).Response
        return response(real.status_code, headers=headers, content=content, request=real.request)  # type: ignore[no-any-return]

    return rewrite


class _WrongValue(EffectBase):
    """A tool result or a JSON LLM answer replaced by a plausible wrong value of the same shape."""

    sites = frozenset({"tool", "llm"})
    opt_in = True

    def wrong(self, value: Any) -> Any:
        raise NotImplementedError

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if isinstance(site, LLMSite):
            return RewriteReply(_json_reply(self.wrong))
        if isinstance(site, ToolSite):
            return Reshape(self.wrong)
        raise _unexpected(self, site)


@register_effect
class PerturbedValue(_WrongValue):
    """The first number in the answer is off by ``scale`` of itself (same type and sign)."""

    kind: Literal["perturbed_value"] = "perturbed_value"
    scale: float = Field(default=0.1, gt=0, le=1, allow_inf_nan=False)
    primary = "scale"
    models = "a unit or rounding bug, a stale exchange rate, a model misreading a figure"
    explore = {"scale": [0.1, 0.01, 0.5]}

    def wrong(self, value: Any) -> Any:
        return perturb_number(value, self.scale)


@register_effect
class DroppedItem(_WrongValue):
    """The answer's list (or its first list) has one item left out, the last by default."""

    kind: Literal["dropped_item"] = "dropped_item"
    index: int = -1
    primary = "index"
    models = "a page of results cut short, a lost row, a model skipping one of the items"
    explore = {"index": [-1, 0]}

    def wrong(self, value: Any) -> Any:
        return drop_item(value, self.index)


@register_effect
class AlteredField(_WrongValue):
    """One field of the answer's mapping holds a plausible wrong value (``inv-7`` -> ``inv-8``)."""

    kind: Literal["altered_field"] = "altered_field"
    field: str | None = None
    primary = "field"
    models = "a response mixing up records, a serializer bug, a model filling a field wrongly"

    def wrong(self, value: Any) -> Any:
        return alter_field(value, self.field)


@register_effect
class StaleResult(EffectBase):
    """The tool runs, but the caller gets an earlier result of the same call (a stale cache).

    The latest earlier ``ok`` result of the same tool with the same arguments, else of the
    same tool with other arguments (a cache serving the wrong key); the first call of a tool
    has nothing earlier and gets its own result.
    """

    kind: Literal["stale_result"] = "stale_result"
    sites = frozenset({"tool"})
    opt_in = True
    models = "a cache or replica serving an earlier answer, a cache keyed on the wrong fields"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if not isinstance(site, ToolSite):
            raise _unexpected(self, site)
        run = current_run()
        found = _earlier_result(run.log if run is not None else (), site)
        if found is None:
            return Reshape(_same)
        return Reshape(functools.partial(_stale, found[0]))


def _same(result: Any) -> Any:
    return result


def _earlier_result(log: Iterable[Any], site: ToolSite) -> tuple[Any] | None:
    """(result,) of the latest earlier ok call of ``site``'s tool, same arguments first."""
    same_args: tuple[Any] | None = None
    other: tuple[Any] | None = None
    for event in log:
        if isinstance(event, ToolCall) and event.name == site.name and event.status == "ok":
            if event.args == site.args:
                same_args = (event.result,)
            else:
                other = (event.result,)
    return same_args or other


def _stale(recorded: Any, result: Any) -> Any:
    """The recorded earlier result, in the live result's type where it is a model or a tuple."""
    stale = copy.deepcopy(recorded)
    if isinstance(result, BaseModel) and isinstance(stale, dict):
        try:
            return type(result).model_validate(stale)
        except ValueError:
            return stale
    if isinstance(result, tuple) and isinstance(stale, list):
        return tuple(stale)
    return stale


# -- shared budgets -------------------------------------------------------------------------
@register_effect
class Shrink(EffectBase):
    """From this acquire on, the budget holds only ``fraction`` of its capacity."""

    kind: Literal["shrink"] = "shrink"
    fraction: float = Field(default=0.5, gt=0, lt=1, allow_inf_nan=False)
    sites = frozenset({"budget"})
    primary = "fraction"
    models = "a quota cut by the provider, a pool lost to another tenant, a smaller plan"
    explore = {"fraction": [0.5, 0.25]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if not isinstance(site, BudgetSite):
            raise _unexpected(self, site)
        return ShrinkBudget(site.capacity * self.fraction)


@register_effect
class Balloon(EffectBase):
    """This acquire takes ``factor`` times what it asked for: the branch's consumption balloons."""

    kind: Literal["balloon"] = "balloon"
    factor: float = Field(default=4.0, gt=1, le=1000, allow_inf_nan=False)
    sites = frozenset({"budget"})
    primary = "factor"
    models = "a prompt that grew, a retry loop, a runaway branch eating the shared capacity"
    explore = {"factor": [4.0, 2.0, 10.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        if not isinstance(site, BudgetSite):
            raise _unexpected(self, site)
        return InflateUse(self.factor)


# -- messages -------------------------------------------------------------------------------
@register_effect
class Drop(EffectBase):
    """The message is lost: the sender thinks it was sent, nobody receives it."""

    kind: Literal["drop"] = "drop"
    sites = frozenset({"message"})
    models = "a lost message (a queue without delivery guarantees, a crashed broker)"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return DropMessage()


@register_effect
class Duplicate(EffectBase):
    """The message is delivered twice, with the same message id (at-least-once delivery)."""

    kind: Literal["duplicate"] = "duplicate"
    sites = frozenset({"message"})
    models = "redelivery by an at-least-once queue"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return DuplicateMessage()


@register_effect
class Delay(EffectBase):
    """The message becomes receivable ``seconds`` after it was sent."""

    kind: Literal["delay"] = "delay"
    seconds: _Seconds = 5.0
    sites = frozenset({"message"})
    primary = "seconds"
    seconds_fields = frozenset({"seconds"})
    models = "a slow or backed-up queue"
    explore = {"seconds": [5.0, 1.0, 30.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return DelayMessage(self.seconds)


@register_effect
class Reorder(EffectBase):
    """The message is held back and delivered right after the next message on the channel
    (or after ``hold`` seconds, if no other message comes by then)."""

    kind: Literal["reorder"] = "reorder"
    hold: _Seconds = 10.0
    sites = frozenset({"message"})
    seconds_fields = frozenset({"hold"})
    models = "out-of-order delivery (partitions, retries, parallel consumers)"
    explore = {"hold": [10.0]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return HoldMessage(self.hold)


# -- shared state ---------------------------------------------------------------------------
@register_effect
class Corrupt(EffectBase):
    """The write stores a corrupted value (the version advances as usual)."""

    kind: Literal["corrupt"] = "corrupt"
    sites = frozenset({"state"})
    acts_on = "write"
    models = "bit rot, a buggy serializer, a partial write"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return CorruptWrite(corrupt_value)


def corrupt_value(value: Any) -> Any:
    """A deterministic corruption of ``value``: same type where possible, visibly wrong."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value ^ (1 << 20) if value else 1 << 20
    if isinstance(value, float):
        return -value if value else float("nan")
    if isinstance(value, str):
        if not value:
            return "\ufffd"
        middle = len(value) // 2
        return value[:middle] + "\ufffd" + value[middle + 1 :]
    if isinstance(value, dict):
        out = copy.deepcopy(value)
        if out:
            first = next(iter(out))
            out[first] = corrupt_value(out[first])
        else:
            out["\ufffd"] = None
        return out
    if isinstance(value, list):
        return copy.deepcopy(value[:-1]) if value else ["\ufffd"]
    if value is None:
        return "\ufffd"
    return "\ufffd" + repr(value)


@register_effect
class StaleRead(EffectBase):
    """The read returns the previous version of the key (a lagging replica or cache)."""

    kind: Literal["stale_read"] = "stale_read"
    sites = frozenset({"state"})
    acts_on = "read"
    models = "a read from a replica or cache that has not seen the latest write"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return ServeStale()


@register_effect
class LostWrite(EffectBase):
    """The write is acknowledged with a new version but never stored."""

    kind: Literal["lost_write"] = "lost_write"
    sites = frozenset({"state"})
    acts_on = "write"
    models = "a write acknowledged before it was durable, then lost (crash, failover)"

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        return LoseWrite()


# -- workers --------------------------------------------------------------------------------
@register_effect
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
    explore = {"after_calls": [0, 1, 2]}

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        name = site.name if isinstance(site, WorkerSite) else None
        when = "on entry" if self.after_calls == 0 else f"after {self.after_calls} call(s)"
        return Fail(
            functools.partial(WorkerKilled, f"injected fault: worker {name!r} was killed {when} ({fault})")
        )

    def strikes_after(self) -> int:
        return self.after_calls

    def __str__(self) -> str:
        return "kill" if self.after_calls == 0 else f"kill(after {self.after_calls} calls)"


# -- network toxics (Toxiproxy) -------------------------------------------------------------
@register_effect
class Bandwidth(_Toxic):
    """Limit the connection to ``rate`` KB/s."""

    kind: Literal["bandwidth"] = "bandwidth"
    rate: int = Field(default=10, ge=0)
    sites = frozenset({"network"})
    primary = "rate"
    models = "a saturated or throttled link"
    explore = {"rate": [10, 1, 100]}

    def toxic(self) -> tuple[str, dict[str, Any]]:
        return "bandwidth", {"rate": int(self.rate)}


@register_effect
class SlowClose(_Toxic):
    """Delay the TCP close by ``delay`` seconds."""

    kind: Literal["slow_close"] = "slow_close"
    delay: _Seconds = 1.0
    sites = frozenset({"network"})
    primary = "delay"
    seconds_fields = frozenset({"delay"})
    models = "a peer that lingers before closing connections"
    explore = {"delay": [1.0, 5.0]}

    def toxic(self) -> tuple[str, dict[str, Any]]:
        return "slow_close", {"delay": int(self.delay * _MS)}


@register_effect
class ResetPeer(_Toxic):
    """Reset the connection (TCP RST) after ``after`` seconds (0: at once)."""

    kind: Literal["reset_peer"] = "reset_peer"
    after: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    sites = frozenset({"network"})
    primary = "after"
    seconds_fields = frozenset({"after"})
    models = "a crashed peer or a middlebox killing the connection"
    explore = {"after": [0.0, 0.5]}

    def toxic(self) -> tuple[str, dict[str, Any]]:
        return "reset_peer", {"timeout": int(self.after * _MS)}


@register_effect
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
    explore = {"average_size": [8, 1, 64]}

    def toxic(self) -> tuple[str, dict[str, Any]]:
        attributes = {
            "average_size": int(self.average_size),
            "size_variation": int(self.size_variation),
            "delay": int(self.delay * 1_000_000),
        }
        return "slicer", attributes


@register_effect
class LimitData(_Toxic):
    """Close the connection once ``bytes`` bytes have passed."""

    kind: Literal["limit_data"] = "limit_data"
    bytes: int = Field(default=64, ge=1)
    sites = frozenset({"network"})
    primary = "bytes"
    models = "a connection cut mid-transfer"
    explore = {"bytes": [64, 1, 1024]}

    def toxic(self) -> tuple[str, dict[str, Any]]:
        return "limit_data", {"bytes": int(self.bytes)}


@register_effect
class Down(EffectBase):
    """The proxy is disabled: connections are refused and open ones dropped."""

    kind: Literal["down"] = "down"
    sites = frozenset({"network"})
    models = "the service or the route to it is down"

    def toxic(self) -> None:
        return None
