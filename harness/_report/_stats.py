"""Aggregates the report shows: pass^k, pass rate by fault kind x checker, judge retention."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

from harness._errors import ReportError
from harness._report._rows import OUTCOME_ORDER, ResultRow

__all__ = [
    "Heatmap",
    "TestSummary",
    "heatmap",
    "judge_retention",
    "pass_hat_k",
    "pass_hat_k_by_faults",
    "summarize_tests",
]

BASELINE = "(no fault)"
ASSERTIONS = "assertions"


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that ``k`` i.i.d. trials all pass, from ``n`` trials with ``c`` passes.

    The unbiased combinatorial estimator used by tau-bench: ``C(c, k) / C(n, k)``.

    Raises:
        ReportError: If the counts are inconsistent (``0 <= c <= n`` and ``1 <= k <= n`` must hold).
    """
    if not 0 <= c <= n:
        raise ReportError(f"pass_hat_k(n={n}, c={c}): passes c must be between 0 and the trials n.")
    if not 1 <= k <= n:
        raise ReportError(
            f"pass_hat_k(n={n}, k={k}): k must be between 1 and the number of trials n; "
            "pass^k needs at least k trials."
        )
    return comb(c, k) / comb(n, k)


def pass_hat_k_curve(rows: Sequence[ResultRow], k_max: int = 8) -> list[tuple[int, float]]:
    """``[(k, pass^k)]`` for k = 1..min(k_max, n) over ``rows`` taken as i.i.d. trials."""
    n = len(rows)
    c = sum(1 for r in rows if r.ok)
    return [(k, pass_hat_k(n, c, k)) for k in range(1, min(k_max, n) + 1)]


def pass_hat_k_by_faults(
    rows: Sequence[ResultRow], ks: Sequence[int] = (1, 2, 4, 8)
) -> dict[int, list[tuple[int, float]]]:
    """pass^k against the number of faults that reached each run: ``{k: [(faults, pass^k)]}``.

    Runs are bucketed by faults injected (the run's fault rate); a bucket with fewer than
    ``k`` runs has no pass^k point.
    """
    buckets: dict[int, list[ResultRow]] = defaultdict(list)
    for row in rows:
        buckets[row.faults_injected].append(row)
    out: dict[int, list[tuple[int, float]]] = {}
    for k in ks:
        points = []
        for faults in sorted(buckets):
            group = buckets[faults]
            if len(group) >= k:
                points.append((faults, pass_hat_k(len(group), sum(1 for r in group if r.ok), k)))
        if points:
            out[k] = points
    return out


@dataclass(frozen=True)
class Heatmap:
    """Pass rate (0..1; None where no run had the pair) by fault kind (rows) x checker (columns)."""

    kinds: list[str]
    checkers: list[str]
    rates: list[list[float | None]]
    counts: list[list[int]]


def heatmap(rows: Sequence[ResultRow]) -> Heatmap:
    """Pass rate of each checker (and of the test's own assertions/exceptions) per fault kind.

    A run counts once under each fault kind it was hit by, or under ``(no fault)``.
    The ``assertions`` column is the share of runs that neither raised nor failed an
    assertion.
    """
    checkers: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for name in row.checkers():
            if name not in seen:
                seen.add(name)
                checkers.append(name)
    checkers = [*sorted(checkers), ASSERTIONS]
    kinds = sorted({k for r in rows for k in r.kinds()})
    if any(not r.kinds() for r in rows):
        kinds = [BASELINE, *kinds]
    passed: dict[tuple[str, str], int] = defaultdict(int)
    total: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        violated = set(row.violated())
        ran = set(row.checkers())
        for kind in row.kinds() or [BASELINE]:
            for name in checkers:
                if name == ASSERTIONS:
                    total[(kind, name)] += 1
                    passed[(kind, name)] += int(not row.error_type and not row.assertion)
                elif name in ran:
                    total[(kind, name)] += 1
                    passed[(kind, name)] += int(name not in violated)
    rates = [[passed[(k, c)] / total[(k, c)] if total[(k, c)] else None for c in checkers] for k in kinds]
    counts = [[total[(k, c)] for c in checkers] for k in kinds]
    return Heatmap(kinds, checkers, rates, counts)


def judge_retention(rows: Sequence[ResultRow]) -> list[tuple[str, float | None, float | None, int, int]]:
    """Per rubric: ``(rubric, baseline mean score, mean score under faults, n baseline, n faulted)``.

    Only scored verdicts count; substituted or unscored ones are left out of both means.
    """
    base: dict[str, list[float]] = defaultdict(list)
    faulted: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for rubric, entry in row.judge_map().items():
            score = entry.get("score")
            if entry.get("status", "scored") != "scored" or not isinstance(score, int | float):
                base.setdefault(rubric, [])
                continue
            (faulted if row.faults_injected else base)[rubric].append(float(score))
    out = []
    for rubric in sorted(set(base) | set(faulted)):
        b, f = base.get(rubric, []), faulted.get(rubric, [])
        out.append((rubric, sum(b) / len(b) if b else None, sum(f) / len(f) if f else None, len(b), len(f)))
    return out


@dataclass(frozen=True)
class TestSummary:
    """One test across its runs."""

    test: str
    system: str
    runs: int
    counts: dict[str, int]
    worst: str
    final: ResultRow

    @property
    def failed(self) -> bool:
        return not self.final.ok or self.worst in ("silent", "loud", "error", "indeterminate", "unscored")


def summarize_tests(rows: Sequence[ResultRow]) -> list[TestSummary]:
    """One summary per test, the most dangerous outcome first (silent, loud, ...), then by name."""
    groups: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        groups[row.test].append(row)
    out = []
    for test, group in groups.items():
        group = sorted(group, key=lambda r: r.index)
        counts = {name: 0 for name in OUTCOME_ORDER}
        for row in group:
            counts[row.outcome] += 1
        worst = min((r.outcome for r in group), key=OUTCOME_ORDER.__getitem__)
        finals = [r for r in group if r.final]
        final = finals[-1] if finals else group[-1]
        out.append(TestSummary(test, final.system, len(group), counts, worst, final))
    out.sort(key=lambda s: (OUTCOME_ORDER[s.worst], s.test))
    return out
