"""Verdicts: what a judge said about one candidate, in a form that can be stored and re-scored.

A verdict has three outcomes, never silently collapsed into two:

- ``scored``: the judge gave a valid score for every criterion; ``passed`` is True or False;
- ``unscored``: the judge's reply could not be parsed, even after one retry; ``passed`` is
  None, ``reason`` says why and ``raw`` keeps every reply;
- ``indeterminate``: the judge or the candidate rests on *substituted* LLM content (a
  cassette miss answered by the ``nearest`` policy), so the score says nothing about the
  system; ``passed`` is None.

``bool(verdict)`` raises :class:`VerdictTruthError` (a :class:`TypeError`) on purpose:
``assert verdict`` would otherwise pass for an unscored verdict. Use ``assert verdict.passed``
(the ``judge`` fixture prints the per-criterion table when such an assert fails) or
``verdict.assert_passed()`` (raises :class:`VerdictFailed` whose message is the table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from judges._errors import JudgeConfigError, UnknownCriterion, VerdictFailed, VerdictTruthError
from judges._model import JudgesModel
from judges._registry import build_judge
from judges._rubric import Rubric

if TYPE_CHECKING:
    from judges._protocol import JudgeLike

__all__ = ["CriterionScore", "JudgeSpec", "ScoreSpread", "Verdict", "VerdictStatus"]

VerdictStatus = Literal["scored", "unscored", "indeterminate"]


class JudgeSpec(JudgesModel):
    """How to rebuild the judge that produced a verdict: a registered name plus arguments.

    Credentials are never part of a spec; a rebuilt judge reads its key from the environment.
    """

    model_config = ConfigDict(frozen=True)
    _error = JudgeConfigError
    _what = "judge spec"
    _rule = (
        "Rule: a judge spec is name (the name a factory is registered under, e.g. 'openai') and args "
        "(a mapping of the factory's keyword arguments). Fix: use the spec a judge gives (judge.spec)."
    )

    name: str
    args: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> JudgeLike:
        """Rebuild the judge (e.g. to re-score a stored candidate)."""
        return build_judge(self)


_VERDICT_RULE = (
    "Rule: verdicts and their criterion scores are built by a judge; stored ones are read back with "
    "Verdict.model_validate_json. Fix: build it from a judge's verdict (verdict.model_copy(update=...)) "
    "rather than by hand, or give every required field a value of its type."
)


class CriterionScore(JudgesModel):
    """One criterion's score in a verdict.

    Attributes:
        criterion: The criterion's name.
        score: The level the judge picked (the median for ensembles), None when unscored.
        low: The lowest level of the scale.
        high: The highest level of the scale.
        weight: The criterion's weight.
        anchor: The anchor sentence of the picked level.
        agreement: For ensembles: the share of members that gave the combined score.
    """

    model_config = ConfigDict(frozen=True)
    _what = "criterion score"
    _rule = _VERDICT_RULE

    criterion: str
    score: float | None
    low: int
    high: int
    weight: float
    anchor: str | None = None
    agreement: float | None = None


class ScoreSpread(JudgesModel):
    """How much an ensemble's members disagree: the spread of their weighted totals.

    Attributes:
        n: Scored members (unscored members are left out).
        low: The lowest member total.
        high: The highest member total.
        mean: The mean member total.
        stdev: The sample standard deviation of the member totals (0 with one member).
        majority: The share of scored members on the side (pass or fail) most members took.
    """

    model_config = ConfigDict(frozen=True)
    _what = "score spread"
    _rule = _VERDICT_RULE

    n: int
    low: float
    high: float
    mean: float
    stdev: float
    majority: float

    def line(self) -> str:
        """``totals 0.00..1.00 (mean 0.67, sd 0.58) over 3 scored members, 67% with the majority``."""
        return (
            f"totals {self.low:.2f}..{self.high:.2f} (mean {self.mean:.2f}, sd {self.stdev:.2f}) over "
            f"{self.n} scored member{'s' if self.n != 1 else ''}, {self.majority:.0%} with the majority"
        )


class Verdict(JudgesModel):
    """A judge's verdict on one candidate. See the module docs for the three outcomes.

    Attributes:
        rubric: The rubric it was scored against (kept whole, so a stored verdict re-scores).
        status: ``scored``, ``unscored`` or ``indeterminate``.
        passed: True/False when scored; None otherwise (never a silent pass or fail).
        total: The weighted total in ``[0, 1]``, None when unscored.
        scores: One :class:`CriterionScore` per criterion, in rubric order.
        rationale: The judge's explanation.
        reason: Why the verdict is unscored or indeterminate.
        raw: The judge's raw replies, in order (a retry adds one).
        judge: The judge's spec (name + args).
        candidate: The candidate text as the judge saw it.
        context: The task/context text given to the judge.
        agreement: For ensembles: the share of members whose pass/fail matches the verdict.
        spread: For ensembles: the spread of the members' totals (:class:`ScoreSpread`).
        members: For ensembles: the members' verdicts.
        cached: Whether the verdict came from a verdict cache (its tokens were not spent again).
        prompt_tokens: Prompt tokens the verdict cost (every attempt, every member), from the
            replies' ``usage``; recorded in the cassette, so a replay reports the same cost. A
            cached verdict keeps the cost of the call that produced it.
        completion_tokens: Completion tokens the verdict cost.
    """

    model_config = ConfigDict(frozen=True)
    _what = "verdict"
    _rule = _VERDICT_RULE

    rubric: Rubric
    status: VerdictStatus
    passed: bool | None
    total: float | None = None
    scores: tuple[CriterionScore, ...] = ()
    rationale: str = ""
    reason: str | None = None
    raw: tuple[str, ...] = ()
    judge: JudgeSpec
    candidate: str = ""
    context: str | None = None
    agreement: float | None = None
    spread: ScoreSpread | None = None
    members: tuple[Verdict, ...] = ()
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0

    # -- reading ------------------------------------------------------------------------
    def __bool__(self) -> bool:
        raise VerdictTruthError(
            f"bool(verdict) on a verdict with status {self.status!r}: a Verdict has three outcomes (scored, "
            "unscored, indeterminate), so it has no truth value. Rule: `assert verdict` would pass for a "
            "verdict the judge never scored. Fix: use `assert verdict.passed` or `verdict.assert_passed()`."
        )

    def score_of(self, criterion: str) -> float | None:
        """The score given for ``criterion``."""
        for item in self.scores:
            if item.criterion == criterion:
                return item.score
        raise UnknownCriterion(
            f"verdict has no criterion {criterion!r}. Rule: ask for one of the criteria of its rubric "
            f"{self.rubric.name!r}, {[s.criterion for s in self.scores]}. Fix: check the spelling."
        )

    @property
    def outcome(self) -> str:
        """PASSED, FAILED, UNSCORED or INDETERMINATE."""
        if self.status != "scored":
            return self.status.upper()
        return "PASSED" if self.passed else "FAILED"

    def table(self) -> str:
        """A readable per-criterion table: what each criterion got, the total and the threshold."""
        threshold = self.rubric.pass_threshold
        if self.total is not None:
            relation = ">=" if self.rubric.passes(self.total) else "<"
            head = f"total {self.total:.2f} {relation} threshold {threshold:.2f}"
        else:
            head = f"no total (threshold {threshold:.2f})"
        judge = self.judge.args.get("model") or self.judge.name
        lines = [f"Verdict {self.outcome}: rubric {self.rubric.name!r}, {head}, judge {judge}"]
        if self.agreement is not None:
            lines[0] += f", agreement {self.agreement:.2f} over {len(self.members)} members"
        if self.prompt_tokens or self.completion_tokens:
            lines[0] += f", {self.prompt_tokens}+{self.completion_tokens} tokens"
        rows = [("criterion", "weight", "score", "anchor")]
        for item in self.scores:
            shown = "-" if item.score is None else _number(item.score)
            score = f"{shown}/{item.high}" + (
                f" ({item.agreement:.0%} agree)" if item.agreement is not None else ""
            )
            rows.append((item.criterion, _number(item.weight), score, item.anchor or ""))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            lines.append("  " + "  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3])
        if self.spread is not None:
            lines.append(f"spread: {self.spread.line()}")
        if self.reason:
            lines.append(f"reason: {self.reason}")
        if self.rationale:
            lines.append(f"rationale: {_clip(self.rationale, 400)}")
        if self.status == "unscored" and self.raw:
            for index, reply in enumerate(self.raw, start=1):
                lines.append(f"raw reply {index}: {_clip(reply, 300)!r}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def assert_passed(self) -> Verdict:
        """Return the verdict if it passed; raise :class:`VerdictFailed` (the table) otherwise.

        Unscored and indeterminate verdicts do not pass.
        """
        if self.passed is True:
            return self
        raise VerdictFailed(self.table())

    def rescore(self, judge: JudgeLike | None = None) -> Verdict:
        """Score the stored candidate again: with ``judge``, or the judge rebuilt from :attr:`judge`."""
        if judge is not None and not callable(judge):
            raise JudgeConfigError(
                f"verdict.rescore(judge={judge!r}): a {type(judge).__name__} is not a judge. Rule: pass a "
                "judges.Judge (or Ensemble), or nothing to rebuild the judge from the verdict's spec. Fix: "
                "verdict.rescore(Judge('smollm2'))."
            )
        chosen = judge if judge is not None else self.judge.build()
        return chosen(self.candidate, self.rubric, context=self.context)

    def detail(self) -> dict[str, Any]:
        """The JSON-able detail stored on a ``verdict`` event in a run log."""
        return {
            "scores": {s.criterion: s.score for s in self.scores},
            "rationale": self.rationale,
            "reason": self.reason,
            "judge": self.judge.model_dump(mode="json"),
            "threshold": self.rubric.pass_threshold,
            "agreement": self.agreement,
            "spread": self.spread.model_dump(mode="json") if self.spread is not None else None,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached": self.cached,
        }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _clip(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 3] + "..."
