"""The base of every pydantic model brownout exposes: invalid fields raise the harness's error.

Without it a public constructor (``Violation(...)``, an event type) would leak pydantic's
``ValidationError`` with its documentation URLs; with it the caller gets a
:class:`harness.ConfigError` naming the model, each bad field, its value and the rule.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from harness._errors import ConfigError

__all__ = ["HarnessModel", "explain_validation"]


def explain_validation(what: str, exc: ValidationError) -> str:
    """One readable message for a pydantic error: each field, its value and the rule it broke."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(value)"
        value = err.get("input")
        shown = json.dumps(value, default=repr)[:80] if not isinstance(value, dict) else "{...}"
        problems.append(f"  - {loc} = {shown}: {err['msg'].removeprefix('Value error, ')}")
    count = len(problems)
    return (
        f"invalid {what} ({count} problem{'s' if count != 1 else ''}):\n"
        + "\n".join(problems)
        + f"\nFix the field{'s' if count != 1 else ''} above; see the {what} docstring for what each holds."
    )


class HarnessModel(BaseModel):
    """A pydantic model whose constructor raises :class:`harness.ConfigError` on invalid input."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(explain_validation(type(self).__name__, exc)) from None
