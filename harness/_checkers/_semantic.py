"""Semantic checks: where a judge (an LLM with a rubric) extends a deterministic checker.

Deterministic checkers cannot tell a faithful paraphrase from a dropped constraint
("no more than ten thousand dollars" vs ``10000``). A semantic check, registered with
:func:`register_semantic_check`, gives that judgement; the checker combines it with
its own rule. Semantic checks are called with recorded data only (judge calls go
through cassettes like any LLM call), so checkers stay pure functions of the log.

Extension points, by checker:

- ``goal_drift``: ``fn(constraint, carrier, where) -> bool | None`` where
  ``constraint`` is the :class:`~harness._log._events.Constraint` event, ``carrier`` the
  handoff payload or final output, ``where`` ``"handoff"`` or ``"output"``. ``True``:
  the constraint is preserved (a paraphrase counts); ``False``: it was dropped or
  contradicted (even if its literal value appears); ``None``: no opinion (the
  deterministic rule decides).
- ``goal_drift.rubric``: ``fn(handoff, constraints, log) -> (held, note) | None`` where
  ``handoff`` is a :class:`~harness._log._events.Handoff` event, ``constraints`` the
  task's constraints in force at it as ``(name, value)`` pairs and ``log`` the run's
  log. It answers a semantic assertion made at the handoff (``handoff(...,
  rubric=...)``, or one configured per handoff): ``None`` when it has nothing to judge
  there; otherwise ``held`` is ``True`` (the assertion holds), ``False`` (drift) or
  ``None`` (the judge could not decide: unscored or indeterminate), and ``note`` the
  verdict as text (score, rationale). The ``judges`` package registers one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from harness._errors import ConfigError
from harness._log._events import Constraint

__all__ = [
    "ConstraintJudge",
    "HandoffRubricJudge",
    "register_semantic_check",
    "semantic_checks",
    "unregister_semantic_check",
]


class ConstraintJudge(Protocol):
    """Judges whether ``carrier`` still carries ``constraint`` (see the module docstring)."""

    def __call__(self, constraint: Constraint, carrier: Any, where: str, /) -> bool | None: ...


class HandoffRubricJudge(Protocol):
    """Answers a semantic assertion at a handoff (see the module docstring, ``goal_drift.rubric``)."""

    def __call__(
        self, handoff: Any, constraints: list[tuple[str, Any]], log: Any, /
    ) -> tuple[bool | None, str] | None: ...


# checker name -> what a semantic check for it must be
SEMANTIC_HOOKS: dict[str, str] = {
    "goal_drift": "fn(constraint, carrier, where) -> True (preserved) | False (dropped) | None (no opinion)",
    "goal_drift.rubric": (
        "fn(handoff, constraints, log) -> None (nothing to judge) | (held: True | False | None, note)"
    ),
}

_SEMANTIC: dict[str, list[Callable[..., Any]]] = {name: [] for name in SEMANTIC_HOOKS}


def register_semantic_check(checker: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Plug a judge-backed check into a built-in checker.

    Args:
        checker: The checker it extends; one of :data:`SEMANTIC_HOOKS` (``"goal_drift"``,
            ``"goal_drift.rubric"``).
        fn: The check, with the signature that checker expects (see the module docstring).

    Returns:
        ``fn``, so that this works as a decorator factory's inner call.

    Raises:
        ConfigError: ``checker`` takes no semantic checks, or ``fn`` is not callable.
    """
    if checker not in SEMANTIC_HOOKS:
        accepted = "; ".join(f"{name}: {sig}" for name, sig in SEMANTIC_HOOKS.items())
        raise ConfigError(
            f"register_semantic_check(checker={checker!r}): that checker takes no semantic check. "
            f"Accepted: {accepted}. For a new failure mode, register a checker with harness.checker()."
        )
    if not callable(fn):
        raise ConfigError(f"register_semantic_check({checker!r}, fn={fn!r}): fn must be callable.")
    if fn not in _SEMANTIC[checker]:
        _SEMANTIC[checker].append(fn)
    return fn


def unregister_semantic_check(checker: str, fn: Callable[..., Any]) -> None:
    """Remove a semantic check registered with :func:`register_semantic_check` (no error if absent)."""
    hooks = _SEMANTIC.get(checker, [])
    if fn in hooks:
        hooks.remove(fn)


def semantic_checks(checker: str) -> list[Callable[..., Any]]:
    """The semantic checks registered for ``checker``, in registration order."""
    return list(_SEMANTIC.get(checker, []))
