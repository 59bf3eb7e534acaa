"""The adapter registry: selection, and never importing a framework the program did not import."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import harness
from harness import ConfigError
from harness._adapters import SUPPORTED, activate, configure, enabled


def test_a_run_does_not_import_frameworks_the_program_did_not() -> None:
    code = (
        "import sys\n"
        "from harness import run_system\n"
        "run = run_system(lambda: 1)\n"
        "assert run.output == 1\n"
        "frameworks = ('agents', 'langgraph', 'langchain_core', 'langchain_openai', 'crewai',\n"
        "    'pydantic_ai', 'anthropic')\n"
        "print(sorted(m for m in frameworks if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", set(SUPPORTED)),
        ("none", set()),
        ("langgraph", {"langgraph"}),
        ("agents, langgraph", {"agents", "langgraph"}),
        (["openai-agents"], {"agents"}),
        ("pydantic-ai", {"pydantic_ai"}),
    ],
)
def test_selection(value: Any, expected: set[str], adapters_selection: Any) -> None:
    adapters_selection(value)
    from harness._adapters import _registry

    assert set(_registry._selected()) == expected


def test_unknown_adapter_is_a_config_error(adapters_selection: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown framework adapter 'smolagents'.*agents, langgraph"):
        adapters_selection("smolagents")
    with pytest.raises(ConfigError, match="unknown framework adapter"):
        harness.instrument("autogen")


def test_none_disables_installed_adapters(adapters_selection: Any) -> None:
    pytest.importorskip("langgraph", reason="LangGraph is not installed: pip install 'brownout[langgraph]'")
    adapters_selection("langgraph")
    assert "langgraph" in activate()
    assert enabled("langgraph")
    adapters_selection("none")
    assert activate() == []
    assert not enabled("langgraph")


def test_instrument_is_public_and_enables_named_frameworks(adapters_selection: Any) -> None:
    pytest.importorskip("langgraph", reason="LangGraph is not installed: pip install 'brownout[langgraph]'")
    assert "instrument" in harness.__all__
    assert "langgraph" in harness.instrument("langgraph")
    assert enabled("langgraph")
    configure(None)


def test_ini_option_selects_adapters(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchaos_adapters = bogus\n")
    # Checked when a test first uses `chaos` (the plugin imports no library code at load).
    pytester.makepyfile("def test_plain(): pass\n\ndef test_x(chaos): chaos.run(lambda: 1)\n")
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*chaos_adapters = 'bogus'*unknown framework adapter 'bogus'*"])
