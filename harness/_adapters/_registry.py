"""Which framework adapters exist, which are selected, and when they are installed.

An adapter is installed once per process (its patches and wrappers stay in place) and is
*enabled* per selection: every wrapper checks :func:`enabled` and the active run at call
time, so a disabled adapter or a call outside a run costs one lookup and runs the
framework untouched.

Selection, in precedence order: :func:`instrument` (explicit, outside pytest), the ini
option ``chaos_adapters`` (handed over by the pytest plugin through :func:`configure`), the
environment variable ``BROWNOUT_ADAPTERS``, the default ``auto`` (every supported framework).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from harness._errors import ConfigError

__all__ = ["SUPPORTED", "Adapter", "activate", "configure", "enabled", "instrument"]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One supported framework."""

    name: str  # what users write in ``chaos_adapters`` / ``instrument(...)``
    modules: tuple[str, ...]  # import names that must all be imported by the program
    adapter: str  # the module with ``install() -> None``
    package: str  # the distribution to install (for messages)


SUPPORTED: dict[str, Adapter] = {
    a.name: a
    for a in (
        Adapter("agents", ("agents",), "harness._adapters._agents_sdk", "openai-agents"),
        Adapter("langgraph", ("langgraph",), "harness._adapters._langgraph", "langgraph"),
        Adapter("pydantic_ai", ("pydantic_ai",), "harness._adapters._pydantic_ai", "pydantic-ai-slim"),
        Adapter("crewai", ("crewai",), "harness._adapters._crewai", "crewai"),
    )
}
_ALIASES = {
    "openai-agents": "agents",
    "openai_agents": "agents",
    "agents-sdk": "agents",
    "pydantic-ai": "pydantic_ai",
    "pydanticai": "pydantic_ai",
}

_lock = threading.Lock()
_installed: set[str] = set()
_selection: frozenset[str] | None = None  # None: not configured (env or auto applies)
_enabled: set[str] = set()


def _parse(value: str | Iterable[str] | None, *, where: str) -> frozenset[str]:
    """``auto`` / ``none`` / names (comma or space separated, or a list) to adapter names."""
    if value is None:
        return frozenset(SUPPORTED)
    words = value.replace(",", " ").split() if isinstance(value, str) else [str(v).strip() for v in value]
    words = [w.lower() for w in words if w]
    if not words or words == ["auto"] or words == ["all"]:
        return frozenset(SUPPORTED)
    if words in (["none"], ["off"], ["false"], ["0"]):
        return frozenset()
    chosen: set[str] = set()
    for word in words:
        name = _ALIASES.get(word, word)
        if name not in SUPPORTED:
            raise ConfigError(
                f"{where}: unknown framework adapter {word!r}. Accepted: auto (every supported "
                f"framework the program imported), none, or names from: {', '.join(SUPPORTED)}."
            )
        chosen.add(name)
    return frozenset(chosen)


def configure(value: str | Iterable[str] | None) -> None:
    """Select the adapters later runs activate (the ini option ``chaos_adapters``).

    ``None`` forgets the selection (back to ``BROWNOUT_ADAPTERS``, else ``auto``).

    Raises:
        ConfigError: an unknown adapter name.
    """
    global _selection
    selection = None if value is None else _parse(value, where=f"chaos_adapters = {value!r}")
    with _lock:
        _selection = selection


def _selected() -> frozenset[str]:
    if _selection is not None:
        return _selection
    env = os.environ.get("BROWNOUT_ADAPTERS")
    if env is not None and env.strip():
        return _parse(env, where=f"BROWNOUT_ADAPTERS={env!r}")
    return frozenset(SUPPORTED)


def enabled(name: str) -> bool:
    """Whether the adapter ``name`` is installed and selected (read by its wrappers at call time)."""
    return name in _enabled


def _install(adapter: Adapter) -> None:
    if adapter.name in _installed:
        return
    module = importlib.import_module(adapter.adapter)
    module.install()
    _installed.add(adapter.name)


def activate() -> list[str]:
    """At run start: instrument every selected framework the program has imported.

    Looks at ``sys.modules`` only; a framework the program has not imported stays
    unimported. Returns the names of the adapters enabled for this run.
    """
    selected = _selected()
    with _lock:
        _enabled.intersection_update(selected)
        for name in sorted(selected):
            adapter = SUPPORTED[name]
            if name not in _enabled and all(m in sys.modules for m in adapter.modules):
                _install(adapter)
                _enabled.add(name)
        return sorted(_enabled)


def instrument(*frameworks: str) -> list[str]:
    """Instrument agent frameworks for brownout runs outside pytest.

    ``harness.instrument()`` instruments every supported framework the program has already
    imported (what a run does by itself); ``harness.instrument("langgraph")`` names the
    frameworks, importing them if needed. Runs started with :func:`harness.run_system` then
    hold each framework's agents, tools and handoffs as events and fault sites.

    Args:
        frameworks: Adapter names (``"agents"`` for the OpenAI Agents SDK, ``"langgraph"``);
            none means every supported framework already imported. ``"none"`` turns the
            adapters off.

    Returns:
        The adapters now enabled.

    Raises:
        ConfigError: an unknown name, or a named framework that is not installed.
    """
    global _selection
    if not frameworks:
        with _lock:
            _selection = frozenset(SUPPORTED)
        return activate()
    chosen = _parse(list(frameworks), where=f"harness.instrument{frameworks!r}")
    for name in sorted(chosen):
        adapter = SUPPORTED[name]
        for module in adapter.modules:
            if module not in sys.modules:
                try:
                    importlib.import_module(module)
                except ImportError as exc:
                    raise ConfigError(
                        f"harness.instrument({name!r}): the framework is not installed ({exc}). "
                        f"Install it: pip install {adapter.package}  (or pip install 'brownout[{name}]')."
                    ) from None
    with _lock:
        _selection = chosen
    return activate()
