"""Reading a judge's reply: structured scores become a scored :class:`Verdict`, or it is unscored.

The reply is one JSON object, ``{"rationale": "...", "scores": {"<criterion>": <level>}}``
(a fenced code block around it is tolerated). pydantic reads its shape; each score is then
checked against its criterion's scale. A reply that breaks either raises
:class:`MalformedReply` saying what is wrong, which the judge sends back once as a retry
before giving up with an *unscored* verdict (:func:`empty_verdict`), raw replies kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from judges._errors import MalformedReply
from judges._rubric import Rubric
from judges._verdict import CriterionScore, JudgeSpec, Verdict

__all__ = ["empty_verdict", "parse_reply", "scored_verdict"]


class _Reply(BaseModel):
    """The judge's reply as pydantic reads it; ranges are checked against the rubric after."""

    model_config = ConfigDict(extra="ignore")

    rationale: str = ""
    scores: dict[str, Any]


# No scale is wider than this; a larger number is garbage, not a level (and int(inf) raises).
_SANE = 1e9

_FENCED = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_reply(text: str, rubric: Rubric) -> tuple[dict[str, int], str]:
    """Parse one reply into (scores, rationale); raise :class:`MalformedReply` saying what is wrong."""
    if not text.strip():
        raise MalformedReply("the reply was empty")
    body = text.strip()
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        reply = _Reply.model_validate_json(body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "the reply"
        raise MalformedReply(f"{where}: {problem['msg']}") from None
    scores: dict[str, int] = {}
    problems: list[str] = []
    for criterion in rubric.criteria:
        value = reply.scores.get(criterion.name)
        if value is None:
            problems.append(f"scores.{criterion.name} is missing")
            continue
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= _SANE):
            # 1e400 reads as inf, NaN compares unequal to everything: neither is a level
            problems.append(
                f"scores.{criterion.name}={value!r} is not a finite number; a score is an integer level "
                f"of the scale {criterion.low}-{criterion.high}"
            )
            continue
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SANE:
            problems.append(
                f"scores.{criterion.name}={value} is outside the scale {criterion.low}-{criterion.high}"
            )
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            problems.append(f"scores.{criterion.name}={value!r} is not an integer level")
            continue
        if int(value) not in criterion.scale:
            problems.append(
                f"scores.{criterion.name}={int(value)} is outside the scale {criterion.low}-{criterion.high}"
            )
            continue
        scores[criterion.name] = int(value)
    if problems:
        raise MalformedReply("; ".join(problems))
    return scores, reply.rationale.strip()


def scored_verdict(
    rubric: Rubric,
    scores: dict[str, int],
    *,
    rationale: str,
    raw: Sequence[str],
    judge: JudgeSpec,
    candidate: str,
    context: str | None,
) -> Verdict:
    """The verdict of a valid reply: each level with its anchor, the weighted total, pass/fail."""
    total = rubric.total(scores)
    return Verdict(
        rubric=rubric,
        status="scored",
        passed=rubric.passes(total),
        total=round(total, 6),
        scores=tuple(
            CriterionScore(
                criterion=c.name,
                score=scores[c.name],
                low=c.low,
                high=c.high,
                weight=c.weight,
                anchor=c.scale[scores[c.name]],
            )
            for c in rubric.criteria
        ),
        rationale=rationale,
        raw=tuple(raw),
        judge=judge,
        candidate=candidate,
        context=context,
    )


def empty_verdict(
    rubric: Rubric,
    status: Literal["unscored", "indeterminate"],
    reason: str,
    *,
    judge: JudgeSpec,
    candidate: str,
    context: str | None,
    raw: Sequence[str] = (),
    rationale: str = "",
) -> Verdict:
    """A verdict without scores (``passed`` None): unscored or indeterminate, ``reason`` saying why."""
    return Verdict(
        rubric=rubric,
        status=status,
        passed=None,
        scores=tuple(
            CriterionScore(criterion=c.name, score=None, low=c.low, high=c.high, weight=c.weight)
            for c in rubric.criteria
        ),
        reason=reason,
        raw=tuple(raw),
        rationale=rationale,
        judge=judge,
        candidate=candidate,
        context=context,
    )
