"""The plugin end to end through pytest itself: options, marker validation, failure messages."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SYSTEM = """
import asyncio
from harness import agent, tool

SENT = []

@tool(side_effect=True)
def send_email(to, *, idempotency_key=None):
    SENT.append(to)
    return "sent"

async def notify(users):
    async with agent("notifier"):
        for user in users:
            send_email(user)
            await asyncio.sleep(1)
    return len(users)
"""


def test_a_chaos_test_runs_its_system_and_sees_the_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(system=SYSTEM)
    pytester.makepyfile(
        test_it="""
        import system

        def test_notify(chaos):
            run = chaos.run(system.notify, ["a", "b"])
            assert run.output == 2
            from harness.events import ToolCall

            assert [e.name for e in run.log.of(ToolCall)] == ["send_email"] * 2
            assert run.log[-1].t == 2.0
            assert run.violations == []
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_invalid_marker_arguments_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.chaos(fualts=["tool"])
        def test_x(chaos):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown argument(s) fualts*Accepted*faults*"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (
            "record_mode='sometimes'",
            "*record_mode='sometimes' is not accepted. Accepted values: none, once, new_episodes, all*",
        ),
        ("miss='closest'", "*miss='closest' is not accepted. Accepted values: strict, nearest, live*"),
        ("max_faults=0", "*max_faults=0 must be an int of at least 1*"),
        ("checks='some'", "*checks='some' is not accepted*"),
    ],
)
def test_marker_values_are_validated(pytester: pytest.Pytester, marker: str, expected: str) -> None:
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        @pytest.mark.chaos({marker})
        def test_x(chaos):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines([expected])


def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_x(): pass")
    result = pytester.runpytest("--chaos-examples=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-examples=0 must be at least 1*"])
    result = pytester.runpytest("--chaos-record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'sometimes'*"])
    result = pytester.runpytest("--chaos-plan=no-such-file.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-plan='no-such-file.json': neither JSON*"])


def test_a_failing_test_prints_the_run_log_path_and_the_reproduce_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(system=SYSTEM)
    pytester.makepyfile(
        test_fail="""
        import system

        def test_notify(chaos):
            run = chaos.run(system.notify, ["a"])
            assert run.output == 2, "expected two notifications"
        """
    )
    result = pytester.runpytest("--chaos-report", "out")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*brownout*",
            "run log: *out*runs*test_fail.py_test_notify-0-*.jsonl",
            "reproduce: pytest test_fail.py::test_notify",
        ]
    )
    logs = list((pytester.path / "out" / "runs").glob("*.jsonl"))
    assert len(logs) == 1
    from harness import RunLog
    from harness.events import ToolCall

    assert RunLog.read(logs[0]).of(ToolCall)


def test_system_exceptions_reach_the_test_with_the_log_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_raise="""
        from harness import agent

        def broken():
            with agent("a"):
                raise KeyError("missing order")

        def test_broken(chaos):
            chaos.run(broken)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*KeyError: 'missing order'*", "run log: *reports*latest*runs*.jsonl"])


def test_the_live_tier_is_opt_in(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROWNOUT_LIVE", raising=False)
    pytester.makepyfile(
        test_live="""
        import pytest

        @pytest.mark.live
        def test_needs_server():
            pass
        """
    )
    pytester.runpytest().assert_outcomes(skipped=1)
    pytester.runpytest("--chaos-live").assert_outcomes(passed=1)
    monkeypatch.setenv("BROWNOUT_LIVE", "1")
    pytester.runpytest().assert_outcomes(passed=1)
