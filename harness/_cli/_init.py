"""``brownout init``: scaffold a conftest, an example chaos test and a CI workflow.

In an empty folder, ``brownout init`` followed by ``pytest`` passes: the example test
runs a small instrumented system (or, with ``--entry module:function``, your own entry
point) through the ``chaos`` fixture. The CI workflow runs ``pytest --chaos`` and
publishes the report's ``summary.md`` as the job summary.

Existing files are never overwritten unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import ConfigError

__all__ = ["Scaffold", "add_arguments", "main", "scaffold"]

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

CONFTEST = '''\
"""brownout settings for this project's tests.

`pytest` replays recorded LLM calls with no faults; `pytest --chaos` explores fault plans.
Profiles pick how hard to explore: BROWNOUT_PROFILE=ci (set by the CI workflow) or dev.
"""

import os

from harness import load_profile, register_profile

register_profile("dev", examples=25)  # quick local exploration
register_profile("ci", examples=100)  # what .github/workflows/brownout.yml runs
load_profile(os.environ.get("BROWNOUT_PROFILE", "dev"))
'''

EXAMPLE_SYSTEM = '''\
"""A small instrumented system: replace it with your own.

Instrumenting a system takes two things: `agent(name)` scopes around each agent's work
and `@tool` on every function that calls out. LLM calls made through the openai SDK are
captured with no code. This one sends a welcome email with an idempotency key and
retries once, so it handles a failed or duplicated send.
"""

import asyncio

from harness import agent, tool

OUTBOX: list[tuple[str, str]] = []  # (idempotency key, address): what "the mail server" accepted


# timeout=10: the mail client gives up after 10 s (a hung server ends as TimeoutError).
@tool(side_effect=True, timeout=10)
def send_email(address: str, body: str, *, idempotency_key: str | None = None) -> str:
    if idempotency_key is not None and any(key == idempotency_key for key, _ in OUTBOX):
        return "duplicate ignored"
    OUTBOX.append((idempotency_key or "", address))
    return "sent"


async def welcome(user: dict[str, str]) -> dict[str, str]:
    async with agent("onboarding"):
        key = f"welcome-{user['id']}"  # the same key on every attempt makes a retry safe
        for attempt in (1, 2, 3):
            try:
                status = send_email(user["email"], f"Welcome, {user['name']}!", idempotency_key=key)
            except Exception:  # refused, timed out, or the reply was lost: try again, backing off
                await asyncio.sleep(2**attempt)
                continue
            if status in ("sent", "duplicate ignored"):
                return {"user": user["id"], "email": status}
            # a reply we do not understand: ask again rather than trust it
        # out of attempts: say so, so the caller (and brownout's checkers) can tell
        return {"user": user["id"], "email": "failed, will retry later", "status": "degraded"}
'''

EXAMPLE_TEST = '''\
"""An example chaos test.

`pytest` runs it once with no faults. `pytest --chaos` runs it under many fault plans
(tool errors, timeouts, crashes...), runs every checker on each run's history, and
shrinks a failure to the smallest plan with the one command that reproduces it.
"""

import pytest

{import_line}


@pytest.mark.chaos(faults=["tool", "llm", "worker"], checks="default")
def test_{test_name}(chaos):
{comment}    run = chaos.run({call})
{assertions}
'''

EXAMPLE_ASSERTIONS = """\
    # Checkers already looked for duplicated side effects, swallowed failures and more;
    # assert what the system promised its user.
    assert run.output["email"] in {"sent", "duplicate ignored", "failed, will retry later"}
"""

ENTRY_ASSERTIONS = """\
    # Checkers already looked for duplicated side effects, swallowed failures and more;
    # assert what your system promises its user, e.g.:
    assert run.error is None
"""

WORKFLOW = """\
# brownout: runs the chaos tests and publishes the reliability report summary.
name: brownout

on:
  push:
  pull_request:

jobs:
  chaos:
    runs-on: ubuntu-latest
    env:
      # How this project installed brownout (brownout init wrote it); edit to pin another version.
      BROWNOUT_REQUIREMENT: "@BROWNOUT_REQUIREMENT@"
      BROWNOUT_PROFILE: ci
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install
        run: |
          python -m pip install --upgrade pip
          if [ -f requirements.txt ]; then pip install -r requirements.txt; fi
          if [ -f pyproject.toml ]; then pip install -e .; fi
          pip install "$BROWNOUT_REQUIREMENT"
      # Failing fault plans are kept in .hypothesis/ and tried first on the next run.
      - name: Restore the failing plans found before
        uses: actions/cache@v4
        with:
          path: .hypothesis
          key: brownout-hypothesis-${{ github.ref_name }}-${{ github.run_id }}
          restore-keys: |
            brownout-hypothesis-${{ github.ref_name }}-
            brownout-hypothesis-
      - name: Chaos tests
        run: pytest --chaos --chaos-report reports/ci
      - name: Publish the summary
        if: always()
        run: |
          summary=reports/ci/summary.md
          if [ -f "$summary" ]; then cat "$summary" >> "$GITHUB_STEP_SUMMARY"; fi
      - name: Keep the report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: brownout-report
          path: reports/ci
          if-no-files-found: ignore
"""


def _pip_vcs_url(url: str) -> str:
    """A git remote as pip wants it: ``git@host:path`` becomes ``ssh://git@host/path``."""
    match = re.match(r"^([\w.-]+@[\w.-]+):(?!//)(.+)$", url)
    return f"ssh://{match[1]}/{match[2]}" if match else url


def _git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _is_brownout_checkout(folder: Path) -> bool:
    """Whether ``folder`` is brownout's own source checkout (not a project that merely contains it)."""
    project = folder / "pyproject.toml"
    try:
        return 'name = "brownout"' in project.read_text(encoding="utf-8") and (folder / ".git").exists()
    except OSError:
        return False


def brownout_requirement(
    direct_url: dict[str, Any] | None = None, version: str | None = None, source: Path | None = None
) -> str:
    """The requirement that installs brownout the way this environment got it.

    From an index: ``brownout==<version>``. From a VCS URL (PEP 610 ``direct_url.json``):
    ``brownout @ git+<url>@<commit>``. From a local checkout (editable or a path): the
    checkout's ``origin`` remote at its current commit, when it has one; else the pinned
    version. Arguments default to what the installed distribution says.
    """
    if version is None or direct_url is None or source is None:
        try:
            dist = importlib.metadata.distribution("brownout")
        except importlib.metadata.PackageNotFoundError:
            dist = None
        if version is None:
            version = dist.version if dist is not None else "0.1.0"
        if direct_url is None and dist is not None:
            text = dist.read_text("direct_url.json")
            direct_url = json.loads(text) if text else {}
        if source is None:
            source = Path(__file__).resolve().parents[2]
    vcs = (direct_url or {}).get("vcs_info")
    if isinstance(vcs, dict) and direct_url and direct_url.get("url"):
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        at = f"@{commit}" if commit else ""
        return f"brownout @ {vcs.get('vcs', 'git')}+{direct_url['url']}{at}"
    if (not direct_url or str(direct_url.get("url", "")).startswith("file:")) and _is_brownout_checkout(
        source
    ):
        remote, commit = (
            _git(source, "config", "--get", "remote.origin.url"),
            _git(source, "rev-parse", "HEAD"),
        )
        if remote and commit:
            return f"brownout @ git+{_pip_vcs_url(remote)}@{commit}"
    return f"brownout=={version}"


PYTEST_INI = """\
[pytest]
testpaths = tests
pythonpath = .
"""

_PYTEST_CONFIGS = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")


@dataclass(frozen=True)
class Scaffold:
    """What ``brownout init`` did: files created and files left alone because they existed."""

    created: list[Path]
    skipped: list[Path]


def _files(root: Path, entry: str | None) -> dict[Path, str]:
    if entry is None:
        test = EXAMPLE_TEST.format(
            import_line="from example_system import welcome",
            test_name="welcome_email",
            call='welcome, {"id": "u1", "name": "Ada", "email": "ada@example.com"}',
            comment="",
            assertions=EXAMPLE_ASSERTIONS,
        )
        files = {root / "tests" / "example_system.py": EXAMPLE_SYSTEM}
    else:
        module, function = entry.split(":")
        test = EXAMPLE_TEST.format(
            import_line=f"from {module} import {function}",
            test_name=function.lower(),
            call=function,
            comment="    # Pass the arguments your entry point takes: chaos.run(fn, *args, **kwargs).\n",
            assertions=ENTRY_ASSERTIONS,
        )
        files = {}
    files[root / "tests" / "conftest.py"] = CONFTEST
    files[root / "tests" / "test_chaos_example.py"] = test
    files[root / ".github" / "workflows" / "brownout.yml"] = WORKFLOW.replace(
        "@BROWNOUT_REQUIREMENT@", brownout_requirement()
    )
    if not any((root / name).exists() for name in _PYTEST_CONFIGS):
        files[root / "pytest.ini"] = PYTEST_INI
    return files


def scaffold(root: str | Path = ".", *, entry: str | None = None, force: bool = False) -> Scaffold:
    """Write the starter files into ``root``.

    Args:
        root: The project folder (created if missing).
        entry: ``module:function`` of your system's entry point; without it an example
            system is scaffolded next to the test.
        force: Overwrite files that already exist.

    Raises:
        ConfigError: If ``entry`` is not of the form ``module:function``.
    """
    if entry is not None and not _ENTRY.match(entry):
        raise ConfigError(
            f"--entry {entry!r}: expected module:function, e.g. --entry myapp.checkout:run "
            "(the module must be importable from the project folder)."
        )
    base = Path(root)
    created, skipped = [], []
    for path, text in _files(base, entry).items():
        if path.exists() and not force:
            skipped.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    return Scaffold(created, skipped)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout init``."""
    parser.add_argument("directory", nargs="?", default=".", help="the project folder (default: here)")
    parser.add_argument(
        "--entry",
        default=None,
        metavar="MODULE:FUNCTION",
        help="your system's entry point, for the example test (default: scaffold an example system)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")


def main(args: argparse.Namespace) -> int:
    """Scaffold the files and say what to run next."""
    try:
        result = scaffold(args.directory, entry=args.entry, force=args.force)
    except ConfigError as exc:
        print(f"brownout init: {exc}", file=sys.stderr)
        return 2
    root = Path(args.directory)
    for path in result.created:
        print(f"created  {path.relative_to(root)}")
    for path in result.skipped:
        print(f"kept     {path.relative_to(root)} (exists; --force overwrites it)")
    print(
        "\nNext:\n"
        "  pytest            # the example chaos test, once, with no faults\n"
        "  pytest --chaos    # explore fault plans; the report lands in reports/latest/\n"
        "  brownout doctor MODULE:FUNCTION   # what the harness sees of your own system"
    )
    return 0
