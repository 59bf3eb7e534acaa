"""Record an LLM call made by any client: ``harness.llm_call(model=..., messages=..., reply=...)``.

The openai SDK (and every framework that sends through it, or through plain ``httpx``) is
captured with no code. A call made another way — an in-house client, a gRPC model server,
a local library, a prompt the system builds and sends itself — is invisible until the
system says it happened. One line after the call makes it an ``llm_call`` event of the
current agent, with its size in tokens, so that ``context_budget`` sees the prompt and the
report counts its tokens. Outside a run it does nothing.
"""

from __future__ import annotations

from typing import Any

from harness._capture._context import _FRAME, _RUN
from harness._errors import ConfigError
from harness._log._digest import digest
from harness._log._events import LLMCall
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub, scrub_text

__all__ = ["llm_call"]


def _messages(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, list | tuple) and all(isinstance(m, dict) for m in messages):
        return [dict(m) for m in messages]
    raise ConfigError(
        f"llm_call(messages={messages!r:.80}): messages are the prompt, either one string or a list of chat "
        "messages such as [{'role': 'user', 'content': '...'}]."
    )


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"llm_call({name}={value!r}): a token count is an int >= 0, or None when unknown.")
    return value


def llm_call(
    *,
    model: str | None = None,
    messages: Any = (),
    reply: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    error: BaseException | str | None = None,
    latency: float = 0.0,
) -> None:
    """Record one LLM call that did not go through a client brownout captures.

    Call it right after the call, inside the agent that made it. ``context_budget`` counts
    ``prompt_tokens`` when given, else the tokens of ``messages``; the report adds up both
    token counts. The event is marked ``source="external"``: brownout saw it but did not
    carry it, so no cassette replays it and no LLM fault is drawn at it (inject faults in
    the client's own transport, or through ``@tool`` around the call).

    Args:
        model: The model's name.
        messages: The prompt: a string, or chat messages ``[{"role": ..., "content": ...}]``.
        reply: The model's answer, if any.
        prompt_tokens: Prompt tokens the server reported (else counted from ``messages``).
        completion_tokens: Completion tokens the server reported.
        error: The failure, when the call failed.
        latency: Seconds the call took.

    Raises:
        ConfigError: A value of the wrong shape (the message names it and the rule).
    """
    chat = _messages(messages)
    prompt = _count("prompt_tokens", prompt_tokens)
    completion = _count("completion_tokens", completion_tokens)
    ctx = _RUN.get()
    if ctx is None:
        return
    frame = _FRAME.get()
    agent = frame.name if frame else None
    call = ctx.count_llm(agent)
    clean = scrub(jsonable(chat))
    ctx.emit(
        LLMCall,
        path="(external)",
        model=model,
        request_digest=digest({"model": model, "messages": clean}),
        occurrence=call,
        messages=clean,
        response_text=scrub_text(reply) if isinstance(reply, str) else None,
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency=float(latency),
        source="external",
        error=scrub_text(str(error)) if error is not None else None,
        error_type=type(error).__name__ if isinstance(error, BaseException) else None,
        status_code=None,
    )
