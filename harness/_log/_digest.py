"""Canonical JSON and digests: the identity of requests and tool calls."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "digest"]


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace; non-JSON values by ``repr``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def digest(value: Any, *, size: int = 16) -> str:
    """A short, stable hex digest of ``value``'s canonical JSON."""
    return hashlib.blake2b(canonical_json(value).encode(), digest_size=size).hexdigest()
