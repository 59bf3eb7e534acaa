"""First use: `brownout init` in an empty folder, then `pytest`, passes; the CI workflow is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness._cli import main as cli_main

pytest_plugins = ["pytester"]


def _init(*argv: str) -> subprocess.CompletedProcess[str]:
    # The real console entry point, in a fresh interpreter.
    return subprocess.run(
        [sys.executable, "-m", "harness._cli", "init", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_init_in_an_empty_folder_then_pytest_passes(pytester: pytest.Pytester) -> None:
    root = pytester.path
    done = _init(str(root))
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        ".github/workflows/brownout.yml",
        "pytest.ini",
        "tests/conftest.py",
        "tests/example_system.py",
        "tests/test_chaos_example.py",
    ]
    assert "created  tests/test_chaos_example.py" in done.stdout and "pytest --chaos" in done.stdout
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 run(s) of 1 test(s): 1 pass"])


def test_ci_workflow_runs_chaos_and_publishes_the_summary(tmp_path: Path) -> None:
    assert cli_main(["init", str(tmp_path)]) == 0
    workflow = yaml.safe_load((tmp_path / ".github/workflows/brownout.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["chaos"]["steps"]
    commands = [s.get("run", "") for s in steps]
    assert any(c.startswith("pytest --chaos") for c in commands)
    assert any("summary.md" in c and '>> "$GITHUB_STEP_SUMMARY"' in c for c in commands)
    publish = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert publish["if"] == "always()"  # the summary is published when chaos tests fail, too


def test_init_keeps_existing_files_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("# mine\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert cli_main(["init", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kept     tests/conftest.py (exists; --force overwrites it)" in out
    assert (tmp_path / "tests" / "conftest.py").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "pytest.ini").exists()  # the project has its own pytest configuration
    assert cli_main(["init", str(tmp_path), "--force"]) == 0
    assert "register_profile" in (tmp_path / "tests" / "conftest.py").read_text(encoding="utf-8")


def test_init_for_your_own_entry_point(pytester: pytest.Pytester) -> None:
    root = pytester.path
    (root / "shop.py").write_text(
        "from harness import agent, tool\n\n"
        "@tool(side_effect=True)\n"
        "def charge(amount):\n    return 'ok'\n\n"
        "def checkout():\n    with agent('orchestrator'):\n        return charge(10)\n",
        encoding="utf-8",
    )
    assert cli_main(["init", str(root), "--entry", "shop:checkout"]) == 0
    test = (root / "tests" / "test_chaos_example.py").read_text(encoding="utf-8")
    assert "from shop import checkout" in test and "chaos.run(checkout" in test
    assert not (root / "tests" / "example_system.py").exists()
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_malformed_entry_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["init", str(tmp_path), "--entry", "shop.checkout"]) == 2
    err = capsys.readouterr().err
    assert "expected module:function, e.g. --entry myapp.checkout:run" in err
    assert not (tmp_path / "tests").exists()
