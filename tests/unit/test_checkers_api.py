"""The declaration helpers, the registry and the CLI, on runs made by the real runner and instrumentation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import ConfigError, run_checks
from harness.checkers import get_checkers
from harness.cli import main as cli
from harness.events import DeadLetter, Escalation, Postcondition

TWELVE = [
    "duplicate_side_effects",
    "saga_compensation",
    "silent_partial_failure",
    "liveness",
    "lost_update",
    "stale_fencing_token",
    "handoff_contract",
    "goal_drift",
    "context_budget",
    "orphaned_work",
    "tool_error_as_result",
    "phantom_completion",
]
# Default too, after the opt-in ones: they say something only about a run that crashed and restarted.
RESTART = ["redone_side_effect", "resume_parity"]
# Opt-in: it cannot tell a call recovered with a correct fallback value from a swallowed one.
OPT_IN = ["unhandled_tool_failure"]


class Flaky(Exception):
    pass


@harness.tool("fetch_page")
def fetch_page(url: str, api_key: str = "") -> str:
    raise Flaky(f"{url} is down")


@harness.tool("notify", side_effect=True)
def notify(user: str, *, idempotency_key: str | None = None) -> str:
    return "sent"


def names(violations: list[harness.Violation]) -> list[str]:
    return [v.checker for v in violations]


# -- registry --------------------------------------------------------------------------------
def test_the_twelve_checkers_are_registered_by_default_in_order() -> None:
    assert [c.name for c in get_checkers("default")][:12] == TWELVE
    assert [c.name for c in get_checkers("default")][12:] == RESTART
    assert {c.name for c in get_checkers("all")} >= set(TWELVE) | set(OPT_IN)
    assert not {c.name for c in get_checkers("default")} & set(OPT_IN)
    assert all(c.summary and not c.summary.startswith(c.name) for c in get_checkers("all"))


def test_unknown_checker_names_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown checker\(s\) no_such.*brownout checkers"):
        get_checkers(["liveness", "no_such"])


def test_every_checker_is_clean_on_an_uneventful_run() -> None:
    def system() -> str:
        with harness.agent("solo"):
            return "fine"

    run = harness.run_system(system)
    assert run_checks(run.log, "all", output=run.output) == []


# -- helpers in real runs ----------------------------------------------------------------------
def _fetch(park: bool) -> Any:
    def system() -> str:
        with harness.agent("researcher"):
            try:
                return fetch_page("https://example.com", api_key="sk-abcdefghijklmnopqrstuvwx")
            except Flaky as exc:
                if park:
                    harness.dead_letter(fetch_page, error=exc)
                return "no page"

    return harness.run_system(system)


def test_swallowed_failure_is_caught_and_dead_letter_handles_it() -> None:
    swallowed = _fetch(park=False)
    # Opt-in: by default a caught error that the code replaced with a value is not a finding,
    # since the checker cannot tell "no page" here from a correct documented fallback.
    assert run_checks(swallowed.log) == []
    assert names(run_checks(swallowed.log, "all")) == ["unhandled_tool_failure"]
    parked = _fetch(park=True)
    assert run_checks(parked.log, "all") == []
    [letter] = parked.log.of(DeadLetter)
    [call] = [e for e in parked.log if e.kind == "tool_call"]
    assert letter.for_step == call.step_id
    assert letter.agent == "researcher"
    assert letter.args["url"] == "https://example.com"
    assert "sk-abc" not in json.dumps(letter.args)  # secrets scrubbed
    assert letter.error == "Flaky: https://example.com is down"


def test_escalate_records_the_reason_and_covers_the_scope() -> None:
    def system() -> str:
        with harness.agent("researcher"):
            try:
                fetch_page("https://example.com")
            except Flaky as exc:
                harness.escalate(exc)
            return "asked a human"

    run = harness.run_system(system)
    [escalation] = run.log.of(Escalation)
    assert escalation.reason == "Flaky: https://example.com is down"
    assert run_checks(run.log) == []


def test_retry_storm_without_idempotency_key_is_a_duplicate() -> None:
    def system(key: str | None) -> None:
        with harness.agent("notifier"):
            notify("ada", idempotency_key=key)
            notify("ada", idempotency_key=key)  # the "retry" after a lost reply

    assert names(run_checks(harness.run_system(system, ("k-1",)).log)) == []
    [violation] = run_checks(harness.run_system(system, (None,)).log)
    assert violation.checker == "duplicate_side_effects"
    assert "notify" in violation.message


def test_postcondition_predicates_and_phantom_completion() -> None:
    def system(total: int) -> dict[str, int]:
        with harness.agent("accountant"):
            result = {"total": total}
            assert harness.postcondition("total is 100", lambda r: r["total"] == 100, value=result) is (
                total == 100
            )
            assert harness.postcondition("raises", lambda r: r["missing"], value=result) is False
            assert harness.postcondition("undecided", lambda r: None, value=result) is None
            return result

    run = harness.run_system(system, (90,))
    posts = run.log.of(Postcondition)
    assert [(p.name, p.holds, p.agent) for p in posts] == [
        ("total is 100", False, "accountant"),
        ("raises", False, "accountant"),
        ("undecided", None, "accountant"),
    ]
    assert "KeyError" in (posts[1].detail or "")
    assert names(run_checks(run.log)) == ["phantom_completion", "phantom_completion"]


def test_postcondition_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="holds must be True, False, None or a predicate"):
        harness.postcondition("x", "yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="non-empty string"):
        harness.postcondition("", True)


def test_redundant_votes_sync_and_async() -> None:
    answers = iter(["Paris", "Paris", "Lyon"])

    def ask() -> str:
        return next(answers)

    def system() -> str:
        with harness.agent("geographer"):
            return str(harness.redundant(ask, k=3, name="capital"))

    run = harness.run_system(system)
    assert run.output == "Paris"
    [post] = run.log.of(Postcondition)
    assert (post.name, post.holds) == ("agreement:capital", True)
    assert "got 2 of 3 votes" in (post.detail or "")

    async def split(i: int) -> int:
        await asyncio.sleep(1)
        return i

    counter = iter(range(10))

    async def pick() -> int:
        return await split(next(counter))

    async def asystem2() -> int:
        async with harness.agent("counter"):
            return int(await harness.redundant(pick, k=2, require="unanimous", name="pick"))

    run2 = harness.run_system(asystem2)
    [post2] = run2.log.of(Postcondition)
    assert (post2.name, post2.holds) == ("agreement:pick", False)
    assert names(run_checks(run2.log)) == ["phantom_completion"]


def test_redundant_validates_k_and_require() -> None:
    with pytest.raises(ConfigError, match="k must be an int of at least 2"):
        harness.redundant(lambda: 1, k=1)
    with pytest.raises(ConfigError, match="'majority' and 'unanimous'"):
        harness.redundant(lambda: 1, require="most")  # type: ignore[arg-type]


def test_constraint_and_handoff_drive_goal_drift() -> None:
    def system(carry: bool) -> str:
        limit = harness.constraint("max_budget_usd", 10000)
        with harness.agent("planner"):
            harness.handoff("researcher", {"topic": "venues", **({"max_budget_usd": limit} if carry else {})})
        return f"Castle, within the ${limit:,} budget" if carry else "Castle"

    assert run_checks(harness.run_system(system, (True,)).log) == []
    [violation] = run_checks(harness.run_system(system, (False,)).log)
    assert violation.checker == "goal_drift"


def test_constraint_rejects_empty_values() -> None:
    with pytest.raises(ConfigError, match="an empty value cannot be looked for"):
        harness.constraint("region", "")


def test_orphaned_spawn_found_in_a_real_async_run() -> None:
    async def straggler() -> None:
        async with harness.agent("straggler"):
            await asyncio.sleep(100)

    async def system() -> str:
        async with harness.agent("orchestrator"):
            harness.spawn(straggler(), name="straggler")
            await asyncio.sleep(1)
            return "done early"

    run = harness.run_system(system)
    assert set(names(run_checks(run.log))) == {"orphaned_work"}


def test_helpers_are_no_ops_outside_a_run() -> None:
    harness.dead_letter("fetch_page", {"url": "u"}, "down")
    harness.escalate("help")
    assert harness.postcondition("p", True) is True
    assert harness.constraint("c", 1) == 1
    assert harness.redundant(lambda: 2, k=2) == 2


# -- CLI -------------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, run: harness.Run) -> Path:
    return run.log.write(tmp_path / name)


def test_brownout_check_exit_codes_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.jsonl", _fetch(park=False))
    good = _write(tmp_path, "good.jsonl", _fetch(park=True))
    assert cli(["check", str(good)]) == 0
    assert "ok (14 checkers, no violations)" in capsys.readouterr().out
    assert cli(["check", str(bad)]) == 0  # the default set accepts a caught error replaced by a value
    capsys.readouterr()
    assert cli(["check", "--checks", "all", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "1 violation(s)" in out and "[unhandled_tool_failure, major] (steps" in out
    assert cli(["check", "--checks", "all", str(tmp_path)]) == 1
    assert "2 run logs checked, 1 with violations (1 in all)." in capsys.readouterr().out
    assert cli(["check", "--checks", "liveness,orphaned_work", str(bad)]) == 0
    capsys.readouterr()
    assert cli(["check", "--checks", "all", "--format", "json", str(bad)]) == 1
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["violations"][0]["checker"] == "unhandled_tool_failure"


def test_brownout_check_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such run log file or directory" in capsys.readouterr().err
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"format": "something-else"}\n')
    assert cli(["check", str(junk)]) == 2
    assert "is not a brownout run log" in capsys.readouterr().err
    good = _write(tmp_path, "good.jsonl", _fetch(park=True))
    assert cli(["check", "--checks", "nope", str(good)]) == 2
    assert "unknown checker(s) nope" in capsys.readouterr().err
    assert cli(["check", "--import", "no_such_module_xyz", str(good)]) == 2
    assert "cannot import it" in capsys.readouterr().err


def test_brownout_checkers_lists_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["checkers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in lines]
    assert [name for name in listed if name not in OPT_IN][:12] == TWELVE
    assert "unhandled_tool_failure" in listed
    assert all(len(line.split(None, 2)) == 3 for line in lines)
    assert cli(["checkers", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "name": "duplicate_side_effects",
        "default": True,
        "summary": get_checkers(["duplicate_side_effects"])[0].summary,
    }
