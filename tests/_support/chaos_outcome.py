"""Reading what an inner ``pytest --chaos`` run printed: each failure's shrunk plan and what it violated."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Failure", "Outcome", "parse_outcome"]


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


def parse_outcome(text: str, passed: bool) -> Outcome:
    """The failures in ``text`` (pytest's output): each "falsified after N run(s)" block, once."""
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
