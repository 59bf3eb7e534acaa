"""The effect registry: every effect is one :class:`EffectBase` subclass, registered once.

An effect says *what* happens at a site and, through :meth:`EffectBase.decide`, *how*: it
returns a decision from :mod:`harness.hooks` (wait, fail, run then fail, reshape the
result, drop the message, corrupt the write, ...) that the instrumentation carries out.
:func:`register_effect` adds an effect class under its ``kind``; everything that lists
effects derives from the registry: :data:`EFFECTS`, :func:`effect_kinds`, the
discriminated union that validates ``Fault.effect``, the kinds a ``chaos`` marker accepts
and the strategies ``pytest --chaos`` draws from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic._internal._model_construction import ModelMetaclass

from faults._errors import FaultPlanError
from harness.hooks import (
    BudgetDecision,
    BudgetSite,
    LLMSite,
    MessageDecision,
    MessageSite,
    StateDecision,
    StateSite,
    StepDecision,
    ToolSite,
    WorkerSite,
)

if TYPE_CHECKING:
    from faults._models import Fault

__all__ = [
    "EFFECTS",
    "SITES",
    "AnySite",
    "Decision",
    "EffectBase",
    "FaultModel",
    "Site",
    "effect_kinds",
    "effect_union",
    "on_register",
    "register_effect",
]

Site = Literal["llm", "tool", "message", "state", "worker", "network", "budget"]
SITES: tuple[str, ...] = ("llm", "tool", "message", "state", "worker", "network", "budget")

AnySite = ToolSite | LLMSite | WorkerSite | MessageSite | StateSite | BudgetSite
Decision = StepDecision | MessageDecision | StateDecision | BudgetDecision


def _fmt(value: Any, seconds: bool) -> str:
    if seconds and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}s"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _problems(exc: ValidationError) -> str:
    lines = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        # pydantic names union branches in locations (literal, constrained int, Chance): one line a field.
        parts = [
            str(p)
            for p in err["loc"]
            if not str(p).startswith(("literal[", "constrained-")) and p != "Chance"
        ]
        loc = ".".join(parts) or "(value)"
        if loc in seen:
            continue
        seen.add(loc)
        if loc.endswith("call") and len(err["loc"]) > len(parts):
            lines.append(
                f'  - {loc} = {err.get("input")!r}: must be a call number >= 1, "every", or {{p, seed}}'
            )
            continue
        value = err.get("input")
        shown = json.dumps(value, default=repr)[:80] if not isinstance(value, dict) else "{...}"
        lines.append(f"  - {loc} = {shown}: {err['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


class _FaultModelMeta(ModelMetaclass):
    # Wrapping the class call (not __init__) turns only an explicit ``Fault(...)`` into
    # FaultPlanError; a model validated inside another one keeps pydantic's own error, so
    # the outer message names the full path (``faults.0.call``).
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            raise FaultPlanError(
                f"invalid {cls.__name__}:\n{_problems(exc)}\nSee docs/faults.md for each field's rule."
            ) from None


class FaultModel(BaseModel, metaclass=_FaultModelMeta):
    """Base of every public model in ``faults``: invalid input raises :class:`FaultPlanError`
    (each field, its value and the rule), never pydantic's ``ValidationError``."""


class EffectBase(FaultModel):
    """What happens at a site. Subclasses set ``kind``, the sites they apply to, and parameters.

    A subclass defines ``kind: Literal["<name>"] = "<name>"``, ``sites``, its parameters
    as pydantic fields, and :meth:`decide`; :func:`register_effect` makes it usable in
    fault plans and exploration.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    if TYPE_CHECKING:  # each subclass declares it as a Literal field, its discriminator
        kind: str = ""

    sites: ClassVar[frozenset[str]] = frozenset()
    # The parameter printed without its name, and the parameters measured in seconds.
    primary: ClassVar[str | None] = None
    seconds_fields: ClassVar[frozenset[str]] = frozenset()
    # What the effect models, for docs and error messages.
    models: ClassVar[str] = ""
    # At site "state": the operation the effect acts on ("read" or "write").
    acts_on: ClassVar[str | None] = None
    # Parameter values exploration draws, the default first (shrinking goes there).
    explore: ClassVar[Mapping[str, Sequence[Any]]] = {}
    # Drawn only when a marker names it ("tool.perturbed_value"), never by a bare site or by
    # default: an effect no correct system could notice without a second source.
    opt_in: ClassVar[bool] = False
    # Drawn only for a test that declares how its system restarts (``chaos.run(..., resume=...)``):
    # a crash-restart kill point, which means nothing to a system that cannot start again.
    restart: ClassVar[bool] = False

    def decide(self, site: AnySite, fault: Fault) -> Decision:
        """What happens at ``site``, struck by ``fault`` (whose ``str`` names it in messages).

        ``site`` is a :class:`harness.hooks.ToolSite`, ``LLMSite``, ``WorkerSite``,
        ``MessageSite`` or ``StateSite``, one of the effect's ``sites``. Return a step
        decision (``Wait``, ``Fail``, ``RunThenFail``, ``Reshape``, ``Respond``, ...) for a
        tool, LLM or worker site, a message decision for a message, a state decision for a
        state operation.
        """
        raise NotImplementedError(f"effect {self.kind!r} does not decide what happens at {site!r}")

    def strikes_after(self) -> int:
        """At site "worker": how many completed tool/LLM calls of the agent to wait for (0: on entry)."""
        return 0

    def toxic(self) -> tuple[str, dict[str, Any]] | None:
        """At site "network": the Toxiproxy toxic type and attributes (``None``: disable the proxy)."""
        raise NotImplementedError(f"effect {self.kind!r} is not a network effect")

    def check_at(self, site: str) -> None:
        """Reject parameters that do not apply at ``site`` (raise ``ValueError`` saying which)."""

    def __str__(self) -> str:
        parts: list[str] = []
        for name, info in type(self).model_fields.items():
            if name == "kind":
                continue
            value = getattr(self, name)
            if value == info.default and (name != self.primary or value is None):
                continue
            text = _fmt(value, name in self.seconds_fields)
            if name == self.primary:
                parts.insert(0, text)
            else:
                parts.append(f"{name}={text}")
        kind = getattr(self, "kind", type(self).__name__)
        return f"{kind}({', '.join(parts)})" if parts else str(kind)


EFFECTS: dict[str, type[EffectBase]] = {}
_LISTENERS: list[Callable[[], None]] = []

E = TypeVar("E", bound=type[EffectBase])


def register_effect(cls: E) -> E:
    """Register an effect class under its ``kind`` (usable as a class decorator).

    After registration the effect validates in a :class:`faults.Fault` (and a fault plan's
    JSON), is listed by :func:`effect_kinds`, is accepted in ``@pytest.mark.chaos(faults=
    ["<site>.<kind>"])`` and is drawn by ``pytest --chaos`` (with the parameter values in
    its ``explore``). Registering the same class again (a re-imported module) replaces it.

    Raises:
        FaultPlanError: the class is not an :class:`EffectBase`, has no ``kind``, takes a
            kind another effect has, lists no sites or an unknown one, or leaves out what its
            sites need (``decide``; ``acts_on`` at "state"; ``toxic`` at "network").
    """
    name = getattr(cls, "__qualname__", repr(cls))
    where = f"register_effect({name})"
    if not isinstance(cls, type) or not issubclass(cls, EffectBase):
        raise FaultPlanError(
            f"{where}: {cls!r} is not an effect class. An effect subclasses faults.EffectBase "
            "(a pydantic model with a `kind` field, `sites` and a `decide` method)."
        )
    model: type[EffectBase] = cls
    field = model.model_fields.get("kind")
    kind = field.default if field is not None else None
    if not isinstance(kind, str) or not kind or "." in kind:
        raise FaultPlanError(
            f"{where}: kind={kind!r} is not a valid effect kind; an effect declares a non-empty kind "
            "without dots as its discriminator, e.g. `kind: Literal['my_effect'] = 'my_effect'`."
        )
    taken = EFFECTS.get(kind)
    if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
        raise FaultPlanError(
            f"{where}: kind {kind!r} is already registered by {taken.__module__}.{taken.__qualname__}; "
            "each kind names one effect. Give this effect another kind, e.g. "
            f"`kind: Literal['my_{kind}'] = 'my_{kind}'`."
        )
    sites = cls.sites
    unknown = sorted(set(sites) - set(SITES))
    if not sites or unknown:
        raise FaultPlanError(
            f"{where}: sites={sorted(sites)!r} "
            + (f"names unknown sites {unknown}" if unknown else "is empty")
            + f"; an effect applies at one or more of {', '.join(SITES)}. "
            "Set e.g. `sites = frozenset({'tool'})` on the class."
        )
    if set(sites) - {"network"} and cls.decide is EffectBase.decide:
        raise FaultPlanError(
            f"{where}: effect {kind!r} applies at {', '.join(sorted(sites))} but does not define "
            "decide(site, fault); return a decision from harness.hooks (Wait, Fail, Reshape, ...)."
        )
    if "state" in sites and cls.acts_on not in ("read", "write"):
        raise FaultPlanError(
            f"{where}: effect {kind!r} applies at site 'state' but acts_on={cls.acts_on!r}; set "
            "`acts_on = 'read'` or `acts_on = 'write'` (the state operation it acts on)."
        )
    if "network" in sites and cls.toxic is EffectBase.toxic:
        raise FaultPlanError(
            f"{where}: effect {kind!r} applies at site 'network' but does not define toxic(); return "
            "the Toxiproxy toxic type and attributes, e.g. ('latency', {'latency': 100, 'jitter': 0})."
        )
    EFFECTS[kind] = cls
    for listener in _LISTENERS:
        listener()
    return cls


def on_register(listener: Callable[[], None]) -> None:
    """Call ``listener`` after every registration (models that embed the effect union rebuild)."""
    _LISTENERS.append(listener)


def effect_kinds(site: str) -> list[str]:
    """The effect kinds valid at ``site``, in a stable order (simplest first, registered last)."""
    return [kind for kind, cls in EFFECTS.items() if site in cls.sites]


def effect_union() -> Any:
    """The discriminated union of every registered effect (the type of ``Fault.effect``)."""
    return Annotated[Union[tuple(EFFECTS.values())], Field(discriminator="kind")]  # noqa: UP007
