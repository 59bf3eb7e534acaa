"""checkout: charge the card, reserve the items, email a confirmation the model writes.

Every step is a side-effecting ``@tool`` against :class:`~scenarios._shop.ShopService`, a real
SQLite-backed HTTP service on 127.0.0.1 that records each effect it applies.

**naive** wraps each call in a 10 s timeout and retries it up to three times, and retries the
whole checkout once if anything fails, with no idempotency keys: a slow email that is retried
goes out twice, a retried checkout charges twice, and a checkout that fails after the charge
keeps the money.

**hardened** takes a lease (fencing token) for the order, sends an idempotency key with every
side effect (so a retry is applied once), retries single steps only, and on failure runs the
compensations of the steps that succeeded in reverse order (release, refund): a saga.

Usage::

    with ShopService() as shop:
        result = asyncio.run(checkout.run(DEFAULT_ORDER, shop=shop, variant="hardened"))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import openai
from pydantic import BaseModel, Field

from harness import agent, dead_letter, escalate, tool
from scenarios._common import Variant, chat, check_variant, llm_client
from scenarios._http import ServiceCallError, ServiceUnavailable, call_service
from scenarios._shop import CATALOG, ShopService

__all__ = [
    "DEFAULT_ORDER",
    "STEP_ATTEMPTS",
    "STEP_TIMEOUT",
    "CheckoutResult",
    "LineItem",
    "Order",
    "ShopClient",
    "ShopService",
    "run",
]

STEP_TIMEOUT = 10.0  # virtual seconds one shop call may take before it is retried
STEP_ATTEMPTS = 3
T = TypeVar("T")


class LineItem(BaseModel):
    sku: str
    qty: int = Field(ge=1)


class Order(BaseModel):
    """A cart at checkout."""

    order_id: str
    email: str
    items: list[LineItem]
    card: str = "tok_visa_4242"

    @property
    def total_cents(self) -> int:
        return sum(CATALOG[item.sku][1] * item.qty for item in self.items)


DEFAULT_ORDER = Order(
    order_id="ord-1001",
    email="ana@example.com",
    items=[LineItem(sku="KB-101", qty=1), LineItem(sku="MS-7", qty=2)],
)


class CheckoutResult(BaseModel):
    """How the checkout ended, as the system saw it."""

    order_id: str
    status: Literal["confirmed", "rolled_back", "failed"]
    charge_id: str | None = None
    reservations: list[str] = Field(default_factory=list)
    email_id: str | None = None
    attempts: int = 1
    errors: list[str] = Field(default_factory=list)


class ShopClient:
    """The shop's API as tools. Pass ``idempotency_key``/``fencing_token`` to make a call safe to retry."""

    def __init__(self, shop: ShopService) -> None:
        self.shop = shop

    def _post(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in payload.items() if v is not None}
        reply = call_service("POST", f"{self.shop.base_url}{route}", body)
        return reply if isinstance(reply, dict) else {}

    @tool("acquire_lease")
    async def acquire_lease(self, order_id: str) -> int:
        """Take the order's lease; the returned fencing token outranks every earlier one."""
        return int(self._post("/lease", {"order_id": order_id})["fencing_token"])

    @tool("charge_payment", side_effect=True, compensate="refund_payment")
    async def charge(
        self,
        order_id: str,
        amount_cents: int,
        card: str,
        *,
        idempotency_key: str | None = None,
        fencing_token: int | None = None,
    ) -> str:
        reply = self._post(
            "/charge",
            {
                "order_id": order_id,
                "amount_cents": amount_cents,
                "card": card,
                "idempotency_key": idempotency_key,
                "fencing_token": fencing_token,
            },
        )
        return str(reply["id"])

    @tool("refund_payment", side_effect=True)
    async def refund(
        self,
        order_id: str,
        charge_id: str | None,
        amount_cents: int,
        *,
        charge_key: str | None = None,
        idempotency_key: str | None = None,
        fencing_token: int | None = None,
    ) -> str | None:
        """Refund the charge ``charge_id``, or the one made with idempotency key ``charge_key``.

        Returns the refund's id, or ``None`` when there was nothing to refund (no such charge, or
        already refunded): safe to call when the charge's outcome is unknown.
        """
        reply = self._post(
            "/refund",
            {
                "order_id": order_id,
                "charge_id": charge_id,
                "charge_key": charge_key,
                "amount_cents": amount_cents,
                "idempotency_key": idempotency_key,
                "fencing_token": fencing_token,
            },
        )
        return None if reply.get("id") is None else str(reply["id"])

    @tool("reserve_inventory", side_effect=True, compensate="release_inventory")
    async def reserve(
        self,
        order_id: str,
        sku: str,
        qty: int,
        *,
        idempotency_key: str | None = None,
        fencing_token: int | None = None,
    ) -> str:
        reply = self._post(
            "/reserve",
            {
                "order_id": order_id,
                "sku": sku,
                "qty": qty,
                "idempotency_key": idempotency_key,
                "fencing_token": fencing_token,
            },
        )
        return str(reply["id"])

    @tool("release_inventory", side_effect=True)
    async def release(
        self,
        order_id: str,
        reservation_id: str | None,
        sku: str,
        qty: int,
        *,
        reservation_key: str | None = None,
        idempotency_key: str | None = None,
        fencing_token: int | None = None,
    ) -> bool:
        """Release ``reservation_id``, or the reservation made with idempotency key ``reservation_key``.

        Returns whether anything was released (``False``: no such reservation, or already released).
        """
        reply = self._post(
            "/release",
            {
                "order_id": order_id,
                "reservation_id": reservation_id,
                "reservation_key": reservation_key,
                "sku": sku,
                "qty": qty,
                "idempotency_key": idempotency_key,
                "fencing_token": fencing_token,
            },
        )
        return bool(reply.get("released"))

    @tool("send_email", side_effect=True)
    async def send_email(
        self,
        order_id: str,
        to: str,
        subject: str,
        body: str,
        *,
        idempotency_key: str | None = None,
        fencing_token: int | None = None,
    ) -> str:
        reply = self._post(
            "/email",
            {
                "order_id": order_id,
                "to": to,
                "subject": subject,
                "body": body,
                "idempotency_key": idempotency_key,
                "fencing_token": fencing_token,
            },
        )
        return str(reply["id"])


_RETRYABLE = (TimeoutError, ServiceUnavailable)


async def _with_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Try a shop call up to STEP_ATTEMPTS times, each bounded by STEP_TIMEOUT; 5xx and timeouts retry."""
    for attempt in range(1, STEP_ATTEMPTS + 1):
        try:
            return await asyncio.wait_for(call(), STEP_TIMEOUT)
        except _RETRYABLE:
            if attempt == STEP_ATTEMPTS:
                raise
        except ServiceCallError as exc:
            if exc.status < 500 or attempt == STEP_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _fallback_email(order: Order) -> str:
    lines = ", ".join(f"{item.qty} x {CATALOG[item.sku][0]}" for item in order.items)
    return f"Thank you for your order {order.order_id}: {lines}. Total ${order.total_cents / 100:.2f}."


async def _write_email(client: openai.AsyncOpenAI, order: Order) -> str:
    async with agent("notifier"):
        lines = "\n".join(f"- {item.qty} x {CATALOG[item.sku][0]} ({item.sku})" for item in order.items)
        text, _ = await chat(
            client,
            [
                {
                    "role": "system",
                    "content": "You write a short, friendly order confirmation email body. Mention the "
                    "order number and the total.",
                },
                {
                    "role": "user",
                    "content": f"Order {order.order_id}, total ${order.total_cents / 100:.2f}:\n{lines}",
                },
            ],
            max_tokens=90,
        )
        # The small model sometimes apologises or rambles: keep a sane body either way.
        if len(text) < 20 or order.order_id not in text:
            text = f"{_fallback_email(order)}\n\n{text}".strip()
        return text


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


async def _naive_once(
    client: openai.AsyncOpenAI, shop: ShopClient, order: Order, result: CheckoutResult
) -> None:
    result.charge_id = await _with_retries(lambda: shop.charge(order.order_id, order.total_cents, order.card))
    for item in order.items:
        result.reservations.append(
            await _with_retries(lambda item=item: shop.reserve(order.order_id, item.sku, item.qty))  # type: ignore[misc]
        )
    body = await _write_email(client, order)
    subject = f"Your order {order.order_id} is confirmed"
    result.email_id = await _with_retries(lambda: shop.send_email(order.order_id, order.email, subject, body))


async def _hardened(
    client: openai.AsyncOpenAI, shop: ShopClient, order: Order, result: CheckoutResult
) -> None:
    try:
        token = await _with_retries(lambda: shop.acquire_lease(order.order_id))
    except Exception as exc:
        # No lease, no fencing token: nothing was done yet, so fail cleanly before any side effect.
        result.errors.append(f"could not take the order's lease: {_error(exc)}")
        result.status = "failed"
        return
    key = order.order_id  # stable across retries of the whole checkout, unlike the token
    undo: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    try:
        # Each compensation is registered *before* its step runs: a step that timed out or lost its
        # reply may have been applied, so it is undone too. The shop finds the effect by the step's
        # idempotency key and applies nothing when there is none, so this is safe either way.
        undo.append(
            (
                "refund",
                lambda: shop.refund(
                    order.order_id,
                    result.charge_id,
                    order.total_cents,
                    charge_key=f"{key}/charge",
                    idempotency_key=f"{key}/refund",
                    fencing_token=token,
                ),
            )
        )
        result.charge_id = await _with_retries(
            lambda: shop.charge(
                order.order_id,
                order.total_cents,
                order.card,
                idempotency_key=f"{key}/charge",
                fencing_token=token,
            )
        )
        for index, item in enumerate(order.items):
            undo.append(
                (
                    f"release {item.sku}",
                    lambda item=item, index=index: shop.release(  # type: ignore[misc]
                        order.order_id,
                        None,
                        item.sku,
                        item.qty,
                        reservation_key=f"{key}/reserve/{index}",
                        idempotency_key=f"{key}/release/{index}",
                        fencing_token=token,
                    ),
                )
            )
            reservation = await _with_retries(
                lambda item=item, index=index: shop.reserve(  # type: ignore[misc]
                    order.order_id,
                    item.sku,
                    item.qty,
                    idempotency_key=f"{key}/reserve/{index}",
                    fencing_token=token,
                )
            )
            result.reservations.append(reservation)
        body = await _write_email(client, order)
        subject = f"Your order {order.order_id} is confirmed"
        result.email_id = await _with_retries(
            lambda: shop.send_email(
                order.order_id,
                order.email,
                subject,
                body,
                idempotency_key=f"{key}/email",
                fencing_token=token,
            )
        )
    except Exception as exc:
        result.errors.append(_error(exc))
        # Saga: undo every step that was attempted, newest first. A compensation that fails is
        # reported, not hidden.
        undone = True
        async with agent("compensator"):
            for name, compensate in reversed(undo):
                try:
                    await _with_retries(compensate)
                except Exception as comp_exc:
                    # A compensation that keeps failing is parked for an operator (dead letter)
                    # and escalated; the order is then failed, not rolled back.
                    undone = False
                    result.errors.append(f"compensation {name} failed: {_error(comp_exc)}")
                    dead_letter("refund_payment" if name == "refund" else "release_inventory", error=comp_exc)
                    escalate(f"order {order.order_id}: compensation {name} failed; manual action needed")
        result.status = "rolled_back" if undone else "failed"
        return
    result.status = "confirmed"


async def run(
    order: Order = DEFAULT_ORDER,
    *,
    shop: ShopService,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> CheckoutResult:
    """Check ``order`` out against ``shop``.

    Args:
        order: The cart.
        shop: A running :class:`ShopService`.
        variant: ``"naive"`` (blind retries, no idempotency, no compensation) or ``"hardened"``.
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    async with llm_client(client) as llm:
        return await _orchestrate(llm, ShopClient(shop), order, variant)


async def _orchestrate(
    client: openai.AsyncOpenAI, api: ShopClient, order: Order, variant: Variant
) -> CheckoutResult:
    async with agent("orchestrator"):
        if variant == "hardened":
            result = CheckoutResult(order_id=order.order_id, status="failed")
            await _hardened(client, api, order, result)
            return result
        errors: list[str] = []
        for attempt in (1, 2):  # "if anything went wrong, just run the checkout again"
            result = CheckoutResult(order_id=order.order_id, status="failed", attempts=attempt, errors=errors)
            try:
                await _naive_once(client, api, order, result)
            except Exception as exc:
                errors.append(_error(exc))
                continue
            result.status = "confirmed"
            return result
        return result
