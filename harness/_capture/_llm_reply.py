"""Reading LLM replies: JSON bodies and server-sent events into the fields an ``llm_call`` records."""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from harness._capture._llm_anthropic import reply_from_json, reply_from_sse
from harness._log._secrets import scrub


# -- reading replies ------------------------------------------------------------------------
def reply_fields(content: bytes, content_type: str, status_code: int | None) -> dict[str, Any]:
    if "event-stream" in content_type or content.startswith((b"data:", b"event:")):
        return parse_sse(content.decode("utf-8", "replace"))
    try:
        data = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        text = content.decode("utf-8", "replace")
        return {"response_text": str(scrub(text))[:20000]}
    out = from_json(data)
    if status_code is not None and status_code >= 400 and isinstance(data, dict):
        err = data.get("error")
        message = err.get("message") if isinstance(err, dict) else err
        out.setdefault("error", str(scrub(str(message or data)))[:2000])
        out.setdefault("error_type", f"HTTP {status_code}")
    return out


def usage(out: dict[str, Any], usage: Any) -> None:
    if isinstance(usage, dict):
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if isinstance(prompt, int):
            out["prompt_tokens"] = prompt
        if isinstance(completion, int):
            out["completion_tokens"] = completion


def from_json(data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        return out
    anthropic = reply_from_json(data)  # a Messages API reply (``"type": "message"``)
    if anthropic is not None:
        return anthropic
    usage(out, data.get("usage"))
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        message = first.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("content"), str):
                out["response_text"] = message["content"]
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                out["tool_calls"] = [c for c in calls if isinstance(c, dict)]
        elif isinstance(first.get("text"), str):  # legacy completions
            out["response_text"] = first["text"]
        if isinstance(first.get("finish_reason"), str):
            out["finish_reason"] = first["finish_reason"]
    elif isinstance(data.get("output"), list):  # the Responses API
        texts: list[str] = []
        calls = []
        for item in data["output"]:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "function_call":
                calls.append(
                    {
                        "id": item.get("call_id"),
                        "type": "function",
                        "function": {"name": item.get("name"), "arguments": item.get("arguments")},
                    }
                )
            for part in item.get("content") or ():
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        if texts:
            out["response_text"] = "".join(texts)
        if calls:
            out["tool_calls"] = calls
        if isinstance(data.get("status"), str):
            out["finish_reason"] = data["status"]
    return out


def parse_sse(text: str) -> dict[str, Any]:
    """The text, tool calls, finish reason and usage of a streamed reply (server-sent events).

    Understands chat-completion chunks (``choices[].delta``), legacy completion chunks and
    the Responses API's ``response.*`` events and the Anthropic Messages API's events.
    """
    anthropic = reply_from_sse(text)
    if anthropic is not None:
        return anthropic
    parts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(chunk, dict):
            continue
        usage(out, chunk.get("usage"))
        kind = chunk.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            if kind == "response.output_text.delta" and isinstance(chunk.get("delta"), str):
                parts.append(chunk["delta"])
            elif kind == "response.completed" and isinstance(chunk.get("response"), dict):
                done = from_json(chunk["response"])
                done.pop("response_text", None)
                out.update(done)
            continue
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if isinstance(delta.get("content"), str):
                    parts.append(delta["content"])
                for tc in delta.get("tool_calls") or ():
                    if not isinstance(tc, dict):
                        continue
                    slot = calls.setdefault(
                        int(tc.get("index", 0)), {"function": {"name": "", "arguments": ""}}
                    )
                    if tc.get("id"):
                        slot["id"] = tc["id"]
                    if tc.get("type"):
                        slot["type"] = tc["type"]
                    fn = tc.get("function")
                    if isinstance(fn, dict):
                        if fn.get("name"):
                            slot["function"]["name"] += fn["name"]
                        if fn.get("arguments"):
                            slot["function"]["arguments"] += fn["arguments"]
            elif isinstance(choice.get("text"), str):
                parts.append(choice["text"])
            if isinstance(choice.get("finish_reason"), str):
                out["finish_reason"] = choice["finish_reason"]
    if parts:
        out["response_text"] = "".join(parts)
    if calls:
        out["tool_calls"] = [calls[i] for i in sorted(calls)]
    return out


def decoded(content: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(content, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(content)
        except zlib.error:
            return zlib.decompress(content, -zlib.MAX_WBITS)
    return content
