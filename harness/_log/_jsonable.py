"""Turn arbitrary Python results into JSON-compatible data for events and cassettes."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

__all__ = ["jsonable"]


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-compatible rendering of ``value``: pydantic models, dataclasses, containers, enums.

    Anything else becomes its ``repr``; recursion stops at depth 32.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if _depth > 32:
        return repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [jsonable(v, _depth + 1) for v in items]
    if isinstance(value, enum.Enum):
        return jsonable(value.value, _depth + 1)
    if hasattr(value, "model_dump"):
        try:
            return jsonable(value.model_dump(mode="json"), _depth + 1)
        except Exception:
            return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), _depth + 1)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)
