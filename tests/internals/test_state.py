"""harness.StateStore: versions, compare-and-set, fencing tokens, state faults."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from faults import Corrupt, Fault, FaultPlan, LostWrite, StaleRead
from harness import ConfigError, StaleFencingToken, StateStore, Versioned, agent, run_system
from harness._log._events import FaultInjected, StateRead, StateWrite


def hooks(effect: Any, call: int = 1) -> Any:
    return FaultPlan(faults=(Fault(site="state", target="db", call=call, effect=effect),)).hooks()


def test_versions_and_compare_and_set() -> None:
    store = StateStore("db")
    assert store.read("k") == Versioned(None, 0)
    assert store.write("k", {"n": 1}) == Versioned({"n": 1}, 1)
    assert store.compare_and_set("k", 1, {"n": 2}) is True
    assert store.compare_and_set("k", 1, {"n": 3}) is False  # someone else wrote version 2
    assert store.read("k") == Versioned({"n": 2}, 2)
    assert store.compare_and_set("new", 0, "x") is True  # 0: must not exist yet


def test_values_are_copied_in_and_out() -> None:
    store = StateStore("db")
    value = {"items": [1]}
    store.write("k", value)
    value["items"].append(2)
    read = store.read("k").value
    read["items"].append(3)
    assert store.read("k").value == {"items": [1]}


def test_reads_and_writes_are_recorded() -> None:
    def system() -> None:
        store = StateStore("db")
        with agent("w"):
            v = store.read("balance")
            store.write("balance", 10, based_on_version=v.version, fencing_token=3)
            store.compare_and_set("balance", 0, 20)

    run = run_system(system)
    (read,) = run.log.of(StateRead)
    assert (read.store, read.key, read.version, read.value, read.agent) == ("db", "balance", 0, None, "w")
    write, cas = run.log.of(StateWrite)
    assert (write.op, write.based_on_version, write.current_version, write.new_version) == ("write", 0, 0, 1)
    assert write.fencing_token == 3 and write.accepted
    assert (cas.op, cas.expected_version, cas.current_version, cas.accepted, cas.new_version) == (
        "cas",
        0,
        1,
        False,
        None,
    )


def test_lost_update_race_is_visible_in_the_log() -> None:
    async def system() -> int:
        store = StateStore("db")
        store.write("counter", 0)

        async def increment(name: str) -> None:
            async with agent(name):
                current = await store.aread("counter")
                await store.awrite("counter", current.value + 1, based_on_version=current.version)

        await asyncio.gather(increment("a"), increment("b"))
        return int(store.read("counter").value)

    run = run_system(system)
    assert run.output == 1  # both read version 1: one increment is lost
    writes = [w for w in run.log.of(StateWrite) if w.agent in ("a", "b")]
    assert sorted((w.based_on_version, w.current_version) for w in writes) == [(1, 1), (1, 2)]


def test_stale_fencing_token_rejected_when_enforced_recorded_when_naive() -> None:
    enforced = StateStore("locks")
    enforced.write("leader", "old", fencing_token=5)
    with pytest.raises(StaleFencingToken, match="already accepted token 5") as info:
        enforced.write("leader", "zombie", fencing_token=4)
    assert (info.value.token, info.value.highest) == (4, 5)
    assert enforced.read("leader") == Versioned("old", 1)

    def system() -> None:
        naive = StateStore("db", fencing="naive")
        naive.write("x", 1, fencing_token=7)
        naive.write("x", 2, fencing_token=6)

    run = run_system(system)
    stale = run.log.of(StateWrite)[-1]
    assert stale.fencing_token == 6 and stale.accepted is True  # what the stale_fencing_token checker reads

    def enforced_system() -> None:
        store = StateStore("db")
        store.write("x", 1, fencing_token=7)
        store.compare_and_set("x", 1, 2, fencing_token=6)

    run = run_system(enforced_system)
    assert isinstance(run.error, StaleFencingToken)
    assert run.log.of(StateWrite)[-1].accepted is False


def test_stale_read_returns_the_previous_version() -> None:
    def system() -> Any:
        store = StateStore("db")
        store.write("k", "v1")
        store.write("k", "v2")
        return store.read("k")

    run = run_system(system, hooks=hooks(StaleRead()))
    assert run.output == Versioned("v1", 1)
    read = run.log.of(StateRead)[0]
    assert read.stale is True and read.version == 1
    assert run.log.of(FaultInjected)[0].seq < read.seq


def test_lost_write_is_acknowledged_but_never_stored() -> None:
    def system() -> Any:
        store = StateStore("db")
        ack = store.write("k", "v1")
        return ack, store.read("k")

    run = run_system(system, hooks=hooks(LostWrite()))
    ack, after = run.output
    assert ack == Versioned("v1", 1)
    assert after == Versioned(None, 0)
    assert run.log.of(StateWrite)[0].lost is True


def test_corrupt_stores_a_visibly_wrong_value() -> None:
    def system() -> Any:
        store = StateStore("db")
        store.write("a", "abcdef")
        store.write("b", {"amount": 100, "currency": "EUR"})
        return store.read("a").value, store.read("b").value

    run = run_system(system, hooks=hooks(Corrupt(), call=2))
    a, b = run.output
    assert a == "abcdef"
    assert b["currency"] == "EUR" and b["amount"] != 100


def test_state_faults_count_reads_and_writes_separately() -> None:
    def system() -> Any:
        store = StateStore("db")
        store.write("k", 1)
        store.read("k")
        store.write("k", 2)  # write #2: lost
        return store.read("k").value  # read #2

    plan = FaultPlan(faults=(Fault(site="state", target="db", call=2, effect=LostWrite()),))
    assert run_system(system, hooks=plan.hooks()).output == 1


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="fencing='maybe'"):
        StateStore("db", fencing="maybe")  # type: ignore[arg-type]
    store = StateStore("db")
    with pytest.raises(ConfigError, match="keys must be strings"):
        store.read(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="expected_version"):
        store.compare_and_set("k", -1, "x")
    with pytest.raises(ConfigError, match="fencing token must be an int"):
        store.write("k", 1, fencing_token="7")  # type: ignore[arg-type]
