"""brownout's scenarios: fault-plan strategies and the reference multi-agent systems.

- :func:`call_sites` reads the call sites a baseline run touched; :func:`fault_plans` is the
  Hypothesis strategy of fault plans over those sites (what ``pytest --chaos`` draws), for
  your own ``@given(fault_plans(...))`` tests.
- The reference systems (``scenarios.research``, ``checkout``, ``content``, ``negotiation``,
  ``tracking``, ``briefing``, ``invoicing``) each come naive and hardened;
  :data:`REFERENCE_RUNS` lists them with their cassettes.
- :class:`LocalLLMServer` starts llama.cpp's OpenAI-compatible server on loopback.

Names resolve lazily: ``import scenarios`` loads neither Hypothesis nor the systems.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "CallSite": "scenarios._strategies",
    "call_sites": "scenarios._strategies",
    "effects_for": "scenarios._strategies",
    "fault_plans": "scenarios._strategies",
    "fault_strategy": "scenarios._strategies",
    "parse_kinds": "scenarios._strategies",
    "FAULTS": "scenarios._reference",
    "REFERENCE_RUNS": "scenarios._reference",
    "ReferenceRun": "scenarios._reference",
    "cassette_dir": "scenarios._reference",
    "find_reference": "scenarios._reference",
    "run_reference": "scenarios._reference",
    "DEFAULT_MODEL_ALIAS": "scenarios._llm_server",
    "LocalLLMServer": "scenarios._llm_server",
    "find_model_file": "scenarios._llm_server",
    "LLMServerError": "scenarios._errors",
    "ScenarioError": "scenarios._errors",
    "ServiceError": "scenarios._errors",
    "ScenarioConfigError": "scenarios._errors",
    "ServiceCallError": "scenarios._errors",
    "ServiceUnavailable": "scenarios._errors",
}

__all__ = [
    "DEFAULT_MODEL_ALIAS",
    "FAULTS",
    "REFERENCE_RUNS",
    "CallSite",
    "LLMServerError",
    "LocalLLMServer",
    "ReferenceRun",
    "ScenarioConfigError",
    "ScenarioError",
    "ServiceCallError",
    "ServiceError",
    "ServiceUnavailable",
    "call_sites",
    "cassette_dir",
    "effects_for",
    "fault_plans",
    "fault_strategy",
    "find_model_file",
    "find_reference",
    "parse_kinds",
    "run_reference",
]

if TYPE_CHECKING:
    from scenarios._errors import (
        LLMServerError,
        ScenarioConfigError,
        ScenarioError,
        ServiceCallError,
        ServiceError,
        ServiceUnavailable,
    )
    from scenarios._llm_server import DEFAULT_MODEL_ALIAS, LocalLLMServer, find_model_file
    from scenarios._reference import (
        FAULTS,
        REFERENCE_RUNS,
        ReferenceRun,
        cassette_dir,
        find_reference,
        run_reference,
    )
    from scenarios._strategies import (
        CallSite,
        call_sites,
        effects_for,
        fault_plans,
        fault_strategy,
        parse_kinds,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(
            f"module 'scenarios' has no attribute {name!r}; public names: {', '.join(__all__)}"
        )
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
