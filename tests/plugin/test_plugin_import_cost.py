"""The plugin is an adapter in import terms too: a session that never uses brownout pays ~nothing.

A pytest session with one plain test must import at most 5 brownout modules, and none of
the heavy libraries (pydantic, httpx2, pandas, matplotlib, hypothesis) because of brownout:
the library loads when a test first uses ``chaos`` or ``judge``.
"""

from __future__ import annotations

import json

import pytest

PROBE = """
import json, sys

def test_plain():
    ours = sorted(m for m in sys.modules if m.split(".")[0] in ("harness", "faults", "judges", "scenarios"))
    names = ("pydantic", "httpx2", "pandas", "matplotlib", "hypothesis")
    heavy = sorted(m for m in names if m in sys.modules)
    with open("modules.json", "w") as fh:
        json.dump({"ours": ours, "heavy": heavy}, fh)
"""

HEAVY = {"pydantic", "httpx2", "pandas", "matplotlib", "hypothesis"}


def _modules(pytester: pytest.Pytester, *args: str) -> dict[str, list[str]]:
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)
    result.assert_outcomes(passed=1)
    data: dict[str, list[str]] = json.loads((pytester.path / "modules.json").read_text())
    return data


def test_a_plain_session_imports_at_most_five_brownout_modules(pytester: pytest.Pytester) -> None:
    loaded = _modules(pytester)
    assert loaded["ours"], "the brownout plugin was not loaded at all (entry point missing?)"
    assert len(loaded["ours"]) <= 5, f"brownout modules imported by a plain session: {loaded['ours']}"


def test_no_heavy_library_is_imported_through_brownout(pytester: pytest.Pytester) -> None:
    with_plugin = set(_modules(pytester)["heavy"])
    without_plugin = set(_modules(pytester, "-p", "no:brownout")["heavy"])
    through_brownout = (with_plugin - without_plugin) & HEAVY
    assert not through_brownout, (
        f"imported only because the brownout plugin is loaded: {sorted(through_brownout)}"
    )


def test_the_library_loads_when_a_test_uses_chaos(pytester: pytest.Pytester) -> None:
    # The other side of laziness: using the fixture does load the library.
    pytester.makepyfile(
        test_uses="""
import json, sys

def test_uses(chaos):
    run = chaos.run(lambda: 42)
    assert run.output == 42
    with open("modules.json", "w") as fh:
        json.dump({"ours": sorted(m for m in sys.modules if m.startswith("harness.")), "heavy": []}, fh)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    ours = json.loads((pytester.path / "modules.json").read_text())["ours"]
    assert "harness._run._runner" in ours
