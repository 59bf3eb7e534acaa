"""The CI workflow `brownout init` writes: how it installs brownout, caches failing plans, keeps reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from harness._cli._init import brownout_requirement
from harness.cli import main as cli_main


def _workflow(root: Path) -> dict[str, object]:
    assert cli_main(["init", str(root)]) == 0
    text = (root / ".github/workflows/brownout.yml").read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def _steps(workflow: dict[str, object]) -> list[dict[str, object]]:
    return workflow["jobs"]["chaos"]["steps"]  # type: ignore[index, no-any-return]


def test_workflow_installs_brownout_as_this_project_did_and_caches_failing_plans(tmp_path: Path) -> None:
    workflow = _workflow(tmp_path)
    job = workflow["jobs"]["chaos"]  # type: ignore[index]
    assert job["env"]["BROWNOUT_REQUIREMENT"] == brownout_requirement()
    assert job["env"]["BROWNOUT_PROFILE"] == "ci"
    steps = _steps(workflow)
    install = next(s for s in steps if s.get("name") == "Install")
    assert 'pip install "$BROWNOUT_REQUIREMENT"' in str(install["run"])
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    assert cache["with"]["path"] == ".hypothesis"  # type: ignore[index]
    assert "brownout-hypothesis-" in cache["with"]["restore-keys"]  # type: ignore[index]
    names = [s.get("name") for s in steps]
    assert names.index("Restore the failing plans found before") < names.index("Chaos tests")
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "reports/ci" and upload["if"] == "always()"  # type: ignore[index]


def test_requirement_follows_how_brownout_was_installed(tmp_path: Path) -> None:
    vcs = {"url": "https://github.com/acme/brownout", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}
    assert (
        brownout_requirement(vcs, "0.1.0", tmp_path)
        == "brownout @ git+https://github.com/acme/brownout@abc123"
    )
    assert brownout_requirement({}, "0.3.1", tmp_path) == "brownout==0.3.1"  # from an index
    # a local checkout of brownout with a remote: that remote at the checked-out commit
    checkout = tmp_path / "brownout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text('[project]\nname = "brownout"\n', encoding="utf-8")
    git = ["git", "-C", str(checkout), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "pyproject.toml"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "git@github.com:acme/brownout.git"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    local = {"url": checkout.as_uri(), "dir_info": {"editable": True}}
    assert (
        brownout_requirement(local, "0.1.0", checkout)
        == f"brownout @ git+ssh://git@github.com/acme/brownout.git@{sha}"
    )
    # a project that merely lives in a git repository is not brownout's checkout
    assert brownout_requirement({}, "0.1.0", tmp_path) == "brownout==0.1.0"


def test_the_chaos_and_summary_steps_work_on_a_fresh_repository(tmp_path: Path) -> None:
    steps = _steps(_workflow(tmp_path))
    summary = tmp_path / "step_summary.md"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "BROWNOUT_PROFILE": "ci",
    }
    env.pop("PYTEST_ADDOPTS", None)
    for name in ("Chaos tests", "Publish the summary"):
        run = next(str(s["run"]) for s in steps if s.get("name") == name)
        done = subprocess.run(
            ["bash", "-e", "-c", run.replace("pytest ", "pytest -p no:randomly --chaos-seed=1 ", 1)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "reports/ci/report.html").is_file()
    assert summary.read_text(encoding="utf-8").startswith("## brownout reliability report")
