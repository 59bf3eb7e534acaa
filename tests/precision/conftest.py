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
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

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
class Failure:
    """One failure an exploration reported: its shrunk plan and the first lines of what was violated."""

    runs: int | None
    plan: list[str]
    violated: list[str]

    @property
    def plan_size(self) -> int:
        return len(self.plan)

    def summary(self) -> str:
        head = " | ".join(v[:200] for v in self.violated[:3])
        plan = "; ".join(self.plan) or "none"
        return f"after {self.runs} run(s), plan ({self.plan_size}): {plan}; violated: {head}"


@dataclass
class Outcome:
    """What one inner ``pytest --chaos`` run said, parsed from its output."""

    passed: bool
    text: str
    failures: list[Failure]

    def summary(self) -> str:
        if self.passed:
            return "passed"
        if not self.failures:
            return "failed (unparsed output)"
        return " || ".join(f.summary() for f in self.failures)

    def caught_by(self, checker: str) -> Failure | None:
        """The first failure whose first violated lines name ``checker``."""
        for failure in self.failures:
            head = "\n".join(failure.violated[:3])
            if f"[{checker}," in head or checker in head:
                return failure
        return None


_PREFIX = re.compile(r"^(E\s)?[\s|]*")


def _clean(line: str) -> str:
    return _PREFIX.sub("", line).rstrip()


def _parse(text: str, passed: bool) -> Outcome:
    lines = [_clean(line) for line in text.splitlines()]
    failures: list[Failure] = []
    seen: set[tuple[str, ...]] = set()
    for i, line in enumerate(lines):
        found = re.search(r"falsified after (\d+) run\(s\).*smallest failing fault plan", line)
        if not found:
            continue
        plan: list[str] = []
        violated: list[str] = []
        j = i + 1
        while j < len(lines) and re.match(r"\d+\. ", lines[j]):
            plan.append(lines[j])
            j += 1
        if j < len(lines) and lines[j] == "violated:":
            for nxt in lines[j + 1 : j + 8]:
                if nxt.startswith(("run log:", "reproduce:")):
                    break
                violated.append(nxt)
        key = (*plan, *violated)
        if key not in seen:  # pytest prints the message twice (repr and longrepr)
            seen.add(key)
            failures.append(Failure(int(found.group(1)), plan, violated))
    if not passed and not failures:
        # the fault-free baseline run failed: a plan of 0 faults; what failed is the first E line
        raw = text.splitlines()
        for i, line in enumerate(raw):
            if line.startswith("E ") and re.search(r"(ViolationsFound|AssertionError|SystemCrashed)", line):
                violated = [_clean(nxt) for nxt in raw[i : i + 4] if nxt.startswith("E")]
                failures.append(Failure(0, [], violated))
                break
    return Outcome(passed=passed, text=text, failures=failures)


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
            source = source.replace("@pytest.mark.chaos(", f"@pytest.mark.chaos(faults=[{kinds}], ")
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

    def assert_caught(self, checker: str, seed: int = 1) -> Failure:
        outcome = self.run("buggy", seed)
        assert not outcome.passed, f"the buggy twin of {self.name!r} passed --chaos-seed={seed}"
        failure = outcome.caught_by(checker)
        assert failure is not None, (
            f"the buggy twin of {self.name!r} failed, but not by {checker}: {outcome.summary()}"
        )
        assert failure.plan_size <= 2, (
            f"the buggy twin of {self.name!r}: shrunk plan too large: {failure.summary()}"
        )
        return failure


@pytest.fixture
def twins(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Twins:
    """The pair named by the test module's ``SYSTEM``, with the user test ``TEST``."""
    module = request.module
    return Twins(pytester, module.SYSTEM, module.TEST)
