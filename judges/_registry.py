"""The judge registry: a name per judge factory, so a stored ``JudgeSpec(name, args)`` rebuilds.

``Judge`` registers itself as ``"openai"`` and ``Ensemble`` as ``"ensemble"`` when
:mod:`judges` is imported; :func:`register_judge` adds your own. The registry sits below
the verdict (``JudgeSpec.build`` reads it) and above nothing but the errors, so no judge
module has to be imported to rebuild a spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from judges._errors import JudgeConfigError

if TYPE_CHECKING:
    from judges._protocol import JudgeLike
    from judges._verdict import JudgeSpec

__all__ = ["build_judge", "register_judge", "registered_judges"]

_FACTORIES: dict[str, Callable[..., JudgeLike]] = {}


def register_judge(name: str, factory: Callable[..., JudgeLike]) -> None:
    """Register a judge factory under ``name`` so that ``JudgeSpec(name, args).build()`` works.

    Args:
        name: The name stored in every spec of the judges the factory builds.
        factory: Called with the spec's ``args`` as keyword arguments; returns the judge.

    Raises:
        JudgeConfigError: ``name`` is not a non-empty str, or ``factory`` is not callable.
    """
    if not isinstance(name, str) or not name.strip():
        raise JudgeConfigError(
            f"register_judge(name={name!r}): the name must be a non-empty str. Rule: a spec stores the "
            "name to rebuild its judge. Fix: register_judge('my_judge', MyJudge)."
        )
    if not callable(factory):
        raise JudgeConfigError(
            f"register_judge({name!r}, factory={factory!r}): the factory is a {type(factory).__name__}, not "
            "callable. Rule: the factory is called with the spec's args and returns the judge. Fix: pass the "
            "judge class or a function that builds it."
        )
    _FACTORIES[name] = factory


def registered_judges() -> list[str]:
    """The registered names, sorted."""
    return sorted(_FACTORIES)


def build_judge(spec: JudgeSpec) -> JudgeLike:
    """Rebuild a judge from its spec (see :meth:`judges.JudgeSpec.build`)."""
    factory = _FACTORIES.get(spec.name)
    if factory is None:
        raise JudgeConfigError(
            f"JudgeSpec(name={spec.name!r}): no judge registered under that name. Rule: a spec is rebuilt "
            f"by the factory registered under its name; registered: {', '.join(registered_judges())}. Fix: "
            "register a factory with judges.register_judge(name, factory) before rebuilding."
        )
    try:
        return factory(**spec.args)
    except TypeError as exc:
        raise JudgeConfigError(
            f"JudgeSpec(name={spec.name!r}, args={spec.args!r}): the factory rejected the arguments ({exc}). "
            "Rule: args are the keyword arguments of the factory registered under the name. Fix: store the "
            "spec a judge gives (judge.spec) rather than writing args by hand."
        ) from None
