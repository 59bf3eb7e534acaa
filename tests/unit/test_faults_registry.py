"""The effect registry: effects are listed once, and a bad registration is explained."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from faults import EFFECTS, SITES, EffectBase, FaultPlanError, effect_kinds, register_effect
from harness.hooks import Proceed

DOCS = Path(__file__).parents[2] / "docs" / "faults.md"
# The section of docs/faults.md whose table lists the effects of each site.
SECTIONS = {
    "llm": "## LLM faults",
    "tool": "## Tool faults",
    "worker": "## Worker faults",
    "message": "## Message faults",
    "state": "## State faults",
    "network": "## Network faults",
    "budget": "## Budget faults",
}


def _documented(site: str) -> set[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(SECTIONS[site], 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)", section, flags=re.MULTILINE))


@pytest.mark.parametrize("site", SITES)
def test_every_registered_effect_is_documented_at_each_of_its_sites(site: str) -> None:
    built_in = [k for k in effect_kinds(site) if EFFECTS[k].__module__.startswith("faults.")]
    assert built_in
    missing = sorted(set(built_in) - _documented(site))
    assert not missing, f"docs/faults.md ({SECTIONS[site]}) has no table row for {missing}"


def _effect(kind: str, sites: frozenset[str], **attrs: Any) -> type[EffectBase]:
    namespace: dict[str, Any] = {
        "__annotations__": {"kind": Literal[kind]},  # type: ignore[valid-type]
        "kind": kind,
        "sites": sites,
        "decide": lambda self, site, fault: Proceed(),
        "__module__": __name__,
        "__qualname__": f"Custom_{kind}",
        **attrs,
    }
    return type(f"Custom_{kind}", (EffectBase,), namespace)


def test_a_kind_that_is_taken_is_refused() -> None:
    before = dict(EFFECTS)
    with pytest.raises(FaultPlanError) as info:
        register_effect(_effect("latency", frozenset({"tool"})))
    message = str(info.value)
    assert "kind 'latency' is already registered by faults._effects.Latency" in message
    assert "each kind names one effect" in message and "Literal['my_latency']" in message
    assert before == EFFECTS


@pytest.mark.parametrize(
    ("sites", "expected"),
    [
        (frozenset(), "sites=[] is empty; an effect applies at one or more of llm, tool"),
        (frozenset({"tool", "disk"}), "sites=['disk', 'tool'] names unknown sites ['disk']"),
    ],
)
def test_an_effect_without_valid_sites_is_refused(sites: frozenset[str], expected: str) -> None:
    with pytest.raises(FaultPlanError, match=re.escape(expected)) as info:
        register_effect(_effect("nowhere", sites))
    assert "sites = frozenset({'tool'})" in str(info.value)
    assert "nowhere" not in EFFECTS


def test_what_a_site_needs_is_asked_for() -> None:
    class NoDecision(EffectBase):
        kind: Literal["no_decision"] = "no_decision"
        sites: ClassVar[frozenset[str]] = frozenset({"tool"})

    with pytest.raises(FaultPlanError, match=r"does not define decide\(site, fault\)"):
        register_effect(NoDecision)
    with pytest.raises(FaultPlanError, match=r"acts_on=None; set `acts_on = 'read'`"):
        register_effect(_effect("no_op", frozenset({"state"})))
    with pytest.raises(FaultPlanError, match=r"is not an effect class"):
        register_effect(dict)  # type: ignore[type-var]
    assert not {"no_decision", "no_op"} & set(EFFECTS)
