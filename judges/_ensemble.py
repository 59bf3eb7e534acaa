"""Ensembles: several judges (or several samples of one) vote on a candidate.

``Ensemble([judge_a, judge_b, judge_c])`` asks each member; ``Ensemble.samples(judge, n=5)``
asks one model ``n`` times with distinct seeds and delimiters. Members' verdicts combine by

- ``median`` (default): each criterion gets the median of the members' scores, and the
  weighted total of those medians decides pass/fail against the threshold;
- ``majority``: each member passes or fails; the majority decides (an even split is
  *indeterminate*); each criterion shows its most common score (ties: the lower).

Agreement is reported: ``verdict.agreement`` is the share of scored members whose
pass/fail equals the combined one, and each criterion's ``agreement`` the share of
members that gave the combined score. Variance is reported too: ``verdict.spread`` (a
:class:`~judges.ScoreSpread`) holds the lowest, highest and mean member total, their
standard deviation and the share of members on the majority side, so a verdict that a
second sample could flip shows as one. An indeterminate member makes the ensemble
indeterminate; unscored members are left out, and if all are unscored so is the ensemble.
The ensemble's token cost is the sum of its members'.

``Ensemble.samples(judge, n)`` varies only the seed (0..n-1, sent to the endpoint) and the
fence delimiter per member, at ``temperature`` 0.7 by default: each member's request is
fixed, so the samples are recorded once and replay exactly. ``await ensemble.aevaluate(...)``
asks the members concurrently.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from judges._errors import JudgeConfigError
from judges._judge import Judge
from judges._model import validated
from judges._protocol import JudgeLike, JudgePrompt, VerdictCallback
from judges._registry import build_judge, register_judge
from judges._rubric import Rubric
from judges._verdict import CriterionScore, JudgeSpec, ScoreSpread, Verdict

__all__ = ["Combine", "Ensemble"]

Combine = Literal["median", "majority"]


class Ensemble(JudgeLike):
    """Several judges voting; called like a :class:`~judges.Judge`.

    Args:
        members: At least two judges (any mix of models or prompts).
        combine: ``"median"`` or ``"majority"`` (see the module docs).

    Raises:
        JudgeConfigError: Fewer than two members, a member that is not a judge, or an unknown
            ``combine``.
    """

    def __init__(self, members: Sequence[JudgeLike], *, combine: Combine = "median") -> None:
        if isinstance(members, JudgeLike | str | Mapping) or not isinstance(members, Iterable):
            raise JudgeConfigError(
                f"Ensemble(members={members!r}): a {type(members).__name__} is not a list of judges. Rule: "
                "members is a sequence of at least two judges. Fix: Ensemble([Judge(model='a'), "
                "Judge(model='b')]) or Ensemble.samples(judge, n=3)."
            )
        members = list(members)
        if len(members) < 2:
            raise JudgeConfigError(
                f"Ensemble(members=<{len(members)} judge(s)>): an ensemble needs at least two members. Rule: "
                "members vote, and one member is just the judge itself. Fix: "
                "Ensemble([Judge(model='a'), Judge(model='b')]) or Ensemble.samples(judge, n=3)."
            )
        for index, member in enumerate(members):
            if not isinstance(member, JudgeLike):
                raise JudgeConfigError(
                    f"Ensemble(members[{index}]={member!r}): a {type(member).__name__} is not a judge. Rule: "
                    "members are judges.Judge (or Ensemble) objects. Fix: wrap a model name as "
                    f"Judge(model={str(member)!r})."
                )
        if combine not in ("median", "majority"):
            raise JudgeConfigError(
                f"Ensemble(combine={combine!r}): unknown way to combine. Rule: accepted: 'median', "
                "'majority'. Fix: combine='median' (the default)."
            )
        self.members = members
        self.combine: Combine = combine
        self.on_verdict: list[VerdictCallback] = []

    @classmethod
    def samples(
        cls, judge: Judge, n: int = 3, *, temperature: float = 0.7, combine: Combine = "median"
    ) -> Ensemble:
        """``n`` samples of one judge, each with its own seed (0..n-1) and delimiter."""
        if not isinstance(judge, Judge):
            raise JudgeConfigError(
                f"Ensemble.samples(judge={judge!r}): a {type(judge).__name__} is not a judges.Judge. Rule: "
                "samples re-ask one model with distinct seeds. Fix: Ensemble.samples(Judge('smollm2'), n=3)."
            )
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise JudgeConfigError(
                f"Ensemble.samples(n={n!r}): n must be an int >= 2. Rule: one sample is just the judge "
                "itself. Fix: n=3."
            )
        if judge.cassette is not None:
            judge.open_cassette()  # the members share one open cassette: their recordings stay together
        return cls(
            [judge.replace(sample=i, seed=i, temperature=temperature) for i in range(n)], combine=combine
        )

    @property
    def spec(self) -> JudgeSpec:
        return JudgeSpec(
            name="ensemble",
            args={"members": [m.spec.model_dump(mode="json") for m in self.members], "combine": self.combine},
        )

    def __repr__(self) -> str:
        return f"Ensemble({len(self.members)} members, combine={self.combine!r})"

    def _verdict(
        self, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None = None
    ) -> Verdict:
        verdicts = [member_verdict(m, text, rubric, context, log, prompt) for m in self.members]
        return combine_verdicts(verdicts, rubric, self.combine, self.spec, text, context)

    async def _averdict(
        self, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None = None
    ) -> Verdict:
        verdicts = await asyncio.gather(
            *(amember_verdict(m, text, rubric, context, log, prompt) for m in self.members)
        )
        return combine_verdicts(verdicts, rubric, self.combine, self.spec, text, context)


def member_verdict(
    judge: JudgeLike, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None
) -> Verdict:
    """``judge._verdict(...)``, passing ``prompt`` on only when given (a user's judge may take none)."""
    if prompt is None:
        return judge._verdict(text, rubric, context, log)
    return judge._verdict(text, rubric, context, log, prompt)  # type: ignore[call-arg]


async def amember_verdict(
    judge: JudgeLike, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None
) -> Verdict:
    """:func:`member_verdict`, awaited."""
    if prompt is None:
        return await judge._averdict(text, rubric, context, log)
    return await judge._averdict(text, rubric, context, log, prompt)  # type: ignore[call-arg]


def score_spread(scored: Sequence[Verdict]) -> ScoreSpread | None:
    """The spread of scored members' totals (None without a scored member)."""
    totals = [float(v.total) for v in scored if v.total is not None]
    if not totals:
        return None
    yes = sum(1 for v in scored if v.passed)
    return ScoreSpread(
        n=len(totals),
        low=round(min(totals), 6),
        high=round(max(totals), 6),
        mean=round(statistics.fmean(totals), 6),
        stdev=round(statistics.stdev(totals), 6) if len(totals) > 1 else 0.0,
        majority=round(max(yes, len(scored) - yes) / len(scored), 6),
    )


def combine_verdicts(
    verdicts: Sequence[Verdict],
    rubric: Rubric,
    combine: Combine,
    spec: JudgeSpec,
    text: str,
    context: str | None,
) -> Verdict:
    """Combine members' verdicts (see the module docs)."""
    members = tuple(verdicts)
    base: dict[str, Any] = {
        "rubric": rubric,
        "judge": spec,
        "candidate": text,
        "context": context,
        "members": members,
        "prompt_tokens": sum(v.prompt_tokens for v in members),
        "completion_tokens": sum(v.completion_tokens for v in members),
    }
    empty = tuple(
        CriterionScore(criterion=c.name, score=None, low=c.low, high=c.high, weight=c.weight)
        for c in rubric.criteria
    )
    odd = [v for v in members if v.status == "indeterminate"]
    if odd:
        return Verdict(
            status="indeterminate",
            passed=None,
            scores=empty,
            reason=f"{len(odd)} of {len(members)} members indeterminate: {odd[0].reason}",
            **base,
        )
    scored = [v for v in members if v.status == "scored"]
    if not scored:
        return Verdict(
            status="unscored",
            passed=None,
            scores=empty,
            reason=f"all {len(members)} members unscored: {members[0].reason}",
            **base,
        )
    note = (
        f"{len(members) - len(scored)} of {len(members)} members unscored"
        if len(scored) < len(members)
        else None
    )
    combined: dict[str, float] = {}
    agreement: dict[str, float] = {}
    for c in rubric.criteria:
        values = [float(v.score_of(c.name)) for v in scored]  # type: ignore[arg-type]
        if combine == "median":
            value = float(statistics.median(values))
        else:
            counts = Counter(values)
            top = max(counts.values())
            value = min(v for v, k in counts.items() if k == top)
        combined[c.name] = value
        agreement[c.name] = round(sum(1 for v in values if v == value) / len(values), 6)
    total = rubric.total(combined)
    base["spread"] = score_spread(scored)
    if combine == "median":
        passed: bool | None = rubric.passes(total)
    else:
        yes = sum(1 for v in scored if v.passed)
        no = len(scored) - yes
        passed = True if yes > no else False if no > yes else None
    scores = tuple(
        CriterionScore(
            criterion=c.name,
            score=combined[c.name],
            low=c.low,
            high=c.high,
            weight=c.weight,
            anchor=c.scale.get(int(combined[c.name])) if float(combined[c.name]).is_integer() else None,
            agreement=agreement[c.name],
        )
        for c in rubric.criteria
    )
    if passed is None:
        return Verdict(
            status="indeterminate",
            passed=None,
            total=round(total, 6),
            scores=scores,
            reason=f"the {len(scored)} scored members split evenly between pass and fail",
            **base,
        )
    share = sum(1 for v in scored if v.passed == passed) / len(scored)
    rationale = next((v.rationale for v in scored if v.passed == passed and v.rationale), "")
    return Verdict(
        status="scored",
        passed=passed,
        total=round(total, 6),
        scores=scores,
        rationale=rationale,
        reason=note,
        agreement=round(share, 6),
        **base,
    )


def _build_ensemble(members: Sequence[Mapping[str, Any]], combine: Combine = "median") -> Ensemble:
    return Ensemble(
        [
            build_judge(validated(JudgeSpec, m, source=f"JudgeSpec ensemble members[{i}]"))
            for i, m in enumerate(members)
        ],
        combine=combine,
    )


register_judge("ensemble", _build_ensemble)
