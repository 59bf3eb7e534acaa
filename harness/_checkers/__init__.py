"""Built-in checkers; each module registers its checkers with ``_registry.checker`` on import.

Imported in the order of the failure modes in docs/checkers.md, so that
``brownout checkers`` lists them in that order.
"""

# isort: off
from harness._checkers import _side_effects  # noqa: F401 - duplicate_side_effects, saga_compensation
from harness._checkers import _partial  # noqa: F401 - silent_partial_failure
from harness._checkers import _liveness  # noqa: F401 - liveness
from harness._checkers import _state  # noqa: F401 - lost_update, stale_fencing_token
from harness._checkers import _handoffs  # noqa: F401 - handoff_contract, goal_drift
from harness._checkers import _budget  # noqa: F401 - context_budget
from harness._checkers import _orphans  # noqa: F401 - orphaned_work
from harness._checkers import _leaks  # noqa: F401 - tool_error_as_result
from harness._checkers import _tool_failures  # noqa: F401 - unhandled_tool_failure (opt-in)
from harness._checkers import _completion  # noqa: F401 - phantom_completion
from harness._checkers import _breaker  # noqa: F401 - circuit_breaker (opt-in)
from harness._checkers import _amplification  # noqa: F401 - retry_amplification (opt-in)
from harness._checkers import _bulkhead  # noqa: F401 - bulkhead (opt-in)
from harness._checkers import _restart  # noqa: F401 - redone_side_effect, resume_parity

# isort: on
from harness._checkers._semantic import register_semantic_check, unregister_semantic_check

__all__ = ["register_semantic_check", "unregister_semantic_check"]
