"""Crash and restart: a checkpoint written after its step, or one that claims a step before it ran.

A workflow reserves the stock and books the courier for an order, recording its progress in
a durable store (SQLite in the run's directory) so that a restarted system resumes where
it stopped. The careful system records a step as done after it took effect (with the
step's idempotency key, so a redo after a crash is deduplicated); the buggy twin records it
*before* running it: a crash right after that checkpoint makes the restarted system skip a
step that never happened, and the order ships without a courier.
"""

import json
import sqlite3
from pathlib import Path

from harness import StateStore, agent, run_dir, tool

SCHEMA = "CREATE TABLE IF NOT EXISTS effects (id INTEGER PRIMARY KEY, kind TEXT, key TEXT, detail TEXT)"
ORDER = "o-7"
STEPS = ("reserve_stock", "book_courier")


def _apply(kind, key, detail):
    db = sqlite3.connect(Path(run_dir()) / "world.db")
    try:
        db.execute(SCHEMA)
        if key is not None:
            row = db.execute("SELECT id FROM effects WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            if row:
                return f"{kind}-{row[0]}"
        cur = db.execute(
            "INSERT INTO effects (kind, key, detail) VALUES (?, ?, ?)", (kind, key, json.dumps(detail))
        )
        db.commit()
        return f"{kind}-{cur.lastrowid}"
    finally:
        db.close()


@tool("reserve_stock", side_effect=True, timeout=30)
def reserve_stock(order_id, *, idempotency_key=None):
    return _apply("reserve_stock", idempotency_key, {"order": order_id})


@tool("book_courier", side_effect=True, timeout=30)
def book_courier(order_id, *, idempotency_key=None):
    return _apply("book_courier", idempotency_key, {"order": order_id})


TOOLS = {"reserve_stock": reserve_stock, "book_courier": book_courier}


def _run_step(name):
    for attempt in range(3):
        try:
            TOOLS[name](ORDER, idempotency_key=f"{ORDER}/{name}")
            return True
        except Exception:
            if attempt == 2:
                return False
    return False


def _workflow(ahead):
    store = StateStore("progress", path=Path(run_dir()) / "checkpoints.db")
    try:
        with agent("orchestrator"):
            done = list(store.read("done").value or [])
            for name in STEPS:
                if name in done:
                    continue
                if ahead:  # "mark it done, then do it": the checkpoint claims a step before it ran
                    store.write("done", [*done, name])
                if not _run_step(name):
                    return {"order": ORDER, "status": "failed", "failed": [name]}
                done.append(name)
                if not ahead:
                    store.write("done", done)
            return {"order": ORDER, "status": "shipped", "steps": done}
    finally:
        store.close()


def correct():
    return _workflow(ahead=False)


def buggy():
    return _workflow(ahead=True)


resume_correct = correct
resume_buggy = buggy
