"""Each shipped reference system, naive and hardened, under `pytest --chaos`, replayed from its cassette.

The naive variants carry the bug their system is known for; the hardened ones carry the fix.
Under --chaos, the checkers find each naive bug and each hardened twin passes every example.
"""

from __future__ import annotations

from typing import Any

import pytest

from scenarios import REFERENCE_RUNS, cassette_dir


def _cases() -> list[Any]:
    cases = []
    for ref in REFERENCE_RUNS:
        if ref.fault is not None or not ref.cassette_path().is_file():
            continue
        mark = pytest.mark.chaos(
            # The fault kinds that reach the system's failure mode, and its checkers (the opt-in
            # ones named, e.g. checks=["default", "circuit_breaker"]), as a user would mark it.
            **ref.chaos,
            cassette=str(cassette_dir() / f"{ref.name}.json"),
            deadline=ref.deadline,
            # A fault changes the path: a degraded system asks what was never recorded (a stage
            # without its predecessor's output, the SDK's retry of a reply cut mid-stream). Serve
            # the same agent's recording at that position, marked substituted, rather than stop.
            miss="nearest",
        )
        cases.append(pytest.param(ref, marks=mark, id=ref.name))
    return cases


@pytest.mark.parametrize("ref", _cases())
def test_reference(chaos: Any, services: dict[str, Any], ref: Any) -> None:
    if ref.system not in services:  # each system's services start once and serve both variants
        services[ref.system] = services["stack"].enter_context(ref.services())
    # A system that can restart after a crash says how (its crash-restart kill points are drawn).
    chaos.run(ref.entry, resume=ref.resume, variant=ref.variant, **services[ref.system])
