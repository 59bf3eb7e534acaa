"""The checker registry, public: write a checker, select checkers, run them on a run log.

A checker is a pure function ``RunLog -> Iterable[Violation]`` registered with
:func:`checker`; :func:`get_checkers` resolves a selection (``"default"``, ``"all"``,
``"none"`` or names) and :func:`run_checks` runs it. Semantic checks (a judge deciding
whether a handoff still carries a constraint) plug in through
:func:`register_semantic_check`.
"""

from harness._checkers._registry import Checker, CheckerSpec, Violation, checker, get_checkers, run_checks
from harness._checkers._semantic import (
    ConstraintJudge,
    HandoffRubricJudge,
    register_semantic_check,
    semantic_checks,
    unregister_semantic_check,
)

__all__ = [
    "Checker",
    "CheckerSpec",
    "ConstraintJudge",
    "HandoffRubricJudge",
    "Violation",
    "checker",
    "get_checkers",
    "register_semantic_check",
    "run_checks",
    "semantic_checks",
    "unregister_semantic_check",
]
