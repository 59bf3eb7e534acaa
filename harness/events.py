"""The run log's event types and the helpers that build event payloads, public.

``from harness.events import ToolCall``. Besides the events: :func:`digest` (the canonical
digest used for requests and arguments) and :func:`jsonable` (how a Python value is
rendered into an event).
"""

from harness._log._digest import canonical_json, digest
from harness._log._events import *  # noqa: F403
from harness._log._events import __all__ as _EVENTS
from harness._log._jsonable import jsonable
from harness._log._runlog import RunLog

__all__ = [*_EVENTS, "RunLog", "canonical_json", "digest", "jsonable"]
