"""negotiation: a buyer agent and a seller agent haggle over two channels — the deadlock exchange.

The buyer sends an offer on ``to_seller``; the seller asks the model whether to accept or
counter and answers on ``to_buyer``; up to three rounds. Each side blocks on its inbox while the
other thinks.

**naive** waits on its inbox with no timeout. If one message is lost (a dropped message, a
crashed peer), the seller waits for an offer and the buyer waits for an answer: both wait
forever, and only the run's deadline ends it.

**hardened** waits with a liveness deadline: on a timeout it re-sends its last message (the
peer de-duplicates by round number) and, after two re-sends, gives up with an explicit
``no_deal`` and the reason.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field

from harness import Channel, agent, spawn
from scenarios._common import Variant, chat, check_variant, forced_tool_call, llm_client

__all__ = ["DEFAULT_DEAL", "REPLY_TIMEOUT", "Deal", "NegotiationResult", "run"]

REPLY_TIMEOUT = 120.0  # hardened: virtual seconds to wait for the peer before re-sending
RESENDS = 2
ROUNDS = 3


class Deal(BaseModel):
    """What is for sale and each side's private limits."""

    item: str
    list_price: int
    seller_floor: int
    buyer_budget: int


DEFAULT_DEAL = Deal(item="a used road bike", list_price=900, seller_floor=650, buyer_budget=750)


class NegotiationResult(BaseModel):
    outcome: Literal["deal", "no_deal"]
    price: int | None = None
    rounds: int = 0
    transcript: list[str] = Field(default_factory=list)
    reason: str = ""


_RESPOND = forced_tool_call(
    "respond",
    "Accept the other side's price or make a counter-offer.",
    {"decision": {"type": "string", "enum": ["accept", "counter"]}, "price": {"type": "integer"}},
)


async def _decide(
    client: openai.AsyncOpenAI, role: str, deal: Deal, their_price: int, limit: int
) -> tuple[str, int]:
    """Ask the model; keep its answer inside this side's limits whatever it says."""
    _, arguments = await chat(
        client,
        [
            {
                "role": "system",
                "content": f"You are the {role} of {deal.item} (list price ${deal.list_price}). "
                f"Your limit is ${limit}. Reply by calling respond.",
            },
            {"role": "user", "content": f"The other side offers ${their_price}."},
        ],
        max_tokens=40,
        tools=[_RESPOND],
        tool_choice="respond",
    )
    decision = (arguments or {}).get("decision")
    price = (arguments or {}).get("price")
    acceptable = their_price >= limit if role == "seller" else their_price <= limit
    if decision == "accept" and acceptable:
        return "accept", their_price
    if not isinstance(price, int | float) or isinstance(price, bool):
        price = (their_price + limit) // 2
    # A counter must move toward the other side and stay within this side's limit.
    low, high = sorted((their_price, limit if role == "buyer" else deal.list_price))
    if role == "seller":
        low = max(low, limit)
    price = int(min(max(int(price), low), high))
    if acceptable and price == their_price:
        return "accept", their_price
    return "counter", price


async def _receive(
    inbox: Channel, me: str, variant: Variant, resend: Any, last_round: int
) -> dict[str, Any] | None:
    """The next message of a newer round, or ``None`` when the hardened deadline gives up."""
    if variant == "naive":
        while True:
            message: dict[str, Any] = await inbox.receive(receiver=me)
            if message["round"] > last_round:
                return message
    for attempt in range(RESENDS + 1):
        try:
            while True:
                message = await inbox.receive(receiver=me, timeout=REPLY_TIMEOUT)
                if message["round"] > last_round:  # a re-sent duplicate of an old round is skipped
                    return message
        except TimeoutError:
            if attempt == RESENDS:
                return None
            await resend()
    return None


async def _buyer(
    client: openai.AsyncOpenAI,
    deal: Deal,
    variant: Variant,
    channels: dict[str, Channel],
    result: NegotiationResult,
) -> None:
    async with agent("buyer"):
        offer: dict[str, Any] = {
            "round": 1,
            "from": "buyer",
            "kind": "offer",
            "price": deal.buyer_budget * 4 // 5,
        }
        await channels["to_seller"].send(offer, recipient="seller")
        result.transcript.append(f"buyer offers ${offer['price']}")
        for round_no in range(1, ROUNDS + 1):
            last = dict(offer)
            reply = await _receive(
                channels["to_buyer"],
                "buyer",
                variant,
                lambda last=last: channels["to_seller"].send(last, recipient="seller"),
                round_no - 1,
            )
            if reply is None:
                result.outcome, result.reason = (
                    "no_deal",
                    f"the seller did not answer within {REPLY_TIMEOUT:g} s",
                )
                return
            result.rounds = reply["round"]
            if reply["kind"] == "accept":
                result.outcome, result.price = "deal", reply["price"]
                return
            if reply["kind"] == "reject":
                result.outcome, result.reason = "no_deal", "the seller walked away"
                return
            decision, price = await _decide(client, "buyer", deal, reply["price"], deal.buyer_budget)
            kind = "accept" if decision == "accept" or round_no == ROUNDS else "offer"
            if kind == "accept" and reply["price"] > deal.buyer_budget:
                kind = "reject"
            offer = {"round": int(reply["round"]) + 1, "from": "buyer", "kind": kind, "price": price}
            await channels["to_seller"].send(offer, recipient="seller")
            result.transcript.append(f"buyer {kind}s ${price}")
            if kind == "accept":
                result.outcome, result.price, result.rounds = "deal", reply["price"], offer["round"]
                return
            if kind == "reject":
                result.outcome, result.reason = "no_deal", "the price stayed above the buyer's budget"
                return


async def _seller(
    client: openai.AsyncOpenAI,
    deal: Deal,
    variant: Variant,
    channels: dict[str, Channel],
    transcript: list[str],
) -> None:
    async with agent("seller"):
        last_round = 0
        sent: dict[str, Any] = {}  # the last reply, re-sent when the buyer seems not to have it

        async def resend() -> None:
            if sent:
                await channels["to_buyer"].send(dict(sent), recipient="buyer")

        while True:
            message = await _receive(channels["to_seller"], "seller", variant, resend, last_round)
            if message is None or message["kind"] in ("accept", "reject"):
                return
            last_round = message["round"]
            decision, price = await _decide(client, "seller", deal, message["price"], deal.seller_floor)
            kind = "accept" if decision == "accept" else ("reject" if last_round >= ROUNDS * 2 else "counter")
            sent.clear()
            sent.update({"round": last_round + 1, "from": "seller", "kind": kind, "price": price})
            await channels["to_buyer"].send(dict(sent), recipient="buyer")
            transcript.append(f"seller {kind}s ${price}")
            if kind in ("accept", "reject"):
                return


async def run(
    deal: Deal = DEFAULT_DEAL,
    *,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> NegotiationResult:
    """Let a buyer and a seller agent negotiate ``deal``.

    Args:
        deal: The item, its list price and each side's private limit.
        variant: ``"naive"`` (waits forever on a lost message) or ``"hardened"`` (liveness deadline).
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    channels = {
        "to_seller": Channel("to_seller", producer="buyer"),
        "to_buyer": Channel("to_buyer", producer="seller"),
    }
    result = NegotiationResult(outcome="no_deal")
    async with llm_client(client) as llm:
        buyer = spawn(_buyer(llm, deal, variant, channels, result), name="buyer")
        seller = spawn(_seller(llm, deal, variant, channels, result.transcript), name="seller")
        await asyncio.gather(buyer, seller)
    return result
