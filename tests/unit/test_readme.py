"""README's two commands are real, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README's 'Two commands' section must hold a bash block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_names_exactly_a_demo_and_a_test_command() -> None:
    assert _commands() == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        text = (ROOT / script).read_text()
        assert "python -m pip install" in text and "venv" in text, f"{script} must set up its own venv"


def test_ci_runs_the_readme_test_command_and_handles_exit_5() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert _commands()[1] in ci
    assert '"$rc" -eq 5' in ci


def test_demo_script_runs_the_demo_command() -> None:
    assert "brownout demo" in (ROOT / "scripts" / "demo.sh").read_text()
