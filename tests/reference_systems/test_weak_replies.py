"""A malformed, empty or off-topic model reply is a handled case in every reference system, never a crash.

The model here is an in-process OpenAI-compatible transport that answers every request badly;
the openai SDK, the systems' parsing and the local services are real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest

import harness
from scenarios import checkout, content, negotiation, research
from scenarios._shop import ShopService

Reply = Callable[[dict[str, Any]], dict[str, Any]]


def _completion(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "smollm2",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }  # fmt: skip


def _empty(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("tools"):
        name = request["tools"][0]["function"]["name"]
        call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": "{not json"}}
        return _completion({"content": None, "tool_calls": [call]})
    return _completion({"content": ""})


def _rambling(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("tools"):
        name = request["tools"][0]["function"]["name"]
        arguments = json.dumps({"query": 42, "decision": "maybe", "price": "a lot"})
        call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        return _completion({"content": "I think", "tool_calls": [call]})
    return _completion({"content": "I'm sorry, as an AI I cannot help with that."})


def _client(reply: Reply) -> openai.AsyncOpenAI:
    def handle(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=reply(json.loads(request.content)))

    return openai.AsyncOpenAI(
        base_url="http://model.test/v1", api_key="sk-test", max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handle)),
    )  # fmt: skip


@pytest.mark.parametrize("reply", [_empty, _rambling], ids=["empty", "rambling"])
@pytest.mark.parametrize("variant", ["naive", "hardened"])
def test_research_survives_weak_replies(reply: Reply, variant: str) -> None:
    with research.SearchService() as web:
        run = harness.run_system(research.run, (), {"web": web, "variant": variant, "client": _client(reply)})
    assert run.error is None
    result = run.output
    assert {note.source for note in result.sources} == {"vector_search", "web_search", "prior_context"}
    assert all(note.summary for note in result.sources)
    assert result.answer  # built from the notes when the model gives nothing usable
    web_note = next(n for n in result.sources if n.source == "web_search")
    assert web_note.query == research.DEFAULT_TASK.question  # unusable query -> the question itself
    assert web_note.documents


@pytest.mark.parametrize("reply", [_empty, _rambling], ids=["empty", "rambling"])
@pytest.mark.parametrize("variant", ["naive", "hardened"])
def test_checkout_survives_weak_replies(reply: Reply, variant: str) -> None:
    with ShopService() as shop:
        run = harness.run_system(
            checkout.run, (), {"shop": shop, "variant": variant, "client": _client(reply)}
        )
        emails = shop.effects("email")
    assert run.error is None
    assert run.output.status == "confirmed"
    assert len(emails) == 1
    assert "ord-1001" in emails[0].detail["body"]  # the template fills in what the model did not


@pytest.mark.parametrize("reply", [_empty, _rambling], ids=["empty", "rambling"])
@pytest.mark.parametrize("variant", ["naive", "hardened"])
def test_content_survives_weak_replies(reply: Reply, variant: str) -> None:
    run = harness.run_system(content.run, (), {"variant": variant, "client": _client(reply)})
    assert run.error is None
    assert run.output.text
    if variant == "hardened":
        assert run.output.flagged == ["venue", "travel"]


@pytest.mark.parametrize("reply", [_empty, _rambling], ids=["empty", "rambling"])
@pytest.mark.parametrize("variant", ["naive", "hardened"])
def test_negotiation_keeps_prices_within_limits_whatever_the_model_says(reply: Reply, variant: str) -> None:
    run = harness.run_system(
        negotiation.run, (), {"variant": variant, "client": _client(reply)}, deadline=900
    )
    assert run.error is None
    result = run.output
    deal = negotiation.DEFAULT_DEAL
    assert result.outcome in ("deal", "no_deal")
    if result.outcome == "deal":
        assert deal.seller_floor <= result.price <= deal.buyer_budget
    assert result.transcript
