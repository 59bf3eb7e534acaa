"""checkpointed: an orchestrator that fulfils an order step by step and survives a crash.

The orchestrator writes the customer's confirmation with the model (streamed), charges the
card, books the shipment and emails the confirmation, recording its progress after every
step in a durable checkpoint store (``harness.StateStore`` on an SQLite file in the run's
directory). After a crash the system is started again (:func:`resume`) and continues from
the last checkpoint, as a LangGraph graph invoked again on its thread, or a DBOS / Temporal
workflow recovered by its id, does. The payments, shipping and mail services are
:class:`World`: an SQLite file beside the checkpoints (what survives a crash of the system:
the world's effects), honouring idempotency keys and answering look-ups by key.

**naive** checkpoints each step after its effect, with no idempotency key: a crash after
the card was charged but before the checkpoint said so (the ambiguous window) makes the
restarted system charge again.

**hardened** derives each step's idempotency key from the step's content (the order, the
step, its arguments), and on resume first asks the world whether the step the crash
interrupted already happened (a reconciliation read), adopting its result if it did. It
retries a failed step with the same key and reports an order it could not finish.

Usage::

    run = harness.run_system(checkpointed.run, kwargs={"variant": "hardened"}, resume=checkpointed.resume)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field

from harness import StateStore, agent, escalate, run_dir, tool
from scenarios._common import Variant, check_variant, llm_client, model_name

__all__ = ["DEFAULT_ORDER", "FulfilmentResult", "Order", "World", "resume", "run"]

ATTEMPTS = 3


class Order(BaseModel):
    """An order to fulfil."""

    order_id: str
    email: str
    address: str
    item: str
    amount_cents: int = Field(ge=1)


DEFAULT_ORDER = Order(
    order_id="ord-2042",
    email="lee@example.com",
    address="12 Harbour Lane, Leith",
    item="mechanical keyboard",
    amount_cents=8900,
)


class FulfilmentResult(BaseModel):
    """How the fulfilment ended, as the system saw it."""

    order_id: str
    status: Literal["fulfilled", "failed"]
    charge_id: str | None = None
    shipment_id: str | None = None
    email_id: str | None = None
    failed: list[str] = Field(default_factory=list)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS effects (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
    "idempotency_key TEXT, detail TEXT NOT NULL)"
)


class World:
    """Payments, shipping and mail: every effect is a row of an SQLite file in the run's directory.

    A repeated idempotency key returns the first effect's id and applies nothing; :meth:`find`
    answers whether an effect with a key exists. It lives in a file because it must outlive the
    system: a crash of the orchestrator does not undo a charge.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(run_dir()) / "world.db"

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute(_SCHEMA)
        return db

    def apply(self, kind: str, key: str | None, detail: dict[str, Any]) -> str:
        db = self._db()
        try:
            if key is not None:
                row = db.execute(
                    "SELECT id FROM effects WHERE kind = ? AND idempotency_key = ?", (kind, key)
                ).fetchone()
                if row:
                    return f"{kind}_{row[0]}"
            cursor = db.execute(
                "INSERT INTO effects (kind, idempotency_key, detail) VALUES (?, ?, ?)",
                (kind, key, json.dumps(detail, sort_keys=True)),
            )
            return f"{kind}_{cursor.lastrowid}"
        finally:
            db.close()

    def find(self, kind: str, key: str) -> str | None:
        db = self._db()
        try:
            row = db.execute(
                "SELECT id FROM effects WHERE kind = ? AND idempotency_key = ?", (kind, key)
            ).fetchone()
            return f"{kind}_{row[0]}" if row else None
        finally:
            db.close()

    def effects(self, kind: str | None = None) -> list[tuple[str, str | None]]:
        """``(kind, idempotency key)`` of every effect applied, in order."""
        db = self._db()
        try:
            rows = db.execute("SELECT kind, idempotency_key FROM effects ORDER BY id").fetchall()
        finally:
            db.close()
        return [(k, key) for k, key in rows if kind is None or k == kind]


@tool("charge_card", side_effect=True, timeout=30)
async def charge_card(order_id: str, amount_cents: int, *, idempotency_key: str | None = None) -> str:
    return World().apply("charge", idempotency_key, {"order": order_id, "amount_cents": amount_cents})


@tool("book_shipment", side_effect=True, timeout=30)
async def book_shipment(order_id: str, address: str, *, idempotency_key: str | None = None) -> str:
    return World().apply("shipment", idempotency_key, {"order": order_id, "address": address})


@tool("send_confirmation", side_effect=True, timeout=30)
async def send_confirmation(order_id: str, to: str, body: str, *, idempotency_key: str | None = None) -> str:
    return World().apply("email", idempotency_key, {"order": order_id, "to": to, "body": body})


@tool("find_effect", timeout=30)
async def find_effect(kind: str, idempotency_key: str) -> str | None:
    """The reconciliation read: the id of the effect made with this key, or ``None``."""
    return World().find(kind, idempotency_key)


def content_key(order_id: str, step: str, args: dict[str, Any]) -> str:
    """An idempotency key from the step's content: the same step of the same order, the same key."""
    text = json.dumps([order_id, step, args], sort_keys=True)
    return f"{order_id}/{step}/{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _fallback_message(order: Order) -> str:
    return (
        f"Thank you for your order {order.order_id}: your {order.item} is on its way to "
        f"{order.address}. Total ${order.amount_cents / 100:.2f}."
    )


async def _write_message(client: openai.AsyncOpenAI, order: Order) -> str:
    """The confirmation text, streamed from the model; a template when the model fails or rambles."""
    try:
        stream = await client.chat.completions.create(
            model=model_name(),
            messages=[
                {
                    "role": "system",
                    "content": "Write a two-sentence order confirmation. Mention the order number.",
                },
                {
                    "role": "user",
                    "content": f"Order {order.order_id}: one {order.item}, ${order.amount_cents / 100:.2f}, "
                    f"shipping to {order.address}.",
                },
            ],
            temperature=0,
            max_tokens=60,
            stream=True,
        )
        parts: list[str] = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        text = "".join(parts).strip()
    except Exception:  # any failure of the model or its stream (an SDK error, a garbled event)
        text = ""
    if len(text) < 20 or order.order_id not in text:
        text = f"{_fallback_message(order)}\n\n{text}".strip()
    return text


# The steps after the message, in order: (checkpoint name, world kind, how to call it).
_STEPS = ("charge", "shipment", "email")


def _args(step: str, order: Order, message: str) -> dict[str, Any]:
    if step == "charge":
        return {"order_id": order.order_id, "amount_cents": order.amount_cents}
    if step == "shipment":
        return {"order_id": order.order_id, "address": order.address}
    return {"order_id": order.order_id, "to": order.email, "body": message}


async def _call(step: str, args: dict[str, Any], key: str | None) -> str:
    if step == "charge":
        return await charge_card(**args, idempotency_key=key)
    if step == "shipment":
        return await book_shipment(**args, idempotency_key=key)
    return await send_confirmation(**args, idempotency_key=key)


async def _naive(client: openai.AsyncOpenAI, order: Order, store: StateStore) -> FulfilmentResult:
    done: dict[str, Any] = dict(store.read(order.order_id).value or {})
    if "message" not in done:
        done["message"] = await _write_message(client, order)
        store.write(order.order_id, done)
    for step in _STEPS:
        if step in done:
            continue
        done[step] = await _call(step, _args(step, order, done["message"]), None)
        store.write(order.order_id, done)  # after the effect: a crash in between redoes it
    return _result(order, done)


async def _hardened(client: openai.AsyncOpenAI, order: Order, store: StateStore) -> FulfilmentResult:
    saved = store.read(order.order_id).value
    done: dict[str, Any] = dict(saved or {})
    resumed = saved is not None  # progress from an earlier start: the next step may have happened
    if "message" not in done:
        done["message"] = await _write_message(client, order)
        store.write(order.order_id, done)
    for step in _STEPS:
        if step in done:
            continue
        args = _args(step, order, done["message"])
        key = content_key(order.order_id, step, args)
        outcome: str | None = None
        if resumed:
            # The crash may have struck after this step took effect and before its checkpoint:
            # ask the world before doing it again.
            outcome = await _attempts(lambda key=key, step=step: find_effect(step, key))
        if outcome is None:
            outcome = await _attempts(lambda step=step, args=args, key=key: _call(step, args, key))
        if outcome is None:
            escalate(f"order {order.order_id}: step {step} failed {ATTEMPTS} times; needs an operator")
            failed = FulfilmentResult(order_id=order.order_id, status="failed", failed=[step])
            for earlier in _STEPS[: _STEPS.index(step)]:
                setattr(failed, f"{earlier}_id", done.get(earlier))
            return failed
        done[step] = outcome
        store.write(order.order_id, done)
        resumed = False
    return _result(order, done)


async def _attempts(call: Any) -> Any:
    """``call()`` up to ATTEMPTS times; ``None`` if every attempt failed (the same key each time)."""
    for _ in range(ATTEMPTS):
        try:
            return await call()
        except Exception:
            continue
    return None


def _result(order: Order, done: dict[str, Any]) -> FulfilmentResult:
    return FulfilmentResult(
        order_id=order.order_id,
        status="fulfilled",
        charge_id=done.get("charge"),
        shipment_id=done.get("shipment"),
        email_id=done.get("email"),
    )


async def run(
    order: Order = DEFAULT_ORDER,
    *,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
    checkpoints: str | Path | None = None,
) -> FulfilmentResult:
    """Fulfil ``order``, resuming from the checkpoints in ``checkpoints`` (default: the run's directory).

    Args:
        order: The order.
        variant: ``"naive"`` (checkpoint after the effect, no idempotency) or ``"hardened"``.
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
        checkpoints: The SQLite file of the checkpoint store.
    """
    check_variant(variant)
    path = Path(checkpoints) if checkpoints is not None else Path(run_dir()) / "checkpoints.db"
    store = StateStore("checkpoints", path=path)
    try:
        async with llm_client(client) as llm, agent("orchestrator"):
            if variant == "hardened":
                return await _hardened(llm, order, store)
            return await _naive(llm, order, store)
    finally:
        store.close()


# After a crash the system starts again from the top: the checkpoints say how far it got, as a
# durable-execution engine re-runs a workflow function and skips the steps it recorded.
resume = run
