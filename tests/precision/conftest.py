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
from pathlib import Path

import pytest
from _support.chaos_outcome import Failure, Outcome, parse_outcome

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
        outcome = parse_outcome(text, passed)
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
