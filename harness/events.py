"""The event types of a run log, public: ``from harness.events import ToolCall``."""

from harness._log._events import *  # noqa: F403
from harness._log._events import __all__ as __all__
