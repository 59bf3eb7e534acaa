"""An in-process OpenAI-compatible chat-completions endpoint for the judges' unit tests.

It speaks real HTTP semantics through httpx2's MockTransport, so the official openai SDK
builds, sends and parses real requests and responses; only the socket is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai

Reply = str | Callable[[dict[str, Any]], str]


class ScriptedEndpoint:
    """Answers each chat completion with the next scripted reply (the last one repeats)."""

    def __init__(self, *replies: Reply, status: int = 200) -> None:
        self.replies = list(replies) or ['{"rationale": "ok", "scores": {}}']
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.status != 200:
            return httpx2.Response(self.status, json={"error": {"message": "boom", "type": "server_error"}})
        reply = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        text = reply(body) if callable(reply) else reply
        return httpx2.Response(
            200,
            json={
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1,
                "model": body.get("model", "m"),
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url="http://judge.test/v1",
            api_key="sk-test-secret-key-1234567890",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self)),
        )

    def async_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url="http://judge.test/v1",
            api_key="sk-test-secret-key-1234567890",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self)),
        )


def reply(scores: dict[str, int], rationale: str = "because") -> str:
    return json.dumps({"rationale": rationale, "scores": scores})
