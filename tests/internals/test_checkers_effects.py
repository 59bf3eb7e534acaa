"""duplicate_side_effects and saga_compensation on hand-built run logs."""

from __future__ import annotations

from _support.checker_logs import LogBuilder

from harness._checkers._side_effects import duplicate_side_effects, reports_failure, saga_compensation
from harness.events import DeadLetter, Escalation

EMAIL = {"to": "ada@example.com", "subject": "receipt"}


# -- duplicate_side_effects ------------------------------------------------------------------
def test_retried_side_effect_without_key_is_a_duplicate() -> None:
    b = LogBuilder()
    b.start("notifier")
    first = b.tool("send_email", EMAIL, side_effect=True, status="timeout")
    second = b.tool("send_email", EMAIL, side_effect=True, attempt=2)
    b.end()
    b.run_end()
    [v] = duplicate_side_effects(b.log)
    assert v.checker == "duplicate_side_effects"
    assert v.severity == "critical"
    assert v.steps == [first.seq, second.seq]
    assert v.message.startswith(f"Let step {first.seq} (tool_call send_email(")
    assert "agent notifier, attempt 1" in v.message
    assert "no idempotency key" in v.message
    assert "happened 2 times" in v.message
    assert "idempotency key" in v.why


def test_same_idempotency_key_is_deduplicated() -> None:
    b = LogBuilder()
    b.tool("send_email", EMAIL, side_effect=True, key="order-1", status="lost_ack")
    b.tool("send_email", EMAIL, side_effect=True, key="order-1", attempt=2)
    b.run_end()
    assert duplicate_side_effects(b.log) == []


def test_fresh_key_per_retry_defeats_idempotency() -> None:
    b = LogBuilder()
    b.tool("charge", {"amount": 10}, side_effect=True, key="k1", status="timeout")
    b.tool("charge", {"amount": 10}, side_effect=True, key="k2", attempt=2)
    b.run_end()
    [v] = duplicate_side_effects(b.log)
    assert "different idempotency keys ('k1', 'k2')" in v.message


def test_only_some_calls_keyed_is_a_duplicate() -> None:
    b = LogBuilder()
    b.tool("charge", {"amount": 10}, side_effect=True, key="k1")
    b.tool("charge", {"amount": 10}, side_effect=True, attempt=2)
    b.run_end()
    [v] = duplicate_side_effects(b.log)
    assert "only some calls carry an idempotency key" in v.message


def test_calls_that_did_not_take_effect_are_not_duplicates() -> None:
    b = LogBuilder()
    b.tool("send_email", EMAIL, side_effect=True, status="error")  # the tool raised: no effect
    b.tool("send_email", EMAIL, side_effect=True, attempt=2, executed=False, status="timeout")  # never ran
    b.tool("send_email", EMAIL, side_effect=True, attempt=3, replayed=True, executed=False)  # replayed
    b.tool("send_email", EMAIL, side_effect=True, attempt=4)
    b.tool("lookup", {"q": 1})
    b.tool("lookup", {"q": 1}, attempt=2)  # no side effect: repeat freely
    b.tool("send_email", {"to": "bob@example.com", "subject": "receipt"}, side_effect=True)  # other intent
    b.run_end()
    assert duplicate_side_effects(b.log) == []


# -- saga_compensation -----------------------------------------------------------------------
def _reserve(b: LogBuilder, sku: str = "A1") -> object:
    return b.tool(
        "reserve_inventory",
        {"sku": sku, "qty": 1},
        side_effect=True,
        compensate="cancel_reservation",
        result={"reservation_id": f"r-{sku}"},
    )


def test_failed_run_with_uncompensated_effect() -> None:
    b = LogBuilder()
    b.start("orchestrator")
    reserve = _reserve(b)
    b.tool("charge_card", {"amount": 5}, status="error")
    b.end("error", error_type="PaymentDeclined")
    end = b.run_end("error", error_type="PaymentDeclined", error="declined")
    [v] = saga_compensation(b.log)
    assert v.severity == "critical"
    assert v.steps == [reserve.seq, end.seq]  # type: ignore[attr-defined]
    assert "no cancel_reservation ran after step" in v.message
    assert "ended error (PaymentDeclined)" in v.message


def test_output_reporting_failure_counts_as_a_failed_run() -> None:
    b = LogBuilder()
    _reserve(b)
    b.run_end("ok", output={"status": "failed", "reason": "card declined"})
    [v] = saga_compensation(b.log)
    assert "reported failure in its output" in v.message


def test_compensated_effects_in_reverse_order_are_clean() -> None:
    b = LogBuilder()
    _reserve(b, "A1")
    _reserve(b, "B2")
    b.tool(
        "cancel_reservation", {"reservation_id": "r-B2"}, side_effect=True, compensates="reserve_inventory"
    )
    b.compensation("cancel_reservation", "reserve_inventory")
    b.tool(
        "cancel_reservation", {"reservation_id": "r-A1"}, side_effect=True, compensates="reserve_inventory"
    )
    b.compensation("cancel_reservation", "reserve_inventory")
    b.run_end("ok", output={"status": "rolled_back"})
    assert saga_compensation(b.log) == []


def test_compensations_out_of_reverse_order() -> None:
    b = LogBuilder()
    a = _reserve(b, "A1")
    c = _reserve(b, "B2")
    undo_a = b.tool("cancel_reservation", {"reservation_id": "r-A1"}, compensates="reserve_inventory")
    undo_b = b.tool("cancel_reservation", {"reservation_id": "r-B2"}, compensates="reserve_inventory")
    b.run_end("error", error_type="PaymentDeclined")
    [v] = saga_compensation(b.log)
    assert v.severity == "major"
    assert v.steps == [a.seq, c.seq, undo_a.seq, undo_b.seq]  # type: ignore[attr-defined]
    assert "out of reverse order" in v.message


def test_successful_run_needs_no_compensation() -> None:
    b = LogBuilder()
    _reserve(b)
    b.run_end("ok", output={"status": "paid"})
    assert saga_compensation(b.log) == []


def test_failed_compensation_does_not_count_and_lost_ack_effect_does() -> None:
    b = LogBuilder()
    effect = b.tool(
        "reserve_inventory",
        {"sku": "A1"},
        side_effect=True,
        compensate="cancel_reservation",
        status="lost_ack",
    )
    b.tool("cancel_reservation", {"sku": "A1"}, compensates="reserve_inventory", status="error")
    b.run_end("cancelled")
    [v] = saga_compensation(b.log)
    assert v.steps[0] == effect.seq
    assert "reply was lost, but it took effect" in v.message


def test_repeated_keyed_effect_needs_one_compensation() -> None:
    b = LogBuilder()
    b.tool("reserve_inventory", {"sku": "A1"}, side_effect=True, compensate="cancel_reservation", key="o1")
    b.tool(
        "reserve_inventory",
        {"sku": "A1"},
        side_effect=True,
        compensate="cancel_reservation",
        key="o1",
        attempt=2,
    )
    b.tool("cancel_reservation", {"sku": "A1"}, compensates="reserve_inventory")
    b.run_end("error")
    assert saga_compensation(b.log) == []


def test_standalone_compensation_event_discharges_by_step() -> None:
    b = LogBuilder()
    first = _reserve(b, "A1")
    _reserve(b, "B2")
    b.compensation("manual_undo", "reserve_inventory", for_step=first.step_id)  # type: ignore[attr-defined]
    b.run_end("error")
    [v] = saga_compensation(b.log)
    assert '"sku": "B2"' in v.message


def test_reports_failure_rule() -> None:
    assert reports_failure({"status": "rolled_back"})
    assert reports_failure({"ok": False})
    assert not reports_failure({"status": "paid"})
    assert not reports_failure("failed")  # free text is not a status


def _failed_cancel(b: LogBuilder) -> object:
    return b.tool(
        "cancel_reservation",
        {"reservation_id": "r-A1"},
        status="error",
        side_effect=True,
        compensates="reserve_inventory",
    )


def test_a_failed_compensation_left_alone_is_a_violation() -> None:
    b = LogBuilder()
    _reserve(b)
    _failed_cancel(b)
    b.run_end("ok", output={"status": "failed"})
    [v] = saga_compensation(b.log)
    assert v.checker == "saga_compensation" and v.severity == "critical"


def test_a_failed_compensation_parked_in_a_dead_letter_is_handled() -> None:
    b = LogBuilder()
    _reserve(b)
    failed = _failed_cancel(b)
    b.add(DeadLetter, tool="cancel_reservation", args={"reservation_id": "r-A1"}, for_step=failed.step_id)  # type: ignore[attr-defined]
    b.run_end("ok", output={"status": "failed"})
    assert saga_compensation(b.log) == []


def test_a_failed_compensation_escalated_by_step_is_handled() -> None:
    b = LogBuilder()
    _reserve(b, "A1")
    _reserve(b, "B2")
    failed = _failed_cancel(b)
    b.add(Escalation, reason="refund failed; manual action", for_step=failed.step_id)  # type: ignore[attr-defined]
    b.run_end("ok", output={"status": "failed"})
    [v] = saga_compensation(b.log)  # only the B2 reservation is left: A1's compensation was escalated
    assert "r-B2" in v.message or "B2" in v.message
