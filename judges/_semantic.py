"""Judge-backed semantic checks for the checkers: goal drift at handoffs, rubric postconditions.

Two checkers join the registry, both **off by default** (they need an LLM) and selected
by name (``@pytest.mark.chaos(checks=["default", ...])`` is not enough; list them):

- ``goal_drift_judged``: the ``goal_drift`` checker with a judge asked, at every handoff
  and at the final output, "does this keep the task's constraint?" (a faithful paraphrase
  counts, a dropped or weakened constraint does not). The judge can only *overrule* the
  literal rule as ``goal_drift`` allows: a ``False`` flags a drop even if the literal
  value appears; an undecided verdict (unscored, indeterminate) leaves the literal rule.
- ``phantom_completion_judged``: for each agent given a rubric with
  :func:`configure_semantic_checks`, every time it ends ``ok`` its result (what it
  reported, else its last handoff payload, else its last LLM reply) is judged; a failing
  verdict is a phantom completion (the agent said done, the rubric says
  not done).

At run time, :func:`rubric_postcondition` judges a value and records the outcome as a
``postcondition`` event, which the built-in ``phantom_completion`` checker reads.

Configure the judge once (e.g. in ``conftest.py``)::

    configure_semantic_checks(judge=Judge("smollm2", cassette="cassettes/judges/semantic.json"),
                              postconditions={"writer": Rubric.load("rubrics/article.yaml")})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import RunLog
from harness.checkers import Violation, checker
from harness.events import AgentEnd, Handoff, LLMCall
from judges._errors import JudgeConfigError, RubricError
from judges._judge import judge as run_judge
from judges._protocol import JudgeLike
from judges._rubric import Criterion, Rubric
from judges._verdict import Verdict

__all__ = [
    "CONSTRAINT_RUBRIC",
    "configure_semantic_checks",
    "constraint_check",
    "rubric_postcondition",
]

CONSTRAINT_RUBRIC = Rubric(
    name="constraint_kept",
    description="Does a handoff or an output keep a hard constraint of the task?",
    pass_threshold=1.0,
    criteria=(
        Criterion(
            name="kept",
            description=(
                "Does the text keep the task's hard constraint? A faithful paraphrase counts; dropping, "
                "weakening or contradicting it does not."
            ),
            scale={1: "the constraint is dropped, weakened or contradicted", 2: "the constraint is kept"},
        ),
    ),
)


@dataclass
class _Config:
    judge: JudgeLike | None = None
    postconditions: dict[str, Rubric] = field(default_factory=dict)
    constraint_rubric: Rubric = CONSTRAINT_RUBRIC
    handoff_rubrics: dict[str, str | Rubric] = field(default_factory=dict)


_CONFIG = _Config()


def configured_judge() -> JudgeLike | None:
    """The judge set with :func:`configure_semantic_checks` (None: the environment's default)."""
    return _CONFIG.judge


def handoff_rubrics() -> dict[str, str | Rubric]:
    """The assertions configured per handoff (``"source->target"``, target or ``"*"`` -> rubric)."""
    return dict(_CONFIG.handoff_rubrics)


def configure_semantic_checks(
    judge: JudgeLike | None = None,
    *,
    postconditions: Mapping[str, Rubric] | None = None,
    constraint_rubric: Rubric | None = None,
    handoff_rubrics: Mapping[str, str | Rubric | Mapping[str, Any]] | None = None,
) -> None:
    """Set the judge and rubrics the judge-backed checks use.

    Args:
        judge: The judge (default: the environment's default judge, see :func:`judges.judge`).
            It also answers the assertions made at handoffs (``handoff(..., rubric=...)``).
        postconditions: Agent name -> the rubric its reported result must pass.
        constraint_rubric: The rubric for "is the constraint kept?" (default :data:`CONSTRAINT_RUBRIC`).
        handoff_rubrics: Assertions for handoffs whose call you cannot edit (an agent framework's,
            recorded by its adapter): ``"source->target"``, a target agent's name, or ``"*"`` ->
            a question, a Rubric or rubric data. ``goal_drift`` asks the judge at each such handoff
            (docs/judges.md, "Semantic assertions at handoffs").

    Raises:
        JudgeConfigError: ``judge`` is not a judge, ``postconditions`` is not agent name -> Rubric,
            or ``handoff_rubrics`` is not handoff key -> assertion.
        RubricError: ``constraint_rubric`` is not a Rubric, or a ``handoff_rubrics`` value is
            invalid rubric data.
    """
    _check_judge(judge, "configure_semantic_checks")
    handoffs = _handoff_rubrics(handoff_rubrics)
    if postconditions is not None and not isinstance(postconditions, Mapping):
        raise JudgeConfigError(
            f"configure_semantic_checks(postconditions={postconditions!r}): a "
            f"{type(postconditions).__name__} is not a mapping. Rule: postconditions maps agent names to "
            "the Rubric each agent's result must pass. Fix: "
            "postconditions={'writer': Rubric.load('rubrics/article.yaml')}."
        )
    for agent_name, rubric in (postconditions or {}).items():
        if not isinstance(agent_name, str) or not isinstance(rubric, Rubric):
            raise JudgeConfigError(
                f"configure_semantic_checks(postconditions={{{agent_name!r}: {type(rubric).__name__}}}): "
                "Rule: each key is an agent name (str) and each value a judges.Rubric. Fix: "
                f"postconditions={{'writer': Rubric.load('rubrics/article.yaml')}}."
            )
    if constraint_rubric is not None and not isinstance(constraint_rubric, Rubric):
        raise RubricError(
            f"configure_semantic_checks(constraint_rubric={constraint_rubric!r}): a "
            f"{type(constraint_rubric).__name__} is not a Rubric. Rule: the constraint rubric is a "
            "judges.Rubric with one criterion. Fix: leave it out to use CONSTRAINT_RUBRIC, or pass "
            "Rubric.load(path)."
        )
    _CONFIG.judge = judge
    _CONFIG.postconditions = dict(postconditions or {})
    _CONFIG.constraint_rubric = constraint_rubric or CONSTRAINT_RUBRIC
    _CONFIG.handoff_rubrics = handoffs


def _handoff_rubrics(given: object) -> dict[str, str | Rubric]:
    """``handoff_rubrics`` checked: keys are handoff names, values questions or rubrics."""
    if given is None:
        return {}
    fix = (
        "Fix: handoff_rubrics={'writer': 'Does this brief still carry the $10,000 threshold?'} (keys: "
        "'source->target', a target agent, or '*')."
    )
    if not isinstance(given, Mapping):
        raise JudgeConfigError(
            f"configure_semantic_checks(handoff_rubrics={given!r}): a {type(given).__name__} is not a "
            f"mapping. Rule: it maps handoffs to the assertion a judge checks there. {fix}"
        )
    out: dict[str, str | Rubric] = {}
    for key, value in given.items():
        if not isinstance(key, str) or not key.strip():
            raise JudgeConfigError(
                f"configure_semantic_checks(handoff_rubrics={{{key!r}: ...}}): Rule: a key is "
                f"'source->target', a target agent's name or '*'. {fix}"
            )
        if isinstance(value, Mapping):
            value = Rubric.from_dict(value, source=f"handoff_rubrics[{key!r}]")
        if not isinstance(value, Rubric) and not (isinstance(value, str) and value.strip()):
            raise JudgeConfigError(
                f"configure_semantic_checks(handoff_rubrics={{{key!r}: {value!r}}}): a "
                f"{type(value).__name__} is not an assertion. Rule: a question (non-empty str), a "
                f"judges.Rubric or rubric data. {fix}"
            )
        out[key] = value
    return out


def _check_judge(judge: object, where: str) -> None:
    if judge is not None and not isinstance(judge, JudgeLike):
        raise JudgeConfigError(
            f"{where}(judge={judge!r}): a {type(judge).__name__} is not a judge. Rule: a judges.Judge, an "
            "Ensemble, another JudgeLike, or None for the environment's default judge. Fix: "
            f"{where}(judge=Judge('smollm2', cassette='cassettes/judges/semantic.json'))."
        )


def _ask(candidate: Any, rubric: Rubric, context: str, judge: JudgeLike | None) -> Verdict:
    return run_judge(candidate, rubric, context=context, using=judge or _CONFIG.judge)


def constraint_check(
    judge: JudgeLike | None = None, rubric: Rubric | None = None
) -> Callable[[Any, Any, str], bool | None]:
    """A ``goal_drift`` semantic check: ``fn(constraint, carrier, where) -> True | False | None``.

    Register it yourself with ``harness.register_semantic_check("goal_drift", fn)`` to make
    the default ``goal_drift`` checker ask the judge, or select ``goal_drift_judged``.
    """
    _check_judge(judge, "constraint_check")
    if rubric is not None and not isinstance(rubric, Rubric):
        raise RubricError(
            f"constraint_check(rubric={rubric!r}): a {type(rubric).__name__} is not a Rubric. Rule: the "
            "rubric asks whether the constraint is kept. Fix: leave it out to use CONSTRAINT_RUBRIC."
        )

    def check(constraint: Any, carrier: Any, where: str) -> bool | None:
        verdict = _ask(
            carrier,
            rubric or _CONFIG.constraint_rubric,
            f"The task's hard constraint: {constraint.name} = {constraint.value!r}. The candidate is a "
            f"{where} {'passed to the next agent' if where == 'handoff' else 'returned to the user'}.",
            judge,
        )
        return verdict.passed  # None when unscored or indeterminate: no opinion

    return check


@checker("goal_drift_judged", default=False)
def goal_drift_judged(log: RunLog, /, **context: Any) -> list[Violation]:
    """goal_drift with a judge deciding whether a paraphrased constraint is kept (needs an LLM)."""
    from harness.checkers import get_checkers, register_semantic_check, unregister_semantic_check

    (goal_drift,) = get_checkers(["goal_drift"])
    check = constraint_check()
    register_semantic_check("goal_drift", check)
    try:
        found = list(goal_drift.fn(log, **context))
    finally:
        unregister_semantic_check("goal_drift", check)
    return [v.model_copy(update={"checker": "goal_drift_judged"}) for v in found]


@checker("phantom_completion_judged", default=False)
def phantom_completion_judged(log: RunLog, /, **context: Any) -> list[Violation]:
    """An agent ended ok but its reported result fails the rubric configured for it (needs an LLM)."""
    rubrics = _CONFIG.postconditions
    if not rubrics:
        return []
    found: list[Violation] = []
    last: dict[str, Any] = {}  # agent -> what it last produced (handoff payload or LLM reply)
    for event in log:
        if isinstance(event, Handoff) and (event.source or event.agent):
            last[str(event.source or event.agent)] = event.payload
        elif isinstance(event, LLMCall) and event.agent and event.response_text:
            last[event.agent] = event.response_text
        if not isinstance(event, AgentEnd) or event.status != "ok" or event.name not in rubrics:
            continue
        result = event.reported if event.reported is not None else last.get(event.name)
        if result is None:
            continue  # the agent produced nothing a judge could read
        rubric = rubrics[event.name]
        verdict = _ask(result, rubric, f"What agent {event.name!r} reported as its result.", None)
        if verdict.passed is not False:
            continue  # passed, or undecided (unscored/indeterminate): never a violation
        found.append(
            Violation(
                checker="phantom_completion_judged",
                severity="major",
                steps=[event.start_seq, event.seq],
                message=(
                    f"Let step {event.seq} (agent {event.name} ended ok) report its result as done; the "
                    f"rubric {rubric.name!r} judged that result as failing (total {verdict.total:.2f} < "
                    f"{rubric.pass_threshold:.2f}), so the agent claimed a completion it did not achieve.\n"
                    + verdict.table()
                ),
                why="a plausible but wrong result flows downstream as if it were done (phantom completion)",
            )
        )
    return found


def rubric_postcondition(
    name: str,
    value: Any,
    rubric: Rubric,
    *,
    context: Any = None,
    judge: JudgeLike | None = None,
    agent: str | None = None,
) -> Verdict:
    """Judge ``value`` against ``rubric`` and record it as the postcondition ``name``.

    Call it where the agent reports its result, inside the run; the built-in
    ``phantom_completion`` checker then flags the agent if it ended ok while the rubric
    failed. An unscored or indeterminate verdict records ``holds=None`` (undecided).
    """
    from harness import postcondition

    verdict = run_judge(value, rubric, context=context, using=judge or _CONFIG.judge)
    detail = None if verdict.passed else verdict.table().splitlines()[0]
    postcondition(name, verdict.passed, value=None, detail=detail, agent=agent)
    return verdict
