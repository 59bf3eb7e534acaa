"""The README's fifteen-line example behaves as the README says, under `pytest` and `pytest --chaos`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    return README.read_text().split("## Fifteen lines", 1)[1].split("\n## ", 1)[0]


def _example() -> str:
    block = re.search(r"```python\n(.*?)```", _section(), re.S)
    assert block, "README's 'Fifteen lines' section must hold a python block"
    return block.group(1)


def test_the_example_is_at_most_fifteen_lines_of_code() -> None:
    code = [line for line in _example().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 15


def test_pytest_passes_and_chaos_finds_the_one_fault_the_readme_shows(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checkout=_example())
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

    result = pytester.runpytest("-p", "no:cacheprovider", "--chaos", "--chaos-seed=3")
    result.assert_outcomes(failed=1)
    shown = [line[4:] for line in _section().splitlines() if line.startswith("E   ")]
    plan_line = next(line for line in shown if line.lstrip().startswith("1. "))
    result.stdout.fnmatch_lines(["*smallest failing fault plan (1 fault):*"])
    assert plan_line.strip() in result.stdout.str()
    command = next(line for line in result.stdout.lines if line.startswith("reproduce: pytest"))
    assert command == f"reproduce: {next(line for line in shown if line.startswith('reproduce:'))[11:]}"

    again = pytester.runpytest(
        "-p", "no:cacheprovider", *shlex.split(command.removeprefix("reproduce: pytest "))
    )
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*TimeoutError: injected fault: tool 'charge' call 1 timed out after 30s*"])
