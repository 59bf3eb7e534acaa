"""LangGraph with its SQLite checkpointer, crashed and restarted the way a LangGraph user recovers.

``start`` invokes the graph with its input on a thread; ``resume`` invokes it again with
``None`` on the same thread, and LangGraph continues from the last checkpoint its
``SqliteSaver`` committed (a file in the run's directory, which survives the crash). A node
whose tool took effect before the crash is run again by the restarted graph: without an
idempotency key that is ``redone_side_effect``; with a key derived from the order it is
deduplicated and the run matches the uninterrupted one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, TypedDict

import pytest

pytest.importorskip("langgraph", reason="LangGraph is not installed: pip install 'brownout[langgraph]'")
pytest.importorskip(
    "langgraph.checkpoint.sqlite",
    reason="the LangGraph SQLite checkpointer is not installed: pip install 'brownout[langgraph]'",
)

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

import faults
from harness import run_checks, run_dir, run_system, tool
from harness.events import ToolCall


def _ledger() -> sqlite3.Connection:
    """The payment service: a file in the run's directory (the world outlives the crashed process)."""
    db = sqlite3.connect(Path(run_dir()) / "ledger.db", isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS charges (id INTEGER PRIMARY KEY, key TEXT, order_id TEXT)")
    return db


@tool("charge", side_effect=True)
def charge(order_id: str, amount: int, *, idempotency_key: str | None = None) -> str:
    db = _ledger()
    try:
        if idempotency_key is not None:
            row = db.execute("SELECT id FROM charges WHERE key = ?", (idempotency_key,)).fetchone()
            if row:
                return f"ch-{row[0]}"
        cursor = db.execute("INSERT INTO charges (key, order_id) VALUES (?, ?)", (idempotency_key, order_id))
        return f"ch-{cursor.lastrowid}"
    finally:
        db.close()


@tool("send_receipt", side_effect=True)
def send_receipt(order_id: str, charge_id: str, *, idempotency_key: str | None = None) -> str:
    return f"receipt-{order_id}-{charge_id}"


class Order(TypedDict, total=False):
    order_id: str
    keyed: bool
    charge_id: str
    receipt_id: str


def _charge(state: Order) -> Order:
    key = f"{state['order_id']}/charge" if state["keyed"] else None
    return {"charge_id": charge(state["order_id"], 4000, idempotency_key=key)}


def _receipt(state: Order) -> Order:
    key = f"{state['order_id']}/receipt" if state["keyed"] else None
    return {"receipt_id": send_receipt(state["order_id"], state["charge_id"], idempotency_key=key)}


def _graph() -> Any:
    graph = StateGraph(Order)
    graph.add_node("charge", _charge)
    graph.add_node("receipt", _receipt)
    graph.add_edge(START, "charge")
    graph.add_edge("charge", "receipt")
    graph.add_edge("receipt", END)
    connection = sqlite3.connect(Path(run_dir()) / "checkpoints.db", check_same_thread=False)
    return graph.compile(checkpointer=SqliteSaver(connection))


def start(keyed: bool, thread: str) -> Any:
    return _graph().invoke({"order_id": "o-9", "keyed": keyed}, {"configurable": {"thread_id": thread}})


def resume(keyed: bool, thread: str) -> Any:
    # What a LangGraph user writes to recover: the same thread, no new input.
    return _graph().invoke(None, {"configurable": {"thread_id": thread}})


CRASH = faults.FaultPlan.model_validate(
    {"faults": [{"site": "tool", "target": "charge", "call": 1, "effect": {"kind": "crash_after_effect"}}]}
)


@pytest.mark.parametrize("keyed", [False, True], ids=["no key", "content key"])
def test_the_sqlite_checkpointer_resumes_the_graph_after_a_crash(keyed: bool) -> None:
    baseline = run_system(start, (keyed, "order-9"))
    run = run_system(start, (keyed, "order-9"), hooks=CRASH.hooks(), resume=resume)

    assert run.restarts == 1 and run.status == "ok"
    assert run.output["receipt_id"].startswith("receipt-o-9-")  # the graph finished after the restart
    charges = [c for c in run.log.of(ToolCall) if c.name == "charge"]
    assert [(c.incarnation, c.status) for c in charges] == [(0, "killed"), (1, "ok")]
    found = {v.checker for v in run_checks(run.log, output=run.output, baseline=baseline.log)}
    if keyed:
        assert found == set()
        assert run.output == baseline.output  # the redo was deduplicated: the same charge
    else:
        assert {"redone_side_effect", "resume_parity"} <= found


def test_without_resume_the_crash_ends_the_run() -> None:
    run = run_system(start, (True, "order-9"), hooks=CRASH.hooks())
    assert run.status == "killed" and run.restarts == 0
    assert type(run.error).__name__ == "ProcessCrashed"


def _crash_after_checkpoint(write: int) -> faults.FaultPlan:
    return faults.FaultPlan.model_validate(
        {
            "faults": [
                {
                    "site": "state",
                    "target": "checkpointer",
                    "call": write,
                    "effect": {"kind": "crash_after_checkpoint"},
                }
            ]
        }
    )


@pytest.mark.parametrize("keyed", [False, True], ids=["no key", "content key"])
def test_a_crash_after_a_checkpoint_is_saved_resumes_past_the_step_it_recorded(keyed: bool) -> None:
    # Checkpoint writes: #1 the input, #2 before 'charge' runs, #3 after it. A crash right after
    # #3 is durable: the restarted graph continues at 'receipt' and never charges again.
    baseline = run_system(start, (keyed, "order-9"))
    run = run_system(start, (keyed, "order-9"), hooks=_crash_after_checkpoint(3).hooks(), resume=resume)

    assert run.restarts == 1 and run.status == "ok"
    charges = [c for c in run.log.of(ToolCall) if c.name == "charge"]
    assert [(c.incarnation, c.status) for c in charges] == [(0, "ok")]
    assert run.output == baseline.output
    found = {v.checker for v in run_checks(run.log, output=run.output, baseline=baseline.log)}
    assert found == set()
