"""The HTTP client libraries LLM capture knows: ``httpx2`` (openai 3.x) and ``httpx`` (openai 2.x).

The openai SDK sends through ``httpx2`` from 3.0 on and through ``httpx`` 0.2x before;
frameworks pinned to one generation (CrewAI: ``openai<3``) bring theirs. The two libraries
share one API (``Client.send``, ``Request``, ``Response``, ``SyncByteStream``, the
exception tree), so one capture serves both: each object is handled with the classes of
the library it came from, never the other one's (an ``httpx2`` error raised into an
``httpx`` client would not be the timeout or protocol error the SDK catches).

A library the program cannot import (not installed) is skipped; nothing here imports a
library at module load.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

__all__ = ["CLIENT_LIBRARIES", "client_libraries", "library_of"]

# Newest first: a request the capture layer did not pass is rebuilt with the first one installed.
CLIENT_LIBRARIES = ("httpx2", "httpx")


def client_libraries() -> list[ModuleType]:
    """The client libraries that are installed (imported if the program has not yet)."""
    found: list[ModuleType] = []
    for name in CLIENT_LIBRARIES:
        module = sys.modules.get(name)
        if module is None:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
        found.append(module)
    return found


def library_of(obj: Any) -> ModuleType | None:
    """The client library (``httpx2`` or ``httpx``) that ``obj``'s class, or a base of it, comes from."""
    for cls in type(obj).__mro__:
        top = cls.__module__.partition(".")[0]
        if top in CLIENT_LIBRARIES:
            return sys.modules[top]
    return None
