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
- the confusion counts and one row per example.

The labelled set for the reference systems ships in ``judges/data/labelled.yaml``
(:func:`labelled_set`); run ``python -m judges.calibration`` to calibrate a judge on it.
"""

from __future__ import annotations

import math
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

__all__ = ["Calibration", "CalibrationRow", "LabelledExample", "calibrate", "cohen_kappa", "labelled_set"]


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
        note: Why the label is what it is.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    candidate: Any
    label: bool
    rubric: str | None = None
    context: Any = None
    system: str | None = None
    note: str = ""


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


class Calibration(_CalibrationModel):
    """The outcome of :func:`calibrate`."""

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
    rows: tuple[CalibrationRow, ...] = Field(default_factory=tuple)

    def table(self) -> str:
        """A Markdown summary table."""
        kappa = "undefined" if math.isnan(self.kappa) else f"{self.kappa:.3f}"
        judge = self.judge.args.get("model") or self.judge.name
        lines = [
            "| judge | examples | scored | accuracy | Cohen's kappa | pass/pass | pass/fail | fail/pass "
            "| fail/fail |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {judge} ({self.judge.args.get('prompt', self.judge.name)}) | {self.n} | {self.scored} | "
            f"{self.accuracy:.3f} | {kappa} | {self.true_pass} | {self.false_fail} | {self.false_pass} | "
            f"{self.true_fail} |",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


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
    scored = [r for r in rows if r.predicted is not None]
    correct = sum(1 for r in scored if r.predicted == r.label)
    return Calibration(
        judge=spec if spec is not None else JudgeSpec(name="unknown"),
        n=len(rows),
        scored=len(scored),
        accuracy=round(correct / len(rows), 6),
        coverage=round(len(scored) / len(rows), 6),
        kappa=cohen_kappa([r.label for r in scored], [r.predicted for r in scored]),
        true_pass=sum(1 for r in scored if r.label and r.predicted),
        false_pass=sum(1 for r in scored if not r.label and r.predicted),
        true_fail=sum(1 for r in scored if not r.label and not r.predicted),
        false_fail=sum(1 for r in scored if r.label and not r.predicted),
        rows=tuple(rows),
    )


def labelled_set() -> tuple[list[LabelledExample], dict[str, Rubric]]:
    """The shipped labelled set for the reference systems' outputs, and its rubrics by name."""
    import yaml

    text = resources.files("judges").joinpath("data/labelled.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    rubrics = {
        name: Rubric.from_dict({"name": name, **body}, source=f"judges/data/labelled.yaml: rubrics.{name}")
        for name, body in data["rubrics"].items()
    }
    examples = [
        validated(LabelledExample, e, source=f"judges/data/labelled.yaml: examples[{i}]")
        for i, e in enumerate(data["examples"])
    ]
    return examples, rubrics
