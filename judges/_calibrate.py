"""Calibration: how often does a judge agree with human labels?

:func:`calibrate` runs a judge over labelled examples (a candidate, its task, the rubric
it is graded on and a human pass/fail label) and reports:

- ``accuracy``: the share of *all* examples where the judge's pass/fail equals the label
  (an unscored or indeterminate verdict counts as a disagreement: a judge that cannot
  answer is not accurate);
- ``coverage``: the share of examples the judge scored;
- ``kappa``: Cohen's kappa between judge and label over the scored examples, i.e.
  agreement corrected for chance. 0 means no better than a judge that ignores the
  candidate (a constant judge scores 0 whatever its accuracy); 1 is perfect agreement.
  Undefined (NaN) when both raters give one class only;
- the confusion counts and one row per example;
- a 95% interval for each: exact (Clopper-Pearson) for accuracy and coverage, a seeded
  percentile bootstrap over the scored examples for kappa (:func:`clopper_pearson`,
  :func:`bootstrap_kappa`; pure Python, no SciPy at run time).

The labelled set for the reference systems ships in ``judges/data/labelled.yaml``
(:func:`labelled_set`); run ``python -m judges.calibration`` to calibrate a judge on it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from pydantic import ConfigDict, Field

from judges._errors import CalibrationError
from judges._judge import judge as default_judge
from judges._model import JudgesModel, validated
from judges._protocol import JudgeLike
from judges._rubric import Rubric
from judges._verdict import JudgeSpec

__all__ = [
    "Calibration",
    "CalibrationRow",
    "LabelledExample",
    "bootstrap_kappa",
    "calibrate",
    "clopper_pearson",
    "cohen_kappa",
    "labelled_set",
]

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261201


_EXAMPLE_RULE = (
    "Rule: each example has id, candidate, label (true/false) and optionally rubric, context, system, note. "
    "See judges/data/labelled.yaml for examples."
)


class _CalibrationModel(JudgesModel):
    _error = CalibrationError
    _what = "labelled example"
    _rule = _EXAMPLE_RULE


class LabelledExample(_CalibrationModel):
    """One human-labelled candidate.

    Attributes:
        id: A stable identifier.
        candidate: What a system produced (text or data).
        label: The human judgement: does it pass the rubric?
        rubric: The name of the rubric it is graded on (looked up in ``rubrics``).
        context: The task the system was given.
        system: Which system produced it (for grouping).
        note: Why the label is what it is (what the rule found).
        variant: The system's variant (naive or hardened), when it came from a reference run.
        fault: The fault plan the output was produced under (``none`` for the happy path).
        rule: The labelling rule that gave the label, written out.
        synthetic: True for a hand-written example in the shape of a system's output.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    candidate: Any
    label: bool
    rubric: str | None = None
    context: Any = None
    system: str | None = None
    note: str = ""
    variant: str | None = None
    fault: str | None = None
    rule: str = ""
    synthetic: bool = False


class CalibrationRow(_CalibrationModel):
    """One example's outcome."""

    model_config = ConfigDict(frozen=True)
    _what = "calibration row"
    _rule = "Rule: calibration rows are built by calibrate(). Fix: call calibrate(examples, judge)."

    id: str
    system: str | None
    label: bool
    predicted: bool | None
    status: str
    total: float | None


Interval = tuple[float, float]


class Calibration(_CalibrationModel):
    """The outcome of :func:`calibrate`: agreement with the labels, with 95% intervals.

    ``accuracy_interval`` and ``coverage_interval`` are exact (Clopper-Pearson) binomial
    intervals; ``kappa_interval`` is a seeded percentile bootstrap over the scored examples
    (NaN bounds when kappa is undefined). :meth:`by_system` splits the rows per system.
    """

    model_config = ConfigDict(frozen=True)
    _what = "calibration"
    _rule = "Rule: a calibration is built by calibrate(). Fix: call calibrate(examples, judge)."

    judge: JudgeSpec
    n: int
    scored: int
    accuracy: float
    coverage: float
    kappa: float
    true_pass: int
    false_pass: int
    true_fail: int
    false_fail: int
    accuracy_interval: Interval = (math.nan, math.nan)
    coverage_interval: Interval = (math.nan, math.nan)
    kappa_interval: Interval = (math.nan, math.nan)
    rows: tuple[CalibrationRow, ...] = Field(default_factory=tuple)

    @property
    def label(self) -> str:
        """``model (prompt)``: which judge this is, for tables."""
        judge = self.judge.args.get("model") or self.judge.name
        return f"{judge} ({self.judge.args.get('prompt', self.judge.name)})"

    def by_system(self) -> dict[str, Calibration]:
        """One calibration per system, from this one's rows (intervals recomputed per system)."""
        systems = sorted({str(r.system) for r in self.rows})
        return {
            system: _summary(self.judge, [r for r in self.rows if str(r.system) == system])
            for system in systems
        }

    def table(self) -> str:
        """A Markdown summary table."""
        lines = [
            "| judge | examples | scored | accuracy | Cohen's kappa | pass/pass | pass/fail | fail/pass "
            "| fail/fail |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {self.label} | {self.n} | {self.scored} | {self.accuracy:.3f} | {_number(self.kappa)} | "
            f"{self.true_pass} | {self.false_fail} | {self.false_pass} | {self.true_fail} |",
        ]
        return "\n".join(lines)

    def row(self, first: str | None = None) -> str:
        """One Markdown row: n, accuracy, coverage and kappa, each with its 95% interval."""
        return (
            f"| {first or self.label} | {self.n} | {_with_interval(self.accuracy, self.accuracy_interval)} | "
            f"{_with_interval(self.coverage, self.coverage_interval)} | "
            f"{_with_interval(self.kappa, self.kappa_interval)} | {self.true_pass + self.false_pass} | "
            f"{self.true_pass + self.false_fail} |"
        )

    def __str__(self) -> str:
        return self.table()


INTERVAL_HEADER = (
    "| {first} | examples | accuracy [95% CI] | coverage [95% CI] | Cohen's kappa [95% CI] | judge said pass "
    "| labelled pass |\n|---|---|---|---|---|---|---|"
)


def side_by_side(results: Sequence[Calibration]) -> str:
    """The Markdown table of several calibrations (e.g. two prompts), one row each, with intervals."""
    return "\n".join([INTERVAL_HEADER.format(first="judge (prompt)"), *(r.row() for r in results)])


def per_system(results: Sequence[Calibration]) -> str:
    """The Markdown table of each calibration split per system, with intervals."""
    lines = [INTERVAL_HEADER.format(first="system, judge (prompt)")]
    systems = sorted({str(r.system) for result in results for r in result.rows})
    for system in systems:
        for result in results:
            part = result.by_system().get(system)
            if part is not None:
                lines.append(part.row(f"{system}, {result.label}"))
    return "\n".join(lines)


def _number(value: float) -> str:
    return "undefined" if math.isnan(value) else f"{value:.3f}"


def _with_interval(value: float, interval: Interval) -> str:
    if math.isnan(value):
        return "undefined"
    low, high = interval
    if math.isnan(low) or math.isnan(high):
        return f"{value:.3f} [undefined]"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _binomial_tail_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _solve(f: Any, target: float) -> float:
    """The p in [0, 1] where the increasing function f(p) crosses target (bisection)."""
    low, high = 0.0, 1.0
    for _ in range(100):
        mid = (low + high) / 2
        if f(mid) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def clopper_pearson(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """The exact (Clopper-Pearson) two-sided interval for a binomial proportion ``successes / n``.

    Computed from the binomial tails by bisection (no SciPy): the lower bound is the p at
    which P(X >= successes) = (1 - confidence) / 2, the upper the p at which
    P(X <= successes) = (1 - confidence) / 2. ``(nan, nan)`` for n = 0.
    """
    if not (isinstance(n, int) and isinstance(successes, int) and 0 <= successes <= n):
        raise CalibrationError(
            f"clopper_pearson(successes={successes!r}, n={n!r}): not a count of successes out of n. Rule: "
            "two ints with 0 <= successes <= n. Fix: clopper_pearson(17, 24)."
        )
    if not 0.0 < confidence < 1.0:
        raise CalibrationError(
            f"clopper_pearson(confidence={confidence!r}): outside (0, 1). Rule: a confidence level such as "
            "0.95. Fix: confidence=0.95."
        )
    if n == 0:
        return (math.nan, math.nan)
    alpha = (1.0 - confidence) / 2
    lower = 0.0 if successes == 0 else _solve(lambda p: _binomial_tail_at_least(successes, n, p), alpha)
    upper = (
        1.0
        if successes == n
        else _solve(lambda p: -(1.0 - _binomial_tail_at_least(successes + 1, n, p)), -alpha)
    )
    return (lower, upper)


def bootstrap_kappa(
    labels: Sequence[Any],
    predicted: Sequence[Any],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """A seeded percentile-bootstrap interval for Cohen's kappa between two raters.

    Resamples the rated items with replacement ``resamples`` times (from ``random.Random(seed)``,
    so the interval is the same on every run), drops the resamples where kappa is undefined
    (one class only), and returns the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles. ``(nan, nan)`` when kappa itself is undefined.
    """
    if len(labels) != len(predicted):
        raise CalibrationError(
            f"bootstrap_kappa: the raters labelled {len(labels)} and {len(predicted)} items. Rule: both rate "
            "the same items. Fix: pass two sequences of equal length."
        )
    if resamples < 1:
        raise CalibrationError(
            f"bootstrap_kappa(resamples={resamples!r}): at least one resample. Fix: resamples=2000."
        )
    if math.isnan(cohen_kappa(list(labels), list(predicted))):
        return (math.nan, math.nan)
    rng = random.Random(seed)
    pairs = list(zip(labels, predicted, strict=True))
    n = len(pairs)
    values: list[float] = []
    for _ in range(resamples):
        sample = [pairs[rng.randrange(n)] for _ in range(n)]
        kappa = cohen_kappa([a for a, _ in sample], [b for _, b in sample])
        if not math.isnan(kappa):
            values.append(kappa)
    if not values:
        return (math.nan, math.nan)
    values.sort()
    alpha = (1.0 - confidence) / 2

    def quantile(q: float) -> float:
        position = q * (len(values) - 1)
        below = math.floor(position)
        above = min(below + 1, len(values) - 1)
        return values[below] + (values[above] - values[below]) * (position - below)

    return (quantile(alpha), quantile(1.0 - alpha))


def _summary(spec: JudgeSpec, rows: Sequence[CalibrationRow]) -> Calibration:
    scored = [r for r in rows if r.predicted is not None]
    correct = sum(1 for r in scored if r.predicted == r.label)
    labels = [r.label for r in scored]
    predicted = [r.predicted for r in scored]
    return Calibration(
        judge=spec,
        n=len(rows),
        scored=len(scored),
        accuracy=round(correct / len(rows), 6) if rows else math.nan,
        coverage=round(len(scored) / len(rows), 6) if rows else math.nan,
        kappa=cohen_kappa(labels, predicted),
        true_pass=sum(1 for r in scored if r.label and r.predicted),
        false_pass=sum(1 for r in scored if not r.label and r.predicted),
        true_fail=sum(1 for r in scored if not r.label and not r.predicted),
        false_fail=sum(1 for r in scored if r.label and not r.predicted),
        accuracy_interval=clopper_pearson(correct, len(rows)),
        coverage_interval=clopper_pearson(len(scored), len(rows)),
        kappa_interval=bootstrap_kappa(labels, predicted),
        rows=tuple(rows),
    )


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa between two raters' labels (any hashable categories); NaN if undefined."""
    for name, labels in (("a", a), ("b", b)):
        if isinstance(labels, str | Mapping) or not isinstance(labels, Sequence):
            raise CalibrationError(
                f"cohen_kappa({name}={str(labels)[:60]!r}): a {type(labels).__name__} is not a sequence of "
                "labels. Rule: each rater's labels are a list, one per item, in the same order. Fix: "
                "cohen_kappa([True, False], [True, True])."
            )
    if len(a) != len(b):
        raise CalibrationError(
            f"cohen_kappa: the raters labelled {len(a)} and {len(b)} items. Rule: both rate the same items. "
            "Fix: pass two sequences of equal length."
        )
    n = len(a)
    if n == 0:
        return math.nan
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    categories = set(a) | set(b)
    expected = sum((list(a).count(k) / n) * (list(b).count(k) / n) for k in categories)
    if expected >= 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def calibrate(
    examples: Sequence[LabelledExample | Mapping[str, Any]],
    judge: JudgeLike | None = None,
    *,
    rubric: Rubric | None = None,
    rubrics: Mapping[str, Rubric] | None = None,
) -> Calibration:
    """Score every labelled example and measure agreement with the labels.

    Args:
        examples: Labelled examples (or mappings with their fields).
        judge: The judge to calibrate (default: the environment's default judge).
        rubric: One rubric for all examples; or
        rubrics: Rubrics by name, for examples that name theirs.

    Returns:
        A :class:`Calibration` with accuracy, coverage, Cohen's kappa and the rows.
    """
    if isinstance(examples, str | Mapping) or not isinstance(examples, Iterable):
        raise CalibrationError(
            f"calibrate(examples={str(examples)[:60]!r}): a {type(examples).__name__} is not a list of "
            f"labelled examples. {_EXAMPLE_RULE} Fix: examples, rubrics = labelled_set(); "
            "calibrate(examples, judge, rubrics=rubrics)."
        )
    items: list[LabelledExample] = []
    for index, raw in enumerate(examples):
        items.append(
            raw
            if isinstance(raw, LabelledExample)
            else validated(LabelledExample, raw, source=f"calibrate: example {index}")
        )
    if not items:
        raise CalibrationError(
            "calibrate: no examples. Rule: at least one labelled example. Fix: labelled_set()."
        )
    if rubrics is not None and not isinstance(rubrics, Mapping):
        raise CalibrationError(
            f"calibrate(rubrics={str(rubrics)[:60]!r}): a {type(rubrics).__name__} is not a mapping. Rule: "
            "rubrics maps the rubric names the examples give to Rubric objects. Fix: "
            "rubrics={'answer': Rubric.load('answer.yaml')}, or rubric=... for all examples."
        )
    table = dict(rubrics or {})
    rows: list[CalibrationRow] = []
    spec: JudgeSpec | None = None
    for item in items:
        chosen = rubric
        if chosen is None:
            if item.rubric is None or item.rubric not in table:
                raise CalibrationError(
                    f"calibrate: example {item.id!r} names rubric {item.rubric!r}, which is not among "
                    f"{sorted(table)}. Rule: each example is graded on one rubric, given for all or looked "
                    "up by name. Fix: pass rubric=... for all examples or rubrics={name: Rubric}."
                )
            chosen = table[item.rubric]
        verdict = default_judge(item.candidate, chosen, context=item.context, using=judge)
        spec = verdict.judge
        rows.append(
            CalibrationRow(
                id=item.id,
                system=item.system,
                label=item.label,
                predicted=verdict.passed,
                status=verdict.status,
                total=verdict.total,
            )
        )
    return _summary(spec if spec is not None else JudgeSpec(name="unknown"), rows)


def labelled_set(*, synthetic: bool = False) -> tuple[list[LabelledExample], dict[str, Rubric]]:
    """The shipped labelled set and its rubrics by name.

    Args:
        synthetic: False (default): the real outputs of the reference systems, each labelled by an
            explicit rule (``judges/data/labelled.yaml``, written by ``python -m judges.calibration
            --harvest``), graded on ``judges/data/rubrics.yaml``. True: the 24 hand-written examples
            in the systems' output shapes (``judges/data/synthetic.yaml``), with their own rubrics.
    """
    import yaml

    data_dir = resources.files("judges").joinpath("data")
    if synthetic:
        data = yaml.safe_load(data_dir.joinpath("synthetic.yaml").read_text(encoding="utf-8"))
        source, bodies = "judges/data/synthetic.yaml", data["rubrics"]
        raw = [{**e, "synthetic": True} for e in data["examples"]]
    else:
        data = yaml.safe_load(data_dir.joinpath("labelled.yaml").read_text(encoding="utf-8"))
        source = "judges/data/labelled.yaml"
        bodies = yaml.safe_load(data_dir.joinpath("rubrics.yaml").read_text(encoding="utf-8"))
        rules = data.get("rules", {})
        raw = [{"rule": rules.get(e.get("system"), ""), **e} for e in data["examples"]]
    rubrics = {
        name: Rubric.from_dict({"name": name, **body}, source=f"{source}: rubrics.{name}")
        for name, body in bodies.items()
    }
    examples = [validated(LabelledExample, e, source=f"{source}: examples[{i}]") for i, e in enumerate(raw)]
    return examples, rubrics
