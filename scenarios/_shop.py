"""The checkout system's shop: payments, inventory and email, as one SQLite-backed HTTP service.

Every effect the service applies is a row in its ``effects`` table, so a test can ask the service
itself how many emails went out or how much money was taken, whatever the system under test
believes. It honours idempotency keys (a repeated key returns the first reply and applies nothing)
and fencing tokens (an effect carrying a token older than the order's latest lease is refused).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from scenarios._http import JSONService

__all__ = ["CATALOG", "Effect", "ShopService"]

# sku -> (name, price in cents, units in stock)
CATALOG: dict[str, tuple[str, int, int]] = {
    "KB-101": ("mechanical keyboard", 8900, 20),
    "MS-7": ("wireless mouse", 2900, 50),
    "CB-USB-C": ("USB-C cable", 900, 100),
    "HD-LIM": ("limited-edition headset", 15900, 1),
}

_SCHEMA = """
CREATE TABLE effects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    order_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    detail TEXT NOT NULL,
    idempotency_key TEXT,
    fencing_token INTEGER
);
CREATE TABLE idempotency (route TEXT, key TEXT, reply TEXT, PRIMARY KEY (route, key));
CREATE TABLE stock (sku TEXT PRIMARY KEY, available INTEGER NOT NULL);
CREATE TABLE leases (order_id TEXT PRIMARY KEY, token INTEGER NOT NULL);
CREATE TABLE rejected (id INTEGER PRIMARY KEY AUTOINCREMENT, route TEXT, order_id TEXT, reason TEXT);
"""


class Effect(BaseModel):
    """One effect the shop applied (a row of its ``effects`` table)."""

    id: int
    kind: str  # charge | refund | reserve | release | email
    order_id: str
    ref: str  # the id the shop gave it: ch_1, rs_2, em_3 ...
    detail: dict[str, Any]
    idempotency_key: str | None = None
    fencing_token: int | None = None


class ShopService(JSONService):
    """Payments, inventory and email over HTTP on 127.0.0.1, backed by SQLite.

    Args:
        port: TCP port (0 picks a free one).
        database: A SQLite file to keep the records in; in memory when ``None``.
        stock: Units in stock per SKU; defaults to :data:`CATALOG`'s.
    """

    name = "shop"

    def __init__(
        self, port: int = 0, database: str | Path | None = None, stock: dict[str, int] | None = None
    ) -> None:
        super().__init__(port)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(database) if database else ":memory:", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        initial = stock if stock is not None else {sku: units for sku, (_, _, units) in CATALOG.items()}
        self._db.executemany("INSERT INTO stock VALUES (?, ?)", sorted(initial.items()))
        self._db.commit()
        self._next_token = 0

    def __repr__(self) -> str:  # no port: run logs of two replays must be identical
        return "ShopService()"

    # -- what tests read ---------------------------------------------------------------------
    def effects(self, kind: str | None = None, order_id: str | None = None) -> list[Effect]:
        """The effects applied so far, oldest first, optionally of one kind and one order."""
        sql = "SELECT id, kind, order_id, ref, detail, idempotency_key, fencing_token FROM effects WHERE 1=1"
        params: list[Any] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if order_id is not None:
            sql += " AND order_id = ?"
            params.append(order_id)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", params).fetchall()
        return [
            Effect(
                id=r[0],
                kind=r[1],
                order_id=r[2],
                ref=r[3],
                detail=json.loads(r[4]),
                idempotency_key=r[5],
                fencing_token=r[6],
            )
            for r in rows
        ]

    def net_charged(self, order_id: str) -> int:
        """Cents charged minus cents refunded for ``order_id``."""
        total = 0
        for effect in self.effects(order_id=order_id):
            if effect.kind == "charge":
                total += int(effect.detail["amount_cents"])
            elif effect.kind == "refund":
                total -= int(effect.detail["amount_cents"])
        return total

    def stock(self, sku: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
        return int(row[0]) if row else 0

    def rejections(self) -> list[tuple[str, str, str]]:
        """``(route, order_id, reason)`` of every refused request (stale fencing token, out of stock)."""
        with self._lock:
            rows = self._db.execute("SELECT route, order_id, reason FROM rejected ORDER BY id").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    # -- HTTP ----------------------------------------------------------------------------------
    def routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("POST", "/lease"): self._lease,
            ("POST", "/charge"): lambda r: self._effect("/charge", r, self._charge),
            ("POST", "/refund"): lambda r: self._effect("/refund", r, self._refund),
            ("POST", "/reserve"): lambda r: self._effect("/reserve", r, self._reserve),
            ("POST", "/release"): lambda r: self._effect("/release", r, self._release),
            ("POST", "/email"): lambda r: self._effect("/email", r, self._email),
            ("GET", "/effects"): lambda r: (
                200,
                {"effects": [e.model_dump() for e in self.effects(r.get("kind"), r.get("order_id"))]},
            ),
        }

    def _lease(self, request: dict[str, Any]) -> tuple[int, Any]:
        order_id = str(request["order_id"])
        with self._lock:
            self._next_token += 1
            token = self._next_token
            self._db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?)", (order_id, token))
            self._db.commit()
        return 200, {"order_id": order_id, "fencing_token": token}

    def _effect(self, route: str, request: dict[str, Any], apply: Any) -> tuple[int, Any]:
        order_id = str(request["order_id"])
        key = request.get("idempotency_key")
        token = request.get("fencing_token")
        with self._lock:
            if key is not None:
                row = self._db.execute(
                    "SELECT reply FROM idempotency WHERE route = ? AND key = ?", (route, str(key))
                ).fetchone()
                if row is not None:
                    return 200, json.loads(row[0])
            if token is not None:
                lease = self._db.execute(
                    "SELECT token FROM leases WHERE order_id = ?", (order_id,)
                ).fetchone()
                if lease is not None and int(token) < int(lease[0]):
                    reason = f"stale fencing token {token}: the order's lease is at {lease[0]}"
                    self._db.execute(
                        "INSERT INTO rejected (route, order_id, reason) VALUES (?, ?, ?)",
                        (route, order_id, reason),
                    )
                    self._db.commit()
                    return 409, {"error": reason}
            status, reply, kind, detail = apply(request)
            if status == 200 and kind is None:
                # Nothing to undo (a refund or release of an effect that never happened): applied
                # nothing, and the key is not stored, so a retry after the effect lands still undoes it.
                return status, {**reply, "id": None}
            if status == 200:
                cursor = self._db.execute(
                    "INSERT INTO effects (kind, order_id, ref, detail, idempotency_key, fencing_token) "
                    "VALUES (?, ?, '', ?, ?, ?)",
                    (kind, order_id, json.dumps(detail, sort_keys=True), key, token),
                )
                ref = f"{kind[:2]}_{cursor.lastrowid}"
                self._db.execute("UPDATE effects SET ref = ? WHERE id = ?", (ref, cursor.lastrowid))
                reply = {**reply, "id": ref}
                if key is not None:
                    self._db.execute(
                        "INSERT INTO idempotency VALUES (?, ?, ?)", (route, str(key), json.dumps(reply))
                    )
            else:
                self._db.execute(
                    "INSERT INTO rejected (route, order_id, reason) VALUES (?, ?, ?)",
                    (route, order_id, str(reply.get("error"))),
                )
            self._db.commit()
            return status, reply

    # Each returns (status, reply, effect kind or None for no effect, effect detail); under the lock.
    def _charge(self, r: dict[str, Any]) -> tuple[int, dict[str, Any], str | None, dict[str, Any]]:
        amount = int(r["amount_cents"])
        if amount <= 0:
            return 400, {"error": f"amount_cents={amount} must be positive"}, "charge", {}
        return (
            200,
            {"amount_cents": amount},
            "charge",
            {"amount_cents": amount, "card": str(r.get("card", ""))[-4:]},
        )

    def _original(self, kind: str, ref: Any, key: Any) -> tuple[str, dict[str, Any]] | None:
        """The ``kind`` effect with id ``ref`` or idempotency key ``key``: ``(ref, detail)``, or ``None``."""
        if ref:
            row = self._db.execute(
                "SELECT ref, detail FROM effects WHERE kind = ? AND ref = ?", (kind, str(ref))
            ).fetchone()
        elif key:
            row = self._db.execute(
                "SELECT ref, detail FROM effects WHERE kind = ? AND idempotency_key = ?", (kind, str(key))
            ).fetchone()
        else:
            return None
        return (str(row[0]), json.loads(row[1])) if row is not None else None

    def _undone(self, kind: str, ref: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM effects WHERE kind = ? AND json_extract(detail, '$.undoes') = ?", (kind, ref)
        ).fetchone()
        return row is not None

    # A refund or release names what it undoes by its id (``charge_id``, ``reservation_id``) or, when
    # the caller never learnt the id (a lost reply), by the original call's idempotency key
    # (``charge_key``, ``reservation_key``). Undoing an effect that never happened, or one already
    # undone, applies nothing: so a saga may compensate every step whose outcome it does not know.
    def _refund(self, r: dict[str, Any]) -> tuple[int, dict[str, Any], str | None, dict[str, Any]]:
        charge = self._original("charge", r.get("charge_id"), r.get("charge_key"))
        if charge is None or self._undone("refund", charge[0]):
            return 200, {"amount_cents": 0, "refunded": False}, None, {}
        amount = min(int(r["amount_cents"]), int(charge[1]["amount_cents"]))
        detail = {"amount_cents": amount, "charge_id": charge[0], "undoes": charge[0]}
        return 200, {"amount_cents": amount, "refunded": True}, "refund", detail

    def _reserve(self, r: dict[str, Any]) -> tuple[int, dict[str, Any], str | None, dict[str, Any]]:
        sku, qty = str(r["sku"]), int(r["qty"])
        row = self._db.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
        if row is None:
            return 404, {"error": f"unknown sku {sku!r}"}, "reserve", {}
        if int(row[0]) < qty:
            return 409, {"error": f"out of stock: {sku} has {row[0]}, {qty} asked"}, "reserve", {}
        self._db.execute("UPDATE stock SET available = available - ? WHERE sku = ?", (qty, sku))
        return 200, {"sku": sku, "qty": qty}, "reserve", {"sku": sku, "qty": qty}

    def _release(self, r: dict[str, Any]) -> tuple[int, dict[str, Any], str | None, dict[str, Any]]:
        reservation = self._original("reserve", r.get("reservation_id"), r.get("reservation_key"))
        if reservation is None or self._undone("release", reservation[0]):
            return 200, {"released": False}, None, {}
        sku, qty = str(reservation[1]["sku"]), int(reservation[1]["qty"])
        self._db.execute("UPDATE stock SET available = available + ? WHERE sku = ?", (qty, sku))
        detail = {"sku": sku, "qty": qty, "reservation_id": reservation[0], "undoes": reservation[0]}
        return 200, {"released": True}, "release", detail

    def _email(self, r: dict[str, Any]) -> tuple[int, dict[str, Any], str | None, dict[str, Any]]:
        detail = {"to": str(r["to"]), "subject": str(r["subject"]), "body": str(r["body"])}
        return 200, {"to": detail["to"]}, "email", detail
