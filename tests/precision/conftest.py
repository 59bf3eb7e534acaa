"""Precision corpus: correct systems pass ``pytest --chaos``, their buggy twins fail for the right reason.

Every pair lives in ``systems/<name>.py`` (entry points ``correct`` and ``buggy``). Its test
module (``test_<name>.py``) writes that source and a small user test into a pytester
project, runs ``pytest --chaos`` on it and checks the outcome:

* the correct twin passes with seeds 1, 2 and 3 (200 examples each);
* the buggy twin fails, the expected checker is named in the first lines of what was
  violated, and the shrunk fault plan has at most 2 faults.

Select the corpus with ``-m precision``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

# tests/conftest.py puts tests/ first on sys.path, where tests/scenarios (no __init__.py) makes
# ``import scenarios`` a namespace package when brownout has not imported the real one yet
# (the plugin now imports lazily); the chaos exploration then fails with "cannot import name
# 'call_sites' from 'scenarios' (unknown location)". Make the real package importable.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
if getattr(sys.modules.get("scenarios"), "__file__", "") is None:
    for _name in [m for m in sys.modules if m == "scenarios" or m.startswith("scenarios.")]:
        del sys.modules[_name]
SYSTEMS = HERE / "systems"
EXAMPLES = 200
# Diagnostic only: BROWNOUT_PRECISION_FAULTS="tool,message,state" narrows what the inner runs
# explore (e.g. to see what fails a correct twin besides a worker fault on its root agent).
FAULTS_OVERRIDE = [k.strip() for k in os.environ.get("BROWNOUT_PRECISION_FAULTS", "").split(",") if k.strip()]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "precision: the precision corpus (correct systems pass --chaos, buggy twins fail)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.precision)


@dataclass
class Outcome:
    """What one inner ``pytest --chaos`` run said, parsed from its output."""

    passed: bool
    text: str
    runs_until_failure: int | None
    plan_size: int | None
    plan: list[str]
    violated: list[str]

    def summary(self) -> str:
        if self.passed:
            return "passed"
        return (
            f"failed after {self.runs_until_failure} run(s); plan ({self.plan_size} fault(s)): "
            f"{'; '.join(self.plan)}; violated: {' | '.join(v[:200] for v in self.violated[:3])}"
        )


def _parse(text: str, passed: bool) -> Outcome:
    runs = re.search(r"falsified after (\d+) run\(s\)", text)
    size = re.search(r"smallest failing fault plan \((\d+) fault", text)
    plan: list[str] = []
    violated: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "smallest failing fault plan" in line:
            for nxt in lines[i + 1 :]:
                body = nxt.removeprefix("E").strip()
                if re.match(r"\d+\. ", body):
                    plan.append(body)
                else:
                    break
        if line.removeprefix("E").strip() == "violated:":
            for nxt in lines[i + 1 : i + 8]:
                body = nxt.removeprefix("E").strip()
                if body.startswith(("run log:", "reproduce:")):
                    break
                violated.append(body)
            break
    if not passed and runs is None and not violated:
        # the fault-free baseline run failed: a plan of 0 faults; what failed is the first E line
        for i, line in enumerate(lines):
            if line.startswith("E ") and re.search(r"\w+(Error|Found|Crashed|Exception)\b", line):
                violated = [nxt.removeprefix("E").strip() for nxt in lines[i : i + 4] if nxt.startswith("E")]
                break
        if any(k in v for v in violated for k in ("ViolationsFound", "AssertionError", "SystemCrashed")):
            return Outcome(passed, text, 0, 0, [], violated)
    return Outcome(
        passed=passed,
        text=text,
        runs_until_failure=int(runs.group(1)) if runs else None,
        plan_size=int(size.group(1)) if size else None,
        plan=plan,
        violated=violated,
    )


class Twins:
    """Runs one pair's correct or buggy twin under ``pytest --chaos`` in a pytester project."""

    def __init__(self, pytester: pytest.Pytester, name: str, test_template: str) -> None:
        self.pytester = pytester
        self.name = name
        self.module = f"sys_{name}"
        self.test_template = test_template
        pytester.makepyfile(**{self.module: (SYSTEMS / f"{name}.py").read_text(encoding="utf-8")})
        pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")

    def run(self, entry: str, seed: int) -> Outcome:
        source = self.test_template.replace("{system}", self.module).replace("{entry}", entry)
        if FAULTS_OVERRIDE:  # diagnostic knob: explore only these fault kinds
            kinds = ", ".join(repr(k) for k in FAULTS_OVERRIDE)
            source = source.replace('checks="default"', f'faults=[{kinds}], checks="default"')
        self.pytester.makepyfile(**{f"test_{self.name}_{entry}": source})
        result = self.pytester.runpytest(
            f"test_{self.name}_{entry}.py",
            "--chaos",
            f"--chaos-examples={EXAMPLES}",
            f"--chaos-seed={seed}",
            "-p",
            "no:randomly",
        )
        outcomes = result.parseoutcomes()
        text = result.stdout.str()
        passed = outcomes.get("passed", 0) == 1 and not outcomes.get("failed") and not outcomes.get("errors")
        outcome = _parse(text, passed)
        print(f"[precision] {self.name}.{entry} seed={seed}: {outcome.summary()}")
        return outcome

    def assert_passes(self, seed: int) -> None:
        outcome = self.run("correct", seed)
        assert outcome.passed, (
            f"the correct twin of {self.name!r} failed under --chaos-seed={seed}: {outcome.summary()}"
        )

    def assert_caught(self, checker: str, seed: int = 1) -> Outcome:
        outcome = self.run("buggy", seed)
        assert not outcome.passed, f"the buggy twin of {self.name!r} passed --chaos-seed={seed}"
        head = "\n".join(outcome.violated[:3])
        assert f"[{checker}," in head or checker in head, (
            f"the buggy twin of {self.name!r} failed, but not by {checker}: {outcome.summary()}"
        )
        assert outcome.plan_size is not None and outcome.plan_size <= 2, (
            f"the buggy twin of {self.name!r}: shrunk plan too large: {outcome.summary()}"
        )
        return outcome


@pytest.fixture
def twins(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Twins:
    """The pair named by the test module's ``SYSTEM``, with the user test ``TEST``."""
    module = request.module
    return Twins(pytester, module.SYSTEM, module.TEST)
