"""brownout's judges: rubric-based LLM-as-judge evaluators.

A :class:`Rubric` says what to score; a :class:`Judge` asks an OpenAI-compatible model
to score a candidate against it and returns a :class:`Verdict` (scored, unscored or
indeterminate — never a silent pass). :class:`Ensemble` combines several judges,
:func:`calibrate` measures a judge against human labels, :class:`VerdictCache` avoids
asking twice.

Public names only; internals live in ``_private`` modules, each importing only the ones
below it (``lint-imports`` checks there is no cycle)::

    _attacks, _reference          the recorded measurements (``python -m judges.attacks`` ...)
    _handoff                      semantic assertions at handoffs (the goal_drift.rubric check)
    _semantic, _calibrate         judge-backed checkers; agreement with human labels
    _ensemble                     several judges voting
    _judge                        Judge (an OpenAI-compatible model) and judge()
    _transport                    the chat-completion call, through the harness cassette
    _protocol                     JudgeLike: what every judge is; publishing a verdict
    _reply                        a reply's scores -> a scored or unscored Verdict
    _prompt, _cache, _candidate   the prompts; the verdict cache; what the judge is shown
    _verdict                      Verdict, CriterionScore, JudgeSpec
    _registry                     register_judge: judge factories by name
    _rubric                       Rubric, Criterion, WorkedExample
    _model_file                   the judge model's weights, assembled from registry packages
    _model, _errors               the models' base; the exception tree
"""

from judges import _handoff  # noqa: F401  # registers the goal_drift.rubric semantic check
from judges._cache import VerdictCache
from judges._calibrate import Calibration, LabelledExample, calibrate, cohen_kappa, labelled_set
from judges._ensemble import Ensemble
from judges._errors import (
    CalibrationError,
    JudgeCallError,
    JudgeConfigError,
    JudgeError,
    JudgeModelError,
    RubricError,
    VerdictFailed,
)
from judges._judge import Judge, judge
from judges._model_file import QWEN_JUDGE, JudgeModelFile, assemble_judge_model, judge_model_cache
from judges._registry import register_judge
from judges._rubric import Criterion, Rubric, WorkedExample
from judges._semantic import (
    CONSTRAINT_RUBRIC,
    configure_semantic_checks,
    constraint_check,
    rubric_postcondition,
)
from judges._verdict import CriterionScore, JudgeSpec, ScoreSpread, Verdict

__all__ = [
    "CONSTRAINT_RUBRIC",
    "QWEN_JUDGE",
    "Calibration",
    "CalibrationError",
    "Criterion",
    "CriterionScore",
    "Ensemble",
    "Judge",
    "JudgeCallError",
    "JudgeConfigError",
    "JudgeError",
    "JudgeModelError",
    "JudgeModelFile",
    "JudgeSpec",
    "LabelledExample",
    "Rubric",
    "RubricError",
    "ScoreSpread",
    "Verdict",
    "VerdictCache",
    "VerdictFailed",
    "WorkedExample",
    "assemble_judge_model",
    "calibrate",
    "cohen_kappa",
    "configure_semantic_checks",
    "constraint_check",
    "judge",
    "judge_model_cache",
    "labelled_set",
    "register_judge",
    "rubric_postcondition",
]
