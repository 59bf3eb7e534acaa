"""invoicing: a billing agent has an invoicer worker price each order of a batch, then checks its answer.

The ``billing`` orchestrator runs an ``invoicer`` sub-agent for each order of the day's batch.
The invoicer reads the order with the ``get_order`` tool (:class:`OrderService`, a real HTTP
service on 127.0.0.1), prices it (lines, subtotal, VAT, total) and asks the model for a
one-sentence note to the customer. The order service returns, besides the lines, the order's
line count and subtotal as it booked them; the invoice carries both, so the worker's answer
can be checked: the postcondition *invoice matches order* (right order id, every line there,
subtotal adding up to the booked one), declared with :func:`harness.postcondition`.

**naive** accepts any well-formed answer: if the order parses, the invoice is issued. It
declares its postcondition (the check runs and is logged) but does not act on it, so a stale
read of another order, a line missing from a page of results or a quantity mangled on the way
is invoiced as ``done``: a plausible, wrong total.

**hardened** acts on its postcondition: an invoice that does not match its order is discarded
and the invoicer runs again (up to three runs); when no run matches, the order is set aside as
``needs_review`` instead of being invoiced.

Usage::

    with OrderService() as orders:
        result = asyncio.run(invoicing.run(DEFAULT_BATCH, orders=orders, variant="hardened"))
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field, ValidationError

from harness import WorkerKilled, agent, postcondition, tool
from scenarios._common import Variant, chat, check_variant, llm_client
from scenarios._errors import InvoicerFailed
from scenarios._http import JSONService, call_service, query_string

__all__ = [
    "CALL_TIMEOUT",
    "DEFAULT_BATCH",
    "INVOICER_RUNS",
    "VAT_RATE",
    "Batch",
    "Invoice",
    "InvoiceLine",
    "InvoicingResult",
    "OrderService",
    "run",
]

CALL_TIMEOUT = 10.0  # virtual seconds the invoicer waits for the order service
INVOICER_RUNS = 3  # runs of the invoicer per order (both variants retry a worker that failed)
VAT_RATE = 0.20


class Batch(BaseModel):
    """The orders to invoice today."""

    orders: list[str]


DEFAULT_BATCH = Batch(orders=["ord-1001", "ord-1002"])


class InvoiceLine(BaseModel):
    sku: str
    qty: int = Field(ge=1)
    unit_cents: int = Field(ge=0)


class Order(BaseModel):
    """An order as the order service books it (what ``get_order`` returns, validated)."""

    order_id: str
    customer: str
    lines: list[InvoiceLine] = Field(min_length=1)
    line_count: int
    subtotal_cents: int


class Invoice(BaseModel):
    """The invoicer's answer for one order."""

    order_id: str
    customer: str
    lines: list[InvoiceLine]
    booked_line_count: int
    booked_subtotal_cents: int
    subtotal_cents: int
    vat_cents: int
    total_cents: int
    note: str


class OrderOutcome(BaseModel):
    """What happened to one order of the batch."""

    order_id: str
    status: Literal["done", "needs_review", "failed"]
    total_cents: int | None = None
    invoice: Invoice | None = None
    reason: str = ""


class InvoicingResult(BaseModel):
    """Every order's outcome; ``status`` is ``done`` only when every order was invoiced."""

    status: Literal["done", "needs_review", "failed"]
    orders: list[OrderOutcome]


# -- the order service ---------------------------------------------------------------------
_ORDERS: dict[str, dict[str, Any]] = {
    "ord-1001": {
        "customer": "Harbour Cafe Ltd",
        "lines": [
            {"sku": "MUG-BLUE", "qty": 2, "unit_cents": 1250},
            {"sku": "TEA-EARL", "qty": 3, "unit_cents": 675},
            {"sku": "SPOON-SET", "qty": 1, "unit_cents": 1499},
        ],
    },
    "ord-1002": {
        "customer": "Northgate Office Supplies",
        "lines": [
            {"sku": "KETTLE-STEEL", "qty": 1, "unit_cents": 3999},
            {"sku": "FILTER-PACK", "qty": 2, "unit_cents": 450},
        ],
    },
}


def _booked(order_id: str) -> dict[str, Any]:
    order = _ORDERS[order_id]
    lines = order["lines"]
    return {
        "order_id": order_id,
        "customer": order["customer"],
        "lines": [dict(line) for line in lines],
        "line_count": len(lines),
        "subtotal_cents": sum(line["qty"] * line["unit_cents"] for line in lines),
    }


def expected_total(order_id: str) -> int:
    """The right total of ``order_id`` in cents (subtotal plus VAT), for tests."""
    subtotal = _booked(order_id)["subtotal_cents"]
    return int(subtotal + round(subtotal * VAT_RATE))


class OrderService(JSONService):
    """The order service: ``GET /orders?id=ord-1001`` returns the order as booked."""

    name = "orders"

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.requests: list[str] = []

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/orders"): self._get}

    def _get(self, request: dict[str, Any]) -> tuple[int, Any]:
        order_id = str(request.get("id", "")).strip()
        self.requests.append(order_id)
        if order_id not in _ORDERS:
            return 404, {"error": f"no order {order_id!r}"}
        return 200, _booked(order_id)

    def __repr__(self) -> str:  # no port: run logs of two replays must be identical
        return "OrderService()"


class OrderAPI:
    """The ``get_order`` tool, bound to an :class:`OrderService`."""

    def __init__(self, service: OrderService) -> None:
        self.service = service

    @tool("get_order", timeout=CALL_TIMEOUT)
    async def get(self, order_id: str) -> dict[str, Any]:
        """The order ``order_id`` as the order service booked it."""
        reply = call_service("GET", f"{self.service.base_url}/orders?{query_string({'id': order_id})}")
        return reply if isinstance(reply, dict) else {}


# -- the invoicer (worker) -----------------------------------------------------------------
async def _note(client: openai.AsyncOpenAI, order: Order, total_cents: int) -> str:
    lines = ", ".join(f"{line.qty} x {line.sku}" for line in order.lines)
    text, _ = await chat(
        client,
        [
            {
                "role": "system",
                "content": "You write invoices for a wholesale supplier. Write one polite sentence thanking "
                "the customer for the order.",
            },
            {
                "role": "user",
                "content": f"Customer: {order.customer}. Items: {lines}. Total: {total_cents / 100:.2f} EUR.",
            },
        ],
        max_tokens=40,
    )
    return text if len(text) >= 15 else f"Thank you for your order, {order.customer}."


async def _invoicer(client: openai.AsyncOpenAI, api: OrderAPI, order_id: str) -> Invoice:
    async with agent("invoicer"):
        try:
            reply = await asyncio.wait_for(api.get(order_id), CALL_TIMEOUT)
        except Exception as exc:  # refused, reset, 5xx, timed out: any failed call is a failure
            raise InvoicerFailed(f"get_order({order_id}) failed: {type(exc).__name__}") from exc
        try:
            order = Order.model_validate(reply)  # well-formed: the shape an order has
        except ValidationError as exc:
            raise InvoicerFailed(
                f"the order service's answer for {order_id} is malformed: {exc.errors()[0]['msg']}"
            ) from None
        subtotal = sum(line.qty * line.unit_cents for line in order.lines)
        vat = round(subtotal * VAT_RATE)
        return Invoice(
            order_id=order.order_id,
            customer=order.customer,
            lines=order.lines,
            booked_line_count=order.line_count,
            booked_subtotal_cents=order.subtotal_cents,
            subtotal_cents=subtotal,
            vat_cents=vat,
            total_cents=subtotal + vat,
            note=await _note(client, order, subtotal + vat),
        )


def matches_order(order_id: str) -> Any:
    """The postcondition of an invoice for ``order_id``: the right order, every line, the booked subtotal."""

    def check(invoice: Invoice) -> bool:
        return (
            invoice.order_id == order_id
            and len(invoice.lines) == invoice.booked_line_count
            and invoice.subtotal_cents == invoice.booked_subtotal_cents
            and invoice.total_cents == invoice.subtotal_cents + invoice.vat_cents
        )

    return check


async def _invoice(
    client: openai.AsyncOpenAI, api: OrderAPI, order_id: str, variant: Variant
) -> OrderOutcome:
    """Run the invoicer for one order (again, when it fails) and check its answer."""
    errors: list[str] = []
    for _ in range(INVOICER_RUNS):
        try:
            invoice = await _invoicer(client, api, order_id)
        except (InvoicerFailed, WorkerKilled) as exc:
            errors.append(str(exc))
            continue
        holds = postcondition(
            f"invoice matches order {order_id}",
            matches_order(order_id),
            value=invoice,
            detail=f"invoice for {invoice.order_id}: {len(invoice.lines)} of {invoice.booked_line_count} "
            f"lines, subtotal {invoice.subtotal_cents} vs booked {invoice.booked_subtotal_cents}",
            agent="invoicer",
        )
        if variant == "naive" or holds:  # naive: well-formed is good enough
            return OrderOutcome(
                order_id=order_id, status="done", total_cents=invoice.total_cents, invoice=invoice
            )
        errors.append(f"the invoice for {order_id} does not match the order; discarded")
    # Runs that answered wrongly need a person to look; runs that could not answer are a failure.
    status: Literal["needs_review", "failed"] = "needs_review" if "does not match" in errors[-1] else "failed"
    return OrderOutcome(order_id=order_id, status=status, reason="; ".join(errors))


async def run(
    batch: Batch = DEFAULT_BATCH,
    *,
    orders: OrderService,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> InvoicingResult:
    """Invoice every order of ``batch``.

    Args:
        batch: The orders to invoice.
        orders: A running :class:`OrderService` (the ``get_order`` tool calls it over HTTP).
        variant: ``"naive"`` (accepts any well-formed invoice) or ``"hardened"`` (acts on the
            postcondition: runs the invoicer again, then sets the order aside for review).
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    api = OrderAPI(orders)
    async with llm_client(client) as llm, agent("billing"):
        outcomes = [await _invoice(llm, api, order_id, variant) for order_id in batch.orders]
        statuses = {o.status for o in outcomes}
        status: Literal["done", "needs_review", "failed"] = (
            "failed" if "failed" in statuses else "needs_review" if "needs_review" in statuses else "done"
        )
        return InvoicingResult(status=status, orders=outcomes)
