"""Pattern: a declared postcondition acted on, when a dependency answers plausibly and wrongly.

A billing agent reads an invoice, adds the shipping line (idempotently), reads the invoice
back and declares what it must look like: the order's lines plus shipping, a total that
adds up, the version its own write produced. A stale read (the invoice before the write),
a line left out, a figure nudged by 10% or a field mixed up all look like an invoice. The
careful agent acts on its check: it reads again, and reports ``failed`` when no read
passes. The buggy twin declares the same check and reports ``done`` whatever it said
(``phantom_completion``).
"""

import asyncio

from harness import WorkerKilled, agent, postcondition, tool

ORDER_LINES = [10, 20, 30]
SHIPPING = 5
INVOICE = {}
APPLIED = set()


def _reset():
    INVOICE.clear()
    INVOICE.update({"invoice_id": "inv-7", "version": 1, "lines": list(ORDER_LINES)})
    APPLIED.clear()


@tool("get_invoice")
async def get_invoice(invoice_id):
    lines = list(INVOICE["lines"])
    return {"invoice_id": invoice_id, "version": INVOICE["version"], "lines": lines, "total": sum(lines)}


@tool("add_line", side_effect=True)
async def add_line(invoice_id, amount, idempotency_key=None):
    if idempotency_key not in APPLIED:  # the billing service applies a key once
        APPLIED.add(idempotency_key)
        INVOICE["lines"].append(amount)
        INVOICE["version"] += 1
    return {"invoice_id": invoice_id, "version": INVOICE["version"]}


async def _add_shipping():
    current = await _read()  # look before changing: shipping may be on the invoice already
    if (
        current
        and current.get("lines") == [*ORDER_LINES, SHIPPING]
        and isinstance(current.get("version"), int)
    ):
        return current["version"]
    for _ in range(3):
        try:
            reply = await asyncio.wait_for(add_line("inv-7", SHIPPING, idempotency_key="inv-7:shipping"), 10)
        except (Exception, WorkerKilled):
            continue
        if isinstance(reply, dict) and isinstance(reply.get("version"), int):
            return reply["version"]
    return None


async def _read():
    try:
        reply = await asyncio.wait_for(get_invoice("inv-7"), 10)
    except (Exception, WorkerKilled):
        return None
    return reply if isinstance(reply, dict) else None


def _matches(written_version):
    def check(invoice):
        if invoice is None:
            return False
        lines = invoice.get("lines")
        return (
            invoice.get("invoice_id") == "inv-7"
            and written_version is not None
            and invoice.get("version") == written_version
            and lines == [*ORDER_LINES, SHIPPING]
            and invoice.get("total") == sum(lines)
        )

    return check


async def correct():
    _reset()
    async with agent("billing"):
        version = await _add_shipping()
        if version is None:
            return {"status": "failed", "error": "shipping could not be added", "total": None}
        for _ in range(3):
            invoice = await _read()
            if postcondition("invoice matches the order", _matches(version), value=invoice):
                return {"status": "done", "total": invoice["total"], "lines": invoice["lines"]}
        return {"status": "failed", "error": "the invoice could not be verified", "total": None}


async def buggy():
    _reset()
    async with agent("billing"):
        version = await _add_shipping()
        if version is None:
            return {"status": "failed", "error": "shipping could not be added", "total": None}
        invoice = await _read() or {}
        postcondition("invoice matches the order", _matches(version), value=invoice)
        return {"status": "done", "total": invoice.get("total"), "lines": invoice.get("lines")}
