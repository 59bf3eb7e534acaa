"""Framework adapters: runs of framework apps get agents, tools and handoffs with no code changes.

When a run starts (:func:`activate`, called by the runner), every supported framework the
program has already imported is instrumented through brownout's own capture API
(``agent``, ``tool``, ``handoff``): what a user would otherwise hand-wrap becomes events and
fault sites under the framework's own names. A framework the program did not import is never
imported. One module per framework; the registry decides which ones run.
"""

from harness._adapters._registry import SUPPORTED, activate, configure, enabled, instrument

__all__ = ["SUPPORTED", "activate", "configure", "enabled", "instrument"]
