"""The checker registry: pure functions ``RunLog -> list[Violation]``, registered by name.

A checker reads a run's history and reports the failure modes that raise no
exception. Register one with :func:`checker`; select them per test with
``@pytest.mark.chaos(checks=...)``: ``"default"`` (the checkers marked default),
``"all"``, ``"none"`` or a list of names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, Field

from harness._errors import ConfigError
from harness._log._model import HarnessModel
from harness._log._runlog import RunLog

__all__ = ["Checker", "CheckerSpec", "Violation", "checker", "get_checkers", "run_checks"]

Severity = Literal["critical", "major", "minor"]


class Violation(HarnessModel):
    """One failure mode found in a run's history.

    Attributes:
        checker: The checker that found it.
        severity: critical (data loss, money, duplicated effects), major, or minor.
        steps: The ``seq`` ids of the events involved.
        message: What happened, step by step ("Let step 12 ... then step 19 ..., so ...").
        why: Why it matters.
    """

    model_config = ConfigDict(frozen=True)

    checker: str
    severity: Severity = "major"
    steps: list[int] = Field(default_factory=list)
    message: str
    why: str = ""

    def __str__(self) -> str:
        steps = f" (steps {', '.join(map(str, self.steps))})" if self.steps else ""
        why = f" Why it matters: {self.why}" if self.why else ""
        return f"[{self.checker}, {self.severity}]{steps} {self.message}{why}"


class Checker(Protocol):
    def __call__(self, log: RunLog, /, **context: Any) -> list[Violation]: ...


@dataclass(frozen=True)
class CheckerSpec:
    name: str
    fn: Checker
    summary: str
    default: bool


_REGISTRY: dict[str, CheckerSpec] = {}


def checker(name: str, *, default: bool = True, summary: str | None = None) -> Callable[[Checker], Checker]:
    """Register a checker under ``name``. Its docstring's first line is its summary."""

    def register(fn: Checker) -> Checker:
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = CheckerSpec(name, fn, summary or (doc[0] if doc else name), default)
        return fn

    return register


ENTRY_POINT_GROUP = "brownout.checkers"
_loaded_entry_points = False


def _load_builtin() -> None:
    """Import the built-in checkers, then every package that registers checkers by entry point.

    The built-ins register themselves on import. Other packages register through the
    ``brownout.checkers`` entry-point group (``judges`` does: its judge-backed checkers);
    the registry never imports them by name, so it depends on nothing above it.
    """
    global _loaded_entry_points
    import harness._checkers  # noqa: F401

    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()


def get_checkers(selection: str | Sequence[str] = "default") -> list[CheckerSpec]:
    """Resolve a selection to checker specs, in registration order.

    ``"default"``, ``"all"``, ``"none"``, a checker name, or a list of names; a list may hold
    ``"default"`` too, to add opt-in checkers to the default set:
    ``["default", "unhandled_tool_failure"]``.
    """
    _load_builtin()
    if isinstance(selection, str):
        if selection == "none":
            return []
        if selection == "all":
            return list(_REGISTRY.values())
        if selection == "default":
            return [c for c in _REGISTRY.values() if c.default]
        selection = [selection]
    if "default" in selection:
        wanted = {c.name for c in _REGISTRY.values() if c.default} | {n for n in selection if n != "default"}
        unknown = [n for n in wanted if n not in _REGISTRY]
        if not unknown:
            return [c for c in _REGISTRY.values() if c.name in wanted]
    unknown = [n for n in selection if n not in _REGISTRY]
    if unknown:
        raise ConfigError(
            f"checks={list(selection)!r}: unknown checker(s) {', '.join(unknown)}. Known checkers: "
            f"{', '.join(_REGISTRY)} (or 'default', 'all', 'none'). `brownout checkers` lists them."
        )
    return [_REGISTRY[n] for n in selection]


def run_checks(log: RunLog, selection: str | Sequence[str] = "default", **context: Any) -> list[Violation]:
    """Run the selected checkers on ``log`` and return every violation, checker by checker."""
    found: list[Violation] = []
    for spec in get_checkers(selection):
        found.extend(spec.fn(log, **context))
    return found
