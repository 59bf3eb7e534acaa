"""StateStore(path=...): an SQLite-backed store whose accepted writes survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import Fault, FaultPlan, LostWrite
from harness import ConfigError, StaleFencingToken, StateStore, run_system
from harness.events import StateRead


def test_writes_and_the_highest_token_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = StateStore("orders", path=path)
    first.write("o-1", {"status": "paid"}, fencing_token=7)
    first.write("o-1", {"status": "shipped"}, fencing_token=8)
    first.close()

    again = StateStore("orders", path=path)  # a restarted process opens the same file
    assert again.read("o-1").value == {"status": "shipped"} and again.version("o-1") == 2
    assert again.highest_token == 8
    with pytest.raises(StaleFencingToken):
        again.write("o-1", {"status": "cancelled"}, fencing_token=7)
    again.close()


def test_a_restart_within_one_run_reads_what_survived(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    def system() -> object:
        before = StateStore("kv", path=path)
        before.write("step", "charged")
        before.close()  # the process dies here; what it committed is on disk
        after = StateStore("kv", path=path)
        return after.read("step").value

    run = run_system(system)
    assert run.output == "charged"
    assert run.log.of(StateRead)[0].version == 1


def test_a_lost_write_never_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    def system() -> None:
        store = StateStore("kv", path=path)
        store.write("a", 1)
        store.write("a", 2)  # acknowledged, lost
        store.close()

    plan = FaultPlan(faults=[Fault(site="state", target="kv", call=2, effect=LostWrite())])
    run_system(system, hooks=plan.hooks())
    reopened = StateStore("kv", path=path)
    assert reopened.read("a").value == 1 and reopened.version("a") == 1
    reopened.close()


def test_a_durable_store_holds_json_only(tmp_path: Path) -> None:
    store = StateStore("kv", path=tmp_path / "state.db")
    with pytest.raises(ConfigError, match="is not JSON"):
        store.write("a", object())
    assert store.version("a") == 0
    store.close()
    with pytest.raises(ConfigError, match="cannot open the SQLite file"):
        StateStore("kv", path=tmp_path / "missing" / "state.db")
