"""Fault models: a :class:`Fault` is a site selector plus an effect; a :class:`FaultPlan` is a few of them.

A fault names *where* it strikes (``site``, ``target``, ``call``) and *what* happens
(``effect``, one of the registered effects, discriminated by ``kind``). Everything is
pydantic, round-trips through JSON, and prints as one readable line::

    tool[send_email]#2: slow_then_succeed(40s)
    llm[planner]#1: rate_limit(retry_after=20s)
    worker[researcher]#every: kill
    network[payments]#every: latency(1.5s, jitter=0.2s)

Call numbers are 1-based and count the calls *at that site in one run*: with a target,
the calls of that tool / by that agent / on that channel or store; without one
(``tool[*]``), all calls at the site. Every HTTP attempt counts as an LLM call, so the
openai SDK's own retries are separate calls.

``Fault.effect`` accepts every effect in the registry (:func:`faults.register_effect`):
registering an effect rebuilds the two models here with the new union.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo

import faults._crash
import faults._effects  # noqa: F401  (registers the built-in effects, which Effect is made of)
from faults._errors import FaultPlanError
from faults._inject import PlanHooks
from faults._registry import (
    EFFECTS,
    SITES,
    EffectBase,
    FaultModel,
    Site,
    effect_kinds,
    effect_union,
    on_register,
)

__all__ = ["Chance", "Effect", "Fault", "FaultPlan"]

# The union of the effects registered so far: the type of ``Fault.effect`` (for a type
# checker, any effect).
if TYPE_CHECKING:
    Effect = EffectBase
else:
    Effect = effect_union()


class Chance(FaultModel):
    """Select each call with probability ``p``, decided by a hash of ``seed`` and the call number.

    The same seed selects the same calls in every run, whatever else happens in between.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    p: float = Field(gt=0, le=1)
    seed: StrictInt = 0

    def selects(self, key: str, call: int) -> bool:
        return random.Random(f"{self.seed}:{key}:{call}").random() < self.p

    def __str__(self) -> str:
        return f"p={self.p:g}/seed={self.seed}"


CallSelector = Annotated[StrictInt, Field(ge=1)] | Literal["every"] | Chance


class Fault(FaultModel):
    """One fault: where it strikes (site, target, call) and what happens (effect).

    Attributes:
        site: ``llm``, ``tool``, ``message``, ``state``, ``worker``, ``network`` or ``budget``.
        target: The agent (llm, worker), tool, channel, store or proxy name; ``None`` for any.
        call: The 1-based call number, ``"every"``, or a :class:`Chance`.
        effect: What happens (one of the effect models; see docs/faults.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Site
    target: str | None = None
    call: CallSelector = 1
    effect: Effect

    @field_serializer("effect")
    def _compact_effect(self, effect: EffectBase) -> dict[str, Any]:
        # Only the kind and the parameters that differ from their defaults: short replay commands.
        data = effect.model_dump(mode="json", exclude_defaults=True)
        return {"kind": effect.kind, **data}

    @model_validator(mode="after")
    def _check(self) -> Fault:
        effect = self.effect
        if self.site not in effect.sites:
            valid = ", ".join(effect_kinds(self.site))
            raise ValueError(
                f"effect {effect.kind!r} does not apply at site {self.site!r}; it applies at "
                f"{', '.join(sorted(effect.sites))}. Effects valid at {self.site!r}: {valid}"
            )
        effect.check_at(self.site)
        if self.site == "network" and self.call != "every":
            raise ValueError(
                f"call={self.call!r}: a network fault acts on the proxy for the whole run, so call must be "
                "'every' (use toxicity=<0..1> for a fraction of connections)"
            )
        if self.target is not None and not self.target:
            raise ValueError(
                "target='' is empty: name the agent/tool/channel/store/proxy, or use null for any"
            )
        return self

    @property
    def kind(self) -> str:
        """``<site>.<effect kind>``, the name used in ``@pytest.mark.chaos(faults=[...])``."""
        return f"{self.site}.{self.effect.kind}"

    def selects(self, target: str | None, call_for_target: int, call_at_site: int) -> bool:
        """Whether this fault strikes the given call (target name, its count, the site's count)."""
        if self.target is not None and self.target != target:
            return False
        n = call_for_target if self.target is not None else call_at_site
        if self.call == "every":
            return True
        if isinstance(self.call, Chance):
            return self.call.selects(f"{self.site}:{self.target or '*'}", n)
        return n == self.call

    def __str__(self) -> str:
        return f"{self.site}[{self.target or '*'}]#{self.call}: {self.effect}"


class FaultPlan(FaultModel):
    """A small, ordered set of faults: what goes wrong in one run.

    When several faults select the same call, the first one in the plan wins.
    ``plan.hooks()`` gives the :class:`harness.RunHooks` that inject them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    faults: tuple[Fault, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _accept_list(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"faults": list(data)}
        return data

    @model_validator(mode="after")
    def _check(self) -> FaultPlan:
        seen: set[Fault] = set()
        for index, fault in enumerate(self.faults):
            if fault in seen:
                raise ValueError(f"faults[{index}] ({fault}) appears twice; a plan holds each fault once")
            seen.add(fault)
        return self

    @classmethod
    def from_json(cls, text: str | bytes) -> FaultPlan:
        """Parse a plan from JSON (an object ``{"faults": [...]}`` or a bare list of faults).

        Raises:
            FaultPlanError: naming the field, the value and the rule that was broken.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            snippet = (text if isinstance(text, str) else text.decode("utf-8", "replace"))[:80]
            raise FaultPlanError(
                f"fault plan is not valid JSON ({exc.msg} at char {exc.pos}): {snippet!r}. Pass the JSON "
                'printed in a failure message, e.g. {"faults": [{"site": "tool", "target": "send_email", '
                '"call": 1, "effect": {"kind": "error"}}]}.'
            ) from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Any) -> FaultPlan:
        """Validate already-parsed data (dict or list) into a plan; errors as in :meth:`from_json`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise FaultPlanError(_explain(exc)) from None

    def hooks(self) -> PlanHooks:
        """The :class:`harness.RunHooks` that inject this plan's faults into one run."""
        return PlanHooks(self)

    def __str__(self) -> str:
        if not self.faults:
            return "(no faults)"
        return "; ".join(str(f) for f in self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    def describe(self) -> str:
        """One fault a line, numbered."""
        if not self.faults:
            return "  (no faults)"
        return "\n".join(f"  {i}. {f}" for i, f in enumerate(self.faults, 1))


def _explain(exc: ValidationError) -> str:
    problems = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_branch(p)) or "(plan)"
        if loc in seen:  # one line per field, even where a union produced several errors
            continue
        seen.add(loc)
        value = err.get("input")
        shown = json.dumps(value, default=repr)[:80] if not isinstance(value, dict) else "{...}"
        msg = err["msg"].removeprefix("Value error, ")
        if loc.endswith(".call") and len(err["loc"]) > 2:
            msg = 'must be a call number >= 1, "every", or {"p": <0..1>, "seed": <int>}'
        problems.append(f"  - {loc} = {shown}: {msg}")
    kinds = ", ".join(EFFECTS)
    return (
        f"invalid fault plan ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
        + "\n".join(problems)
        + f"\nA fault is {{site: {'|'.join(SITES)}, target: name or null, call: n >= 1 | 'every' | "
        f"{{p, seed}}, effect: {{kind, ...}}}}; effect kinds: {kinds}. See docs/faults.md."
    )


def _is_union_branch(part: Any) -> bool:
    # pydantic inserts union branch names (``int``, ``literal['every']``, ``Chance``) into error locations.
    return isinstance(part, str) and (
        part in ("int", "constrained-int", "Chance") or part.startswith("literal[")
    )


def _rebuild() -> None:
    # A newly registered effect joins the union that validates Fault.effect (and so FaultPlan).
    global Effect
    Effect = effect_union()
    Fault.model_fields["effect"] = FieldInfo.from_annotation(Effect)
    Fault.model_rebuild(force=True)
    FaultPlan.model_rebuild(force=True)


on_register(_rebuild)
