"""Built-in checkers; each module registers its checkers with ``harness._checks.checker`` on import.

Imported in the order of the failure modes in docs/checkers.md, so that
``brownout checkers`` lists them in that order.
"""

from harness._checkers import (  # noqa: F401 - imported for their registrations
    _budget,
    _completion,
    _handoffs,
    _liveness,
    _orphans,
    _partial,
    _side_effects,
    _state,
    _tool_failures,
)
from harness._checkers._semantic import register_semantic_check, unregister_semantic_check

__all__ = ["register_semantic_check", "unregister_semantic_check"]
