"""Secret scrubbing: nothing that looks like a credential is written to a cassette, log or report."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "is_secret_name", "scrub", "scrub_text"]

REDACTED = "[REDACTED]"

# Names whose values are credentials. Deliberately not matching "idempotency_key",
# "fencing_token", "max_tokens" or "prompt_tokens": those are data, not secrets.
_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:api[_\-]?key|apikey|x[_\-]api[_\-]key|secret|client[_\-]?secret|password|passwd|"
    r"authorization|proxy[_\-]authorization|access[_\-]?token|refresh[_\-]?token|auth[_\-]?token|"
    r"id[_\-]?token|session[_\-]?token|bearer|private[_\-]?key|credentials?|cookie|set[_\-]cookie|"
    r"openai[_\-]api[_\-]key)$",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}|Bearer\s+[A-Za-z0-9._\-~+/=]{8,}|"
    r"AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,}|xox[abp]-[A-Za-z0-9\-]{10,})"
)


@functools.lru_cache(maxsize=4096)  # scrub() asks this of every key of every payload; keys repeat
def is_secret_name(name: str) -> bool:
    """Whether a header, parameter or field called ``name`` holds a credential."""
    return bool(_SECRET_NAME.search(name))


def scrub_text(text: str) -> str:
    """Replace credential-shaped substrings (``sk-...``, ``Bearer ...``) in free text."""
    return _SECRET_VALUE.sub(REDACTED, text)


def scrub(value: Any) -> Any:
    """A copy of ``value`` with secret-named fields and secret-shaped strings redacted."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) and v not in (None, "") else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
