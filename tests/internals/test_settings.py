"""Settings resolution: precedence, validation messages, profiles."""

from __future__ import annotations

import pytest

from harness import ConfigError, load_profile, register_profile
from harness._pytest._settings import resolve_settings


def test_precedence_cli_over_marker_over_ini() -> None:
    s = resolve_settings(
        cli={"examples": 7, "record_mode": None},
        marker_kwargs={"examples": 3, "record_mode": "once", "max_faults": 2},
        ini={"report_dir": "r"},
    )
    assert (s.examples, s.record_mode, s.max_faults, s.report_dir) == (7, "once", 2, "r")


def test_chaos_defaults_miss_to_nearest_unless_given() -> None:
    assert resolve_settings(cli={"chaos": True}).miss == "nearest"
    assert resolve_settings(cli={"chaos": True}, marker_kwargs={"miss": "strict"}).miss == "strict"
    assert resolve_settings(cli={}).miss == "strict"


def test_marker_lists_and_strings() -> None:
    s = resolve_settings(cli={}, marker_kwargs={"faults": "tool", "checks": ["liveness"]})
    assert s.faults == ("tool",) and s.checks == ("liveness",)


def test_errors_name_value_rule_and_fix() -> None:
    with pytest.raises(ConfigError, match=r"examples=0 must be an int of at least 1.*--chaos-plan"):
        resolve_settings(cli={"examples": 0})
    with pytest.raises(ConfigError, match="positional arguments"):
        resolve_settings(cli={}, marker_args=("tool",))
    with pytest.raises(ConfigError, match="deadline=-1"):
        resolve_settings(cli={}, marker_kwargs={"deadline": -1})


def test_profiles() -> None:
    register_profile("ci", examples=500)
    try:
        load_profile("ci")
        assert resolve_settings(cli={}).examples == 500
    finally:
        load_profile("default")
    with pytest.raises(ConfigError, match="unknown profile"):
        load_profile("nope")
