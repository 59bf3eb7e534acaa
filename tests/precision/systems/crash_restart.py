"""Crash and restart: a redone step carries the same idempotency key, or a second charge.

A checkpointed workflow charges an order and sends its receipt, checkpointing after each
step in a durable store (SQLite in the run's directory). After a crash the system is started
again and resumes from the checkpoint, redoing the step the crash interrupted. The careful
system derives each step's idempotency key from its content, so a redo of a step that had
already taken effect (a crash in the window between the effect and its checkpoint) is
deduplicated by the service; the buggy twin sends no key: the customer is charged twice.
Both retry a failed step (three attempts) and report an order they could not finish.
"""

import json
import sqlite3
from pathlib import Path

from harness import StateStore, agent, run_dir, tool

SCHEMA = "CREATE TABLE IF NOT EXISTS effects (id INTEGER PRIMARY KEY, kind TEXT, key TEXT, detail TEXT)"
ORDER = "o-1"


def _world():
    db = sqlite3.connect(Path(run_dir()) / "world.db")
    db.execute(SCHEMA)
    return db


def _apply(kind, key, detail):
    """The payment/mail service: a repeated idempotency key returns the first effect's id."""
    db = _world()
    try:
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


@tool("charge", side_effect=True, timeout=30)
def charge(order_id, amount, *, idempotency_key=None):
    return _apply("charge", idempotency_key, {"order": order_id, "amount": amount})


@tool("send_receipt", side_effect=True, timeout=30)
def send_receipt(order_id, charge_id, *, idempotency_key=None):
    return _apply("receipt", idempotency_key, {"order": order_id, "charge": charge_id})


def _attempt(step, keyed):
    for attempt in range(3):
        try:
            return step(f"{ORDER}/{step.__name__}" if keyed else None)
        except Exception:
            if attempt == 2:
                return None
    return None


def _workflow(keyed):
    store = StateStore("workflow", path=Path(run_dir()) / "checkpoints.db")
    try:
        with agent("orchestrator"):
            done = store.read("progress").value or {}
            if "charge" not in done:

                def do_charge(key):
                    return charge(ORDER, 4000, idempotency_key=key)

                do_charge.__name__ = "charge"
                charged = _attempt(do_charge, keyed)
                if charged is None:
                    return {"order": ORDER, "status": "failed", "failed": ["charge"]}
                done = {**done, "charge": charged}
                store.write("progress", done)
            if "receipt" not in done:

                def do_receipt(key):
                    return send_receipt(ORDER, done["charge"], idempotency_key=key)

                do_receipt.__name__ = "receipt"
                sent = _attempt(do_receipt, keyed)
                if sent is None:
                    failed = ["receipt"]
                    return {"order": ORDER, "status": "partial", "charge": done["charge"], "failed": failed}
                done = {**done, "receipt": sent}
                store.write("progress", done)
            return {"order": ORDER, "status": "done", "charge": done["charge"], "receipt": done["receipt"]}
    finally:
        store.close()


def correct():
    return _workflow(keyed=True)


def buggy():
    return _workflow(keyed=False)


# After a crash the system starts again from the top and resumes from its checkpoints.
resume_correct = correct
resume_buggy = buggy
