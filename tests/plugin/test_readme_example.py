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
    out = result.stdout.str()
    shown = [line for line in _section().splitlines() if line.startswith("  | ")]
    assert shown, "README must show the failures `pytest --chaos` prints"
    for line in shown:  # every line the README shows is what pytest --chaos prints
        assert line in out, f"README shows a line pytest --chaos did not print: {line}"
    commands = [line.split("reproduce: ", 1)[1] for line in shown if "reproduce: " in line]
    assert len(commands) == 2
    again = pytester.runpytest("-p", "no:cacheprovider", *shlex.split(commands[0].removeprefix("pytest ")))
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*[[]saga_compensation, critical[]]*no refund ran after step*"])
