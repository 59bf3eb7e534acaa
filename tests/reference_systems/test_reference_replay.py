"""Every reference run replays offline from its committed cassette, and two replays are identical.

Nothing listens at the recorded endpoint and the cassettes are strict, so a request that was not
recorded, or any attempt to reach a model, fails the run.
"""

from __future__ import annotations

import pytest

from harness import CassetteMiss, run_system
from harness._cli._record_reference import comparable
from scenarios import REFERENCE_RUNS, ReferenceRun, cassette_dir, checkout, run_reference
from scenarios import find_reference as find
from scenarios._shop import ShopService

ENDS_AT_DEADLINE = {"negotiation_naive_lost_offer"}
NO_MODEL_CALLS = {"negotiation_naive_lost_offer"}  # deadlocks before anyone asks the model: no cassette


@pytest.mark.parametrize("ref", REFERENCE_RUNS, ids=lambda r: r.name)
def test_reference_run_replays_offline_and_identically(ref: ReferenceRun) -> None:
    if ref.name not in NO_MODEL_CALLS:
        assert ref.cassette_path().is_file(), (
            f"no cassette: run `brownout record-reference --only {ref.name}`"
        )
    first = run_reference(ref)
    second = run_reference(ref)
    assert first.error is None or ref.name in ENDS_AT_DEADLINE, repr(first.error)
    assert first.status == ("cancelled" if ref.name in ENDS_AT_DEADLINE else "ok")
    llm_calls = [e for e in first.log if e.kind == "llm_call"]
    assert bool(llm_calls) is (ref.name not in NO_MODEL_CALLS)
    assert {e.source for e in llm_calls} <= {"replayed", "injected"}  # injected: the fault plan's
    assert first.run_id != second.run_id
    assert comparable(first.log) == comparable(second.log)
    assert first.output == second.output


def test_every_committed_cassette_belongs_to_a_reference_run() -> None:
    names = {ref.name for ref in REFERENCE_RUNS}
    stray = sorted(p.stem for p in cassette_dir().glob("*.json") if p.stem not in names)
    assert stray == []


def test_a_request_that_was_not_recorded_is_a_miss_not_a_network_call() -> None:
    from harness.cassettes import Cassette

    ref = find("checkout_naive")
    other_order = checkout.Order(
        order_id="ord-2002", email="bo@example.com", items=[checkout.LineItem(sku="MS-7", qty=1)]
    )
    cassette = Cassette(ref.cassette_path(), record_command="brownout record-reference")
    with ShopService() as shop, pytest.raises(CassetteMiss, match="brownout record-reference") as info:
        run_system(checkout.run, (other_order,), {"shop": shop, "variant": "naive"}, cassette=cassette)
    cassette.close()
    assert str(ref.cassette_path()) in str(info.value)
    assert "notifier" in str(info.value)
