"""What the reference systems share: the LLM client, one chat call, and forgiving reply parsing.

The reference systems talk to any OpenAI-compatible endpoint through the official ``openai``
SDK. Their cassettes were recorded from SmolLM2-135M-Instruct served by llama.cpp
(:mod:`scenarios._llm_server`), a small model whose replies are often empty, off-topic or
malformed JSON: every parser here returns ``None`` or a fallback for such a reply, never raises.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

import openai

from scenarios._errors import ScenarioConfigError

__all__ = [
    "DEFAULT_MODEL",
    "RECORDED_BASE_URL",
    "Variant",
    "chat",
    "check_variant",
    "default_client",
    "first_sentences",
    "forced_tool_call",
    "llm_client",
    "model_name",
    "parse_json_object",
]

Variant = Literal["naive", "hardened"]
VARIANTS: tuple[str, ...] = ("naive", "hardened")

# The endpoint the reference cassettes were recorded against. Cassettes match on method, path and
# body, not host, so replay works with this default and no server running.
RECORDED_BASE_URL = "http://127.0.0.1:8080/v1"
DEFAULT_MODEL = "smollm2"


def check_variant(variant: str) -> Variant:
    """Return ``variant`` if it is ``"naive"`` or ``"hardened"``; raise ScenarioConfigError otherwise."""
    if variant not in VARIANTS:
        raise ScenarioConfigError(
            f"variant={variant!r} is not a variant of the reference systems. Accepted: 'naive' (the common "
            "mistakes) or 'hardened' (the fixes)."
        )
    return variant  # type: ignore[return-value]


def model_name() -> str:
    """The model the systems ask for: ``$BROWNOUT_MODEL`` or ``smollm2`` (the local server's alias)."""
    return os.environ.get("BROWNOUT_MODEL", DEFAULT_MODEL)


@functools.cache
def _ssl_context() -> Any:
    # The openai SDK 3.x sends through httpx2, 2.x through httpx: whichever this openai brings.
    try:
        from httpx2 import create_ssl_context
    except ImportError:
        from httpx import create_ssl_context

    return create_ssl_context()


def default_client() -> openai.AsyncOpenAI:
    """An ``AsyncOpenAI`` client for ``$OPENAI_BASE_URL`` (default: the recorded local server)."""
    client = openai.AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", RECORDED_BASE_URL),
        api_key=os.environ.get("OPENAI_API_KEY", "sk-local"),
        max_retries=2,
        timeout=120.0,
        # The SDK's own default http client, but with one TLS context per process: building one
        # loads the CA bundle (~60 ms), and every run makes a fresh client.
        http_client=openai.DefaultAsyncHttpxClient(verify=_ssl_context()),
    )
    return client


@contextlib.asynccontextmanager
async def llm_client(client: openai.AsyncOpenAI | None) -> AsyncIterator[openai.AsyncOpenAI]:
    """Use ``client``, or a :func:`default_client` that is closed when the run is over."""
    if client is not None:
        yield client
        return
    own = default_client()
    try:
        yield own
    finally:
        await own.close()


async def chat(
    client: openai.AsyncOpenAI,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | None = None,
    json_mode: bool = False,
) -> tuple[str, dict[str, Any] | None]:
    """One chat completion at temperature 0. Returns ``(text, tool_arguments)``.

    ``text`` is the reply's content (``""`` when there is none). With ``tool_choice`` naming one of
    ``tools`` the model must call it; its arguments are parsed into a dict, or ``None`` when they
    are not a JSON object.
    """
    kwargs: dict[str, Any] = {}
    if tools is not None:
        kwargs["tools"] = tools
    if tool_choice is not None:
        kwargs["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
    if json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    reply = await client.chat.completions.create(
        model=model_name(),
        messages=messages,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=max_tokens,
        **kwargs,
    )
    if not reply.choices:
        return "", None
    message = reply.choices[0].message
    text = (message.content or "").strip()
    arguments: dict[str, Any] | None = None
    for call in message.tool_calls or []:
        function = getattr(call, "function", None)
        if function is not None and (tool_choice is None or function.name == tool_choice):
            arguments = parse_json_object(function.arguments or "")
            break
    return text, arguments


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (also inside prose or a code fence), or ``None``."""
    if not text:
        return None
    candidates = [text.strip()]
    match = _OBJECT.search(text)
    if match:
        candidates.append(match.group(0))
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(value, dict):
            return value
    return None


def forced_tool_call(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A function-tool definition whose arguments are all required strings/numbers as given."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": sorted(properties)},
        },
    }


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def first_sentences(text: str, count: int) -> str:
    """The first ``count`` sentences of ``text``."""
    parts = [p.strip() for p in _SENTENCE.split(text.strip()) if p.strip()]
    return " ".join(parts[:count])
