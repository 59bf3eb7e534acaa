"""One error contract: public constructors raise their package's error with the value and the rule."""

from __future__ import annotations

import pytest

from faults import Chance, Fault, FaultPlan, FaultPlanError, Latency, Timeout
from harness import ConfigError, HarnessError, Violation
from harness.events import ToolCall
from scenarios import ScenarioError, find_reference


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (
            lambda: Fault(site="tool", target="x", call=0, effect=Timeout()),
            "call = 0: must be a call number >= 1",
        ),
        (lambda: Fault(site="disk", effect=Timeout()), 'site = "disk"'),
        (lambda: Timeout(after=-1), "after = -1"),
        (lambda: Latency(seconds=0), "seconds = 0"),
        (lambda: Chance(p=2), "p = 2"),
        (lambda: FaultPlan(faults=[1]), "faults.0 = 1"),
    ],
)
def test_faults_constructors_raise_fault_plan_error(make: object, needle: str) -> None:
    with pytest.raises(FaultPlanError) as info:
        make()  # type: ignore[operator]
    assert needle in str(info.value) and "docs/faults.md" in str(info.value)
    assert "errors.pydantic.dev" not in str(info.value)  # no pydantic URL noise
    assert isinstance(info.value, HarnessError)


def test_nested_errors_keep_their_full_path() -> None:
    with pytest.raises(FaultPlanError, match=r"faults\.0\.call"):
        FaultPlan.from_data({"faults": [{"site": "tool", "call": 0, "effect": {"kind": "error"}}]})


def test_harness_models_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"(?s)invalid Violation.*severity"):
        Violation(checker="x", severity="catastrophic", steps=[], message="m")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"(?s)invalid ToolCall.*seq"):
        ToolCall(run_id="r", seq="first", t=0.0, step_id="s0", name="t", args_digest="d")  # type: ignore[arg-type]


def test_scenarios_raise_their_error_with_the_known_names() -> None:
    with pytest.raises(ScenarioError, match=r"no reference run 'nope'; known: .*research"):
        find_reference("nope")


@pytest.mark.parametrize("package", ["harness", "faults", "judges", "scenarios"])
def test_no_dead_exported_exception(package: str) -> None:
    # Every exception class a package exports is raised somewhere in brownout's code, or is the
    # root of classes that are: an exported class nobody raises misleads users.
    import importlib
    import re
    from pathlib import Path

    module = importlib.import_module(package)
    root = Path(module.__file__).parent.parent  # type: ignore[arg-type]
    files = [f for pkg in ("harness", "faults", "judges", "scenarios") for f in (root / pkg).rglob("*.py")]
    code = "\n".join(f.read_text() for f in files if not f.name.startswith("_errors"))
    for name in module.__all__:
        value = getattr(module, name)
        if not (isinstance(value, type) and issubclass(value, BaseException)):
            continue
        raised = re.search(rf"\b{name}(?:\.(?:at|for_checkers))?\(|partial\(\s*{name}\b", code)
        family = [sub for sub in value.__subclasses__() if re.search(rf"\b{sub.__name__}(?:\.\w+)?\(", code)]
        assert raised or family, f"{package}.{name} is exported but never raised, nor any class under it"
