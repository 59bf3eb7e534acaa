"""The base of the judges' pydantic models: validation problems become the package's errors.

A public model (``Rubric``, ``Verdict``, ``LabelledExample``, ...) built with bad input raises
its own :class:`~judges.JudgeError` subclass, never pydantic's ``ValidationError``: one line
per problem naming the field, the value and what is wrong, then the rule and the fix, without
pydantic's documentation URLs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from judges._errors import JudgeConfigError, JudgeError

__all__ = ["JudgesModel", "describe_problems", "validated"]

_TYPE_KINDS = frozenset(
    {
        "bool_parsing",
        "bool_type",
        "dict_type",
        "float_parsing",
        "float_type",
        "int_parsing",
        "int_type",
        "literal_error",
        "model_type",
        "string_type",
        "tuple_type",
    }
)

M = TypeVar("M", bound="JudgesModel")


def _location(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_problems(exc: ValidationError, source: str, what: str, rule: str) -> str:
    """One message for every problem in ``exc``: ``source: invalid <what> (n problem(s)):`` ...

    Each problem line names the field and the offending value; a validator's own message
    already states its rule and fix, other problems get a generic one; ``rule`` ends the message.
    """
    lines = [f"{source}: invalid {what} ({exc.error_count()} problem(s)):"]
    for problem in exc.errors():
        where = _location([p for p in problem["loc"] if p != "[key]"])
        kind = problem["type"]
        if kind == "missing":
            lines.append(f"  - {where}: this field is required. Fix: add it.")
            continue
        shown = repr(problem.get("input"))
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        message = str(problem["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "extra_forbidden":
            message = "unknown field. Fix: remove or rename it (check the spelling)."
        elif kind == "too_short":
            message = f"{message}. Fix: add at least one."
        elif kind in _TYPE_KINDS:
            message = f"{message}. Fix: give a value of the expected type."
        lines.append(f"  - {where} = {shown}: {message}")
    lines.append(rule)
    return "\n".join(lines)


class JudgesModel(BaseModel):
    """A pydantic model whose validation problems raise ``_error`` (a JudgeError) instead.

    Subclasses set ``_error`` (the exception class), ``_what`` (how a message names the
    object) and ``_rule`` (what a valid one looks like, and where to read more).
    """

    _error: ClassVar[type[JudgeError]] = JudgeConfigError
    _what: ClassVar[str] = "value"
    _rule: ClassVar[str] = ""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self._problems(exc, f"{type(self).__name__}(...)") from None

    # Tell pydantic this __init__ only wraps its own, so validating a nested model (a
    # Criterion inside a Rubric) does not call it: the problem keeps its location.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def _problems(cls, exc: ValidationError, source: str) -> JudgeError:
        """The package error for a validation failure of this model."""
        return cls._error(describe_problems(exc, source, cls._what, cls._rule))


def validated(model: type[M], data: Any, *, source: str | None = None) -> M:
    """Validate plain data (what JSON or YAML parse to) into ``model``, or raise its ``_error``."""
    where = source or model.__name__
    if not isinstance(data, Mapping):
        raise model._error(
            f"{where}: a {type(data).__name__} ({_short(data)}) is not a {model._what}. Rule: a "
            f"{model._what} is a mapping of its fields. {model._rule}"
        )
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise model._problems(exc, where) from None


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."
