"""The Anthropic Messages API (``POST /v1/messages``): its requests and replies in ``llm_call`` terms.

The ``anthropic`` SDK sends through ``httpx2`` like the openai SDK, so the same client patch
captures its calls, the same cassette records and replays them and the same fault sites
strike them. What differs is the shape of the bodies, translated here into the fields an
``llm_call`` event holds for every provider, so that checkers, reports and ``doctor`` read
an Anthropic call exactly like an OpenAI one:

- the request's ``system`` (a string or text blocks) and ``messages`` (a string or content
  blocks each) become chat messages: text blocks joined into ``content``, ``tool_use`` blocks
  into the assistant's ``tool_calls`` (OpenAI form, the input as JSON ``arguments``),
  ``tool_result`` blocks into ``role: "tool"`` messages with their ``tool_call_id``;
- a reply (``{"type": "message", "content": [...]}``) gives ``response_text`` (its text
  blocks), ``tool_calls`` (its ``tool_use`` blocks), ``finish_reason`` (``stop_reason`` as
  Anthropic names it: ``end_turn``, ``tool_use``, ``max_tokens``...) and the token counts;
- a streamed reply (``message_start``, ``content_block_*``, ``message_delta`` events) gives
  the same fields, reassembled from the deltas (``text_delta``, ``input_json_delta``); an
  ``error`` event mid-stream gives ``error`` / ``error_type``.

Pure functions of parsed JSON: nothing here touches a request, a run or the network.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "MESSAGES_PATH",
    "is_anthropic_path",
    "reply_from_json",
    "reply_from_sse",
    "request_messages",
]

MESSAGES_PATH = "/v1/messages"


def is_anthropic_path(path: str) -> bool:
    """Whether a request path is the Messages API's (``.../v1/messages``)."""
    return path.rstrip("/").endswith(MESSAGES_PATH)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def _call(block: dict[str, Any]) -> dict[str, Any]:
    """A ``tool_use`` block as an OpenAI-form tool call."""
    arguments = block.get("input")
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": arguments if isinstance(arguments, str) else _json_text(arguments or {}),
        },
    }


def _text_of(content: Any) -> str:
    """The text of a string or of a list of content blocks (non-text blocks left out)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or ():
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif isinstance(block, str):
            parts.append(block)
    return "".join(parts)


# -- requests ---------------------------------------------------------------------------------
def request_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's ``system`` and ``messages`` as chat messages (see the module docstring)."""
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        out.append({"role": "system", "content": _text_of(system)})
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            out.append({"content": message})
            continue
        role = message.get("role")
        content = message.get("content")
        if not isinstance(content, list):
            out.append({"role": role, "content": content})
            continue
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "tool_use":
                calls.append(_call(block))
            elif kind == "tool_result":
                result: dict[str, Any] = {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": _text_of(block.get("content")),
                }
                if block.get("is_error"):
                    result["is_error"] = True
                results.append(result)
            elif isinstance(block.get("text"), str):
                texts.append(block["text"])
        if texts or calls or not results:
            item: dict[str, Any] = {"role": role, "content": "".join(texts)}
            if calls:
                item["tool_calls"] = calls
            out.append(item)
        out.extend(results)
    return out


# -- replies ----------------------------------------------------------------------------------
def _usage(out: dict[str, Any], usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    prompt = usage.get("input_tokens")
    if isinstance(prompt, int):
        # Cached prompt tokens are prompt tokens too (Anthropic counts them apart).
        cached = sum(
            v
            for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
            if isinstance(v := usage.get(k), int)
        )
        out["prompt_tokens"] = prompt + cached
    completion = usage.get("output_tokens")
    if isinstance(completion, int):
        out["completion_tokens"] = completion


def _error(out: dict[str, Any], error: Any) -> None:
    if isinstance(error, dict):
        out["error"] = str(error.get("message") or error)[:2000]
        out["error_type"] = str(error.get("type") or "error")


def reply_from_json(data: Any) -> dict[str, Any] | None:
    """The fields of a Messages API reply; ``None`` when ``data`` is not one."""
    if (
        not isinstance(data, dict)
        or data.get("type") != "message"
        or not isinstance(data.get("content"), list)
    ):
        return None
    out: dict[str, Any] = {}
    _usage(out, data.get("usage"))
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data["content"]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_use":
            calls.append(_call(block))
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
    if texts:
        out["response_text"] = "".join(texts)
    if calls:
        out["tool_calls"] = calls
    if isinstance(data.get("stop_reason"), str):
        out["finish_reason"] = data["stop_reason"]
    return out


_STREAM_EVENTS = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
        "error",
    }
)


def reply_from_sse(text: str) -> dict[str, Any] | None:
    """The fields of a streamed Messages API reply; ``None`` when ``text`` holds no such event."""
    out: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    seen = False
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload.startswith("{"):
            continue
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        kind = event.get("type") if isinstance(event, dict) else None
        if kind not in _STREAM_EVENTS:
            continue
        seen = True
        if kind == "message_start" and isinstance(event.get("message"), dict):
            _usage(out, event["message"].get("usage"))
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            block = dict(event["content_block"])
            if block.get("type") == "tool_use":
                # the input arrives as input_json_delta pieces (the start holds an empty {})
                first = block.get("input")
                block["input"] = _json_text(first) if first else ""
            blocks[int(event.get("index", len(blocks)))] = block
        elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            delta = event["delta"]
            block = blocks.setdefault(int(event.get("index", 0)), {"type": "text", "text": ""})
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                block["text"] = str(block.get("text") or "") + delta["text"]
            elif delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                block["input"] = str(block.get("input") or "") + delta["partial_json"]
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                out["finish_reason"] = delta["stop_reason"]
            usage = event.get("usage")
            if isinstance(usage, dict):
                # message_delta carries the final output count (and, on some servers, input too)
                _usage(out, {k: v for k, v in usage.items() if v is not None})
        elif kind == "error":
            _error(out, event.get("error"))
    if not seen:
        return None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index in sorted(blocks):
        block = blocks[index]
        if block.get("type") == "tool_use":
            raw = block.get("input")
            calls.append(_call({**block, "input": raw if raw else "{}"}))
        elif isinstance(block.get("text"), str):
            texts.append(block["text"])
    if texts:
        out["response_text"] = "".join(texts)
    if calls:
        out["tool_calls"] = calls
    return out
