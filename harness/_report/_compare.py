"""The statistical gate: pass rates of two stored reports compared with exact binomial intervals.

Per test, and per test and fault class (the kind of fault that reached a run, or
``(no fault)``), each side's pass rate gets a confidence interval — exact Clopper-Pearson by
default, Wilson on request — and the row gets one verdict:

- ``regressed``: head's interval lies wholly below base's, by more than the tolerance
  (``head.high < base.low - tolerance``);
- ``improved``: head's interval lies wholly above base's, by more than the tolerance;
- ``pass``: even at its worst, head is within the tolerance of base at its best
  (``head.low >= base.high - tolerance``);
- ``inconclusive``: none of these — the samples are too small to tell.

The three conclusive verdicts exclude each other. For an inconclusive row the comparison
says how many runs per side, at the observed pass rates, would make it conclusive.

Comparing the two intervals (rather than an interval of the difference) is conservative: a
verdict needs each side's own interval to be clear of the other's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from harness._errors import ReportError
from harness._report._rows import ResultRow
from harness._report._stats import BASELINE

__all__ = [
    "ALL_FAULTS",
    "EXIT_CODES",
    "METHODS",
    "Comparison",
    "ComparisonRow",
    "Rate",
    "Verdict",
    "clopper_pearson",
    "compare_results",
    "interval",
    "wilson",
]

Verdict = Literal["pass", "regressed", "improved", "inconclusive"]
# Exit status of `brownout compare` (and what `--chaos-baseline` reports) per overall verdict;
# 2 is a usage error, as for every brownout command.
EXIT_CODES: dict[str, int] = {"pass": 0, "regressed": 1, "inconclusive": 3, "improved": 4}
VERDICT_ORDER: dict[str, int] = {"regressed": 0, "inconclusive": 1, "improved": 2, "pass": 3}
METHODS = ("clopper-pearson", "wilson")
ALL_FAULTS = "(all)"  # the fault-class name of a test's row over all its runs
MAX_TRIALS = 100_000  # the most runs per side the minimum-trials search considers


# -- intervals ----------------------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def _beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b), by bisection on the CDF (monotone, so always converges)."""
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if _beta_cdf(mid, a, b) < q:
            low = mid
        else:
            high = mid
        if high - low < 1e-14:
            break
    return (low + high) / 2.0


def clopper_pearson(passed: int, runs: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a pass rate: ``passed`` successes in ``runs`` trials."""
    _check_counts(passed, runs, confidence)
    alpha = 1.0 - confidence
    low = 0.0 if passed == 0 else _beta_ppf(alpha / 2.0, passed, runs - passed + 1)
    high = 1.0 if passed == runs else _beta_ppf(1.0 - alpha / 2.0, passed + 1, runs - passed)
    return low, high


def wilson(passed: int, runs: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a pass rate."""
    _check_counts(passed, runs, confidence)
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    p = passed / runs
    denominator = 1.0 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denominator
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def interval(
    passed: int, runs: int, confidence: float = 0.95, method: str = "clopper-pearson"
) -> tuple[float, float]:
    """The ``method`` interval (``clopper-pearson`` or ``wilson``) of ``passed`` out of ``runs``."""
    if method == "clopper-pearson":
        return clopper_pearson(passed, runs, confidence)
    if method == "wilson":
        return wilson(passed, runs, confidence)
    raise ReportError(f"interval method {method!r} is not supported; use one of {', '.join(METHODS)}.")


def _check_counts(passed: int, runs: int, confidence: float) -> None:
    if runs < 1 or not 0 <= passed <= runs:
        raise ReportError(
            f"a pass rate needs 0 <= passed <= runs and runs >= 1; got passed={passed}, runs={runs}."
        )
    if not 0.0 < confidence < 1.0:
        raise ReportError(f"confidence={confidence} must be between 0 and 1 (exclusive), e.g. 0.95.")


# -- rows and verdicts ------------------------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    """A pass rate with its confidence interval."""

    passed: int
    runs: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0

    def text(self) -> str:
        if not self.runs:
            return "no runs"
        return f"{self.passed}/{self.runs} = {_pct(self.rate)} [{_pct(self.low)}, {_pct(self.high)}]"


def _rate(passed: int, runs: int, confidence: float, method: str) -> Rate:
    if not runs:
        return Rate(0, 0, 0.0, 1.0)
    low, high = interval(passed, runs, confidence, method)
    return Rate(passed, runs, low, high)


def _verdict(base: Rate, head: Rate, tolerance: float) -> Verdict:
    if not base.runs or not head.runs:
        return "inconclusive"
    if head.high < base.low - tolerance:
        return "regressed"
    if head.low > base.high + tolerance:
        return "improved"
    if head.low >= base.high - tolerance:
        return "pass"
    return "inconclusive"


def _trials_needed(base: Rate, head: Rate, confidence: float, tolerance: float, method: str) -> int | None:
    """The fewest runs per side that, at the observed pass rates, give a conclusive verdict.

    ``None`` when a side has no runs, or when even :data:`MAX_TRIALS` runs would not do (the
    observed difference sits right at the tolerance).
    """
    if not base.runs or not head.runs:
        return None

    def conclusive(n: int) -> bool:
        b = _rate(round(base.rate * n), n, confidence, method)
        h = _rate(round(head.rate * n), n, confidence, method)
        return _verdict(b, h, tolerance) != "inconclusive"

    low = max(base.runs, head.runs)  # inconclusive here (the caller asks only then)
    high = low * 2
    while not conclusive(high):
        if high >= MAX_TRIALS:
            return None
        low, high = high, min(high * 2, MAX_TRIALS)
    while high - low > 1:  # the verdict settles as n grows; bisect for the first conclusive n
        mid = (low + high) // 2
        if conclusive(mid):
            high = mid
        else:
            low = mid
    return high


@dataclass(frozen=True)
class ComparisonRow:
    """One test (``fault_class == "(all)"``) or one test under one fault class, base against head."""

    test: str
    fault_class: str
    base: Rate
    head: Rate
    verdict: Verdict
    trials_needed: int | None = None

    @property
    def note(self) -> str:
        if not self.base.runs:
            return "no runs in base"
        if not self.head.runs:
            return "no runs in head"
        if self.verdict != "inconclusive":
            return ""
        if self.trials_needed is None:
            return f"more than {MAX_TRIALS} runs per side"
        return f"{self.trials_needed} runs per side"


@dataclass(frozen=True)
class Comparison:
    """Every row's verdict and the overall one.

    Overall: ``regressed`` if any row (a test, or a test under one fault class) regressed;
    else ``inconclusive`` if any test's row is; else ``improved`` if any test's row improved;
    else ``pass``. Fault-class rows can reveal a regression that a test's total hides, but an
    inconclusive fault class alone does not make the gate inconclusive.
    """

    rows: list[ComparisonRow]
    confidence: float
    tolerance: float
    method: str

    @property
    def verdict(self) -> Verdict:
        if any(r.verdict == "regressed" for r in self.rows):
            return "regressed"
        tests = [r for r in self.rows if r.fault_class == ALL_FAULTS]
        if not tests or any(r.verdict == "inconclusive" for r in tests):
            return "inconclusive"
        if any(r.verdict == "improved" for r in tests):
            return "improved"
        return "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def counts(self) -> dict[str, int]:
        out = {name: 0 for name in VERDICT_ORDER}
        for row in self.rows:
            out[row.verdict] += 1
        return out

    def markdown(self, base_name: str = "base", head_name: str = "head") -> str:
        """A Markdown section for a CI job summary: the verdict, the method, one table row per row."""
        method = "Clopper-Pearson" if self.method == "clopper-pearson" else "Wilson"
        counts = ", ".join(f"{n} {name}" for name, n in self.counts().items() if n)
        lines = [
            f"## brownout compare: **{self.verdict}**",
            "",
            f"Base `{base_name}` against head `{head_name}`: pass rates with {self.confidence:.0%} "
            f"{method} intervals; a change within {self.tolerance * 100:g} points is not a regression. "
            f"Rows: {counts or 'none'}.",
            "",
            "| verdict | test | fault class | base pass rate [CI] | head pass rate [CI] | to conclude |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            cells = [
                f"**{row.verdict}**" if row.verdict in ("regressed", "inconclusive") else row.verdict,
                f"`{row.test}`",
                row.fault_class,
                row.base.text(),
                row.head.text(),
                row.note or "—",
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"


def _groups(rows: Sequence[ResultRow]) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(test, fault class): (passed, runs)}``; a run counts under each kind it was hit by."""
    passed: dict[tuple[str, str], int] = defaultdict(int)
    runs: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        for fault_class in (ALL_FAULTS, *(row.kinds() or [BASELINE])):
            key = (row.test, fault_class)
            runs[key] += 1
            passed[key] += int(row.ok)
    return {key: (passed[key], runs[key]) for key in runs}


def compare_results(
    base: Sequence[ResultRow],
    head: Sequence[ResultRow],
    *,
    confidence: float = 0.95,
    tolerance: float = 0.05,
    method: str = "clopper-pearson",
) -> Comparison:
    """Compare the pass rates of ``head`` against ``base``, per test and per test x fault class.

    A run passes when its outcome is ``pass`` or ``handled``. Tests are ordered by their worst
    row's verdict (regressed, inconclusive, improved, pass), then by name; a test's total
    comes first, then its fault classes.

    Raises:
        ReportError: For a confidence outside (0, 1), a tolerance outside [0, 1) or an unknown method.
    """
    if method not in METHODS:
        raise ReportError(f"interval method {method!r} is not supported; use one of {', '.join(METHODS)}.")
    if not 0.0 < confidence < 1.0:
        raise ReportError(f"confidence={confidence} must be between 0 and 1 (exclusive), e.g. 0.95.")
    if not 0.0 <= tolerance < 1.0:
        raise ReportError(f"tolerance={tolerance} must be at least 0 and below 1, e.g. 0.05 (5 points).")
    base_groups, head_groups = _groups(base), _groups(head)
    out = []
    for key in set(base_groups) | set(head_groups):
        b = _rate(*base_groups.get(key, (0, 0)), confidence, method)
        h = _rate(*head_groups.get(key, (0, 0)), confidence, method)
        verdict = _verdict(b, h, tolerance)
        needed = _trials_needed(b, h, confidence, tolerance, method) if verdict == "inconclusive" else None
        out.append(ComparisonRow(key[0], key[1], b, h, verdict, needed))
    worst: dict[str, int] = {}
    for row in out:
        worst[row.test] = min(worst.get(row.test, len(VERDICT_ORDER)), VERDICT_ORDER[row.verdict])
    out.sort(key=lambda r: (worst[r.test], r.test, r.fault_class != ALL_FAULTS, r.fault_class))
    return Comparison(out, confidence, tolerance, method)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%".replace(".0%", "%")
