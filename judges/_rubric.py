"""Rubrics: what a judge scores, as data.

A :class:`Rubric` is a named list of :class:`Criterion` objects and a pass threshold.
Each criterion has a description, a scale with one anchor sentence per level, and a
weight. The weighted total of a verdict is normalised to ``[0, 1]``: each criterion's
score is mapped onto ``[0, 1]`` (its lowest level is 0, its highest 1), and the mapped
scores are averaged with the weights. The verdict passes when the total is at least
``pass_threshold``.

Rubrics are built in Python or loaded from YAML/JSON (:meth:`Rubric.load`,
:meth:`Rubric.from_yaml`, :meth:`Rubric.from_json`, :meth:`Rubric.from_dict`); every
way in gives the same validation, and a broken rubric raises :class:`RubricError`
naming the field, the value, the rule and the fix.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, field_validator, model_validator

from judges._errors import RubricError, UnknownCriterion
from judges._model import JudgesModel, validated

__all__ = ["Criterion", "Rubric", "WorkedExample", "as_rubric"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FORMAT_HINT = "See 'Rubric format' in docs/judges.md for a complete example."
_FIELDS_RULE = (
    "Rule: a rubric has name, criteria (at least one), pass_threshold and description; a criterion has "
    f"name, description, scale and weight. {_FORMAT_HINT}"
)


class Criterion(JudgesModel):
    """One thing a judge scores.

    Attributes:
        name: An identifier (letters, digits, underscores; used as a JSON key in the
            judge's reply), e.g. ``"correctness"``.
        description: What the criterion asks, in one or two sentences.
        scale: One anchor sentence per level, ``{1: "...", 2: "...", 3: "..."}``. Levels
            are consecutive integers; a list is read as levels 1, 2, 3, ...
        weight: How much the criterion counts in the weighted total (> 0).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    _error = RubricError
    _what = "criterion"
    _rule = _FIELDS_RULE

    name: str
    description: str
    scale: dict[int, str]
    weight: float = 1.0

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_from_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {i + 1: anchor for i, anchor in enumerate(value)}
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise RubricError(
                f"name {value!r} is not an identifier. Rule: letters, digits and underscores, starting "
                "with a letter or underscore, at most 64 characters (it becomes a JSON key in the judge's "
                f"reply). Fix: e.g. {re.sub(r'[^A-Za-z0-9_]+', '_', value).strip('_') or 'correctness'!r}."
            )
        return value

    @field_validator("description")
    @classmethod
    def _check_description(cls, value: str) -> str:
        if not value.strip():
            raise RubricError(
                "description is empty. Rule: say what the criterion asks, e.g. 'Is every number in the "
                "answer taken from the task?'. Fix: add a description."
            )
        return value.strip()

    @field_validator("weight")
    @classmethod
    def _check_weight(cls, value: float) -> float:
        if not value > 0 or value != value or value == float("inf"):
            raise RubricError(
                f"weight {value!r} is not allowed. Rule: a finite number > 0. Fix: use 1 for equal "
                "weights; drop the criterion instead of giving it weight 0."
            )
        return float(value)

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, value: dict[int, str]) -> dict[int, str]:
        levels = sorted(value)
        if len(levels) < 2:
            raise RubricError(
                f"scale {value!r} has {len(levels)} level(s). Rule: at least two levels, one anchor sentence "
                "each. Fix: e.g. {1: 'the answer is wrong', 2: 'the answer is right'}."
            )
        if levels != list(range(levels[0], levels[-1] + 1)):
            raise RubricError(
                f"scale levels {levels} are not consecutive. Rule: consecutive integers such as 1, 2, 3 "
                "(a judge picks one of them). Fix: renumber the levels."
            )
        if levels[0] < 0:
            raise RubricError(
                f"scale levels {levels} start below 0. Rule: levels are >= 0. Fix: start at 0 or 1."
            )
        blank = [lv for lv in levels if not str(value[lv]).strip()]
        if blank:
            raise RubricError(
                f"scale level(s) {blank} have no anchor sentence. Rule: every level says what an answer at "
                "that level looks like; anchors are what makes scores comparable. Fix: write one sentence "
                "per level."
            )
        return {lv: str(value[lv]).strip() for lv in levels}

    @property
    def low(self) -> int:
        """The lowest level of the scale."""
        return min(self.scale)

    @property
    def high(self) -> int:
        """The highest level of the scale."""
        return max(self.scale)

    def normalised(self, score: float) -> float:
        """``score`` mapped onto ``[0, 1]``: the lowest level is 0, the highest 1."""
        return (score - self.low) / (self.high - self.low)


class WorkedExample(JudgesModel):
    """A graded example shown to the judge before the candidate (few-shot), with its right reply.

    A small judge model applies a rubric far more reliably when it has seen the rubric applied:
    each worked example is sent as an earlier turn of the conversation, the request exactly as a
    real one is phrased and the reply the judge should give, rationale first. Write them by hand,
    in the shape of the real outputs, and never copy an example you measure the judge on into
    them (the calibration set in judges/data/labelled.yaml and these are disjoint).

    Attributes:
        candidate: The example output (a string, or data rendered as indented JSON like a real one).
        context: The example's task, or None.
        scores: The right level for every criterion of the rubric.
        rationale: The right reply's rationale: what a grader reads in the candidate, in one line.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    _error = RubricError
    _what = "worked example"
    _rule = _FIELDS_RULE

    candidate: Any
    context: str | None = None
    scores: dict[str, int]
    rationale: str

    @field_validator("rationale")
    @classmethod
    def _check_rationale(cls, value: str) -> str:
        if not value.strip():
            raise RubricError(
                "rationale is empty. Rule: a worked example shows the judge what to read before it scores. "
                "Fix: write one line, e.g. 'web_search is not in sources_used and the answer omits it'."
            )
        return value.strip()


class Rubric(JudgesModel):
    """A named set of criteria and a pass threshold.

    Attributes:
        name: The rubric's name, shown in verdicts and reports.
        criteria: At least one criterion; names are unique.
        pass_threshold: The weighted total (in ``[0, 1]``) a verdict needs to pass.
        description: Optional: what the rubric is for.
        examples: Optional worked examples (:class:`WorkedExample`) shown to the judge before
            the candidate, each with its right scores and rationale. A rubric with examples is
            sent as a conversation (rubric, then each example and its reply, then the candidate)
            and the judge is asked for its rationale before its scores, as the examples show.

    Example::

        Rubric(
            name="refund_answer",
            criteria=[
                Criterion(name="correct", description="Is the refund amount right?",
                          scale={1: "wrong amount", 2: "right amount"}, weight=2),
                Criterion(name="polite", description="Is the tone polite?",
                          scale=["rude", "neutral", "polite"]),
            ],
            pass_threshold=0.75,
        )
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    _error = RubricError
    _what = "rubric"
    _rule = _FIELDS_RULE

    name: str
    criteria: Sequence[Criterion]
    pass_threshold: float = 0.5
    description: str = ""
    examples: Sequence[WorkedExample] = ()

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value.strip():
            raise RubricError("name is empty. Rule: a rubric has a name shown in verdicts. Fix: name it.")
        return value.strip()

    @field_validator("pass_threshold")
    @classmethod
    def _check_threshold(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise RubricError(
                f"pass_threshold {value!r} is outside [0, 1]. Rule: the threshold applies to the weighted "
                "total normalised to [0, 1] (0 = every criterion at its lowest level, 1 = all at the "
                "highest). Fix: e.g. 0.75 for 'three quarters of the way up'."
            )
        return float(value)

    @field_validator("criteria", mode="after")
    @classmethod
    def _as_tuple(cls, value: Sequence[Criterion]) -> tuple[Criterion, ...]:
        if not value:
            raise RubricError(
                "a rubric needs at least one criterion. Rule: a judge scores a rubric criterion by "
                "criterion. Fix: add one, e.g. {'name': 'correct', 'description': 'Is it right?', "
                "'scale': ['wrong', 'right']}."
            )
        return tuple(value)

    @model_validator(mode="after")
    def _unique_names(self) -> Rubric:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.name in seen:
                raise RubricError(
                    f"criterion name {criterion.name!r} appears twice. Rule: criterion names are unique "
                    "(they are keys in the judge's reply). Fix: rename or merge the criteria."
                )
            seen.add(criterion.name)
        for i, example in enumerate(self.examples):
            names = {c.name: c for c in self.criteria}
            if set(example.scores) != set(names):
                raise RubricError(
                    f"examples[{i}].scores {dict(example.scores)!r} do not score exactly the criteria "
                    f"{sorted(names)}. Rule: a worked example shows the full right reply. Fix: give one "
                    "level per criterion."
                )
            for name, level in example.scores.items():
                if level not in names[name].scale:
                    raise RubricError(
                        f"examples[{i}].scores[{name!r}] = {level!r} is not a level of its scale "
                        f"{sorted(names[name].scale)}. Rule: an example scores on the criterion's own scale. "
                        "Fix: use one of those levels."
                    )
        return self

    @field_validator("examples", mode="after")
    @classmethod
    def _examples_tuple(cls, value: Sequence[WorkedExample]) -> tuple[WorkedExample, ...]:
        return tuple(value)

    # -- scoring ---------------------------------------------------------------------------
    def criterion(self, name: str) -> Criterion:
        """The criterion called ``name``."""
        for criterion in self.criteria:
            if criterion.name == name:
                return criterion
        raise UnknownCriterion(
            f"rubric {self.name!r} has no criterion {name!r}. Rule: ask for one of its criteria, "
            f"{[c.name for c in self.criteria]}. Fix: check the spelling or use the rubric that has it."
        )

    def total(self, scores: Mapping[str, float]) -> float:
        """The weighted total in ``[0, 1]`` of per-criterion ``scores`` (all criteria required)."""
        missing = [c.name for c in self.criteria if c.name not in scores]
        if missing:
            raise UnknownCriterion(
                f"rubric {self.name!r}: scores {dict(scores)!r} lack criteria {missing}. Rule: the weighted "
                "total needs a score for every criterion. Fix: score each of "
                f"{[c.name for c in self.criteria]}."
            )
        weights = sum(c.weight for c in self.criteria)
        return sum(c.weight * c.normalised(scores[c.name]) for c in self.criteria) / weights

    def passes(self, total: float) -> bool:
        """Whether a weighted ``total`` meets the pass threshold (with float tolerance)."""
        return total >= self.pass_threshold - 1e-9

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "rubric") -> Rubric:
        """Build and validate a rubric from plain data (what YAML/JSON parse to)."""
        if not isinstance(data, Mapping):
            raise RubricError(
                f"{source}: the top level is a {type(data).__name__}, not a mapping. Rule: a rubric is a "
                "mapping with keys name, criteria and optionally pass_threshold, description. "
                f"Fix: write it as a mapping. {_FORMAT_HINT}"
            )
        return validated(cls, data, source=source)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<json>") -> Rubric:
        """Parse a rubric from JSON text."""
        _check_text(text, "Rubric.from_json", source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RubricError(
                f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). Rule: "
                f"from_json reads a JSON object. Fix: correct the JSON there. {_FORMAT_HINT}"
            ) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<yaml>") -> Rubric:
        """Parse a rubric from YAML text."""
        import yaml

        _check_text(text, "Rubric.from_yaml", source)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RubricError(
                f"{source}: not valid YAML ({exc}). Rule: from_yaml reads a YAML mapping. Fix: correct the "
                f"YAML at the place named. {_FORMAT_HINT}"
            ) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Rubric:
        """Load a rubric file: ``.yaml``/``.yml`` as YAML, anything else as JSON."""
        if not isinstance(path, str | os.PathLike):
            raise RubricError(
                f"Rubric.load(path={path!r}): a {type(path).__name__} is not a path. Rule: pass the path of "
                "a rubric file as a str or pathlib.Path. Fix: Rubric.load('rubrics/answer.yaml')."
            )
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RubricError(
                f"{p}: no such rubric file. Rule: Rubric.load reads an existing .yaml/.yml (YAML) or other "
                "(JSON) file. Fix: pass the path of a .yaml or .json rubric."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RubricError(
                f"{p}: the rubric file cannot be read ({exc}). Rule: a rubric file is UTF-8 text. Fix: check "
                "the path and the file's permissions and encoding."
            ) from None
        if p.suffix.lower() in (".yaml", ".yml"):
            return cls.from_yaml(text, source=str(p))
        return cls.from_json(text, source=str(p))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal rubric.

        ``examples`` appears only when the rubric has some, so a rubric without examples keeps the
        plain data (and the request digests, delimiters and cache keys made from it) it always had.
        """
        return self.model_dump(mode="json", exclude=None if self.examples else {"examples"})


def _check_text(text: object, where: str, source: str) -> None:
    if not isinstance(text, str):
        raise RubricError(
            f"{where}(text={str(text)[:60]!r}, source={source!r}): the text is a {type(text).__name__}. "
            f"Rule: {where} parses a str. Fix: pass the file's text, or use Rubric.load(path) for a file "
            "and Rubric.from_dict(data) for parsed data."
        )


def as_rubric(rubric: object) -> Rubric:
    """``rubric`` as a :class:`Rubric`: a Rubric as is, a mapping validated, a path loaded."""
    if isinstance(rubric, Rubric):
        return rubric
    if isinstance(rubric, Mapping):
        return Rubric.from_dict(rubric)
    if isinstance(rubric, str | os.PathLike):
        return Rubric.load(rubric)
    raise RubricError(
        f"rubric={type(rubric).__name__} ({str(rubric)[:60]!r}) is not a rubric. Rule: pass a judges.Rubric, "
        "a mapping (Rubric.from_dict) or the path of a YAML/JSON rubric file. Fix: "
        "judge(output, Rubric.load('r.yaml'))."
    )
