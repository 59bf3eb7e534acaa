"""tracking, briefing, invoicing under ``pytest --chaos``, offline from their cassettes, end to end.

Each system's naive variant fails with the checker of its failure mode named and a shrunk
plan of at most 2 faults; its hardened twin passes 200 fault plans under each of the seeds 1,
2 and 3. One pytester session per system runs all four tests (naive, and hardened with each
seed, the seed given on the marker), so the system's modules, cassettes and services load
once for its 600-odd runs; then the printed reproduce command fails the same way.

The user tests are written as a user would write them: the marker names the fault kinds and
the opt-in checkers (``scenarios.ReferenceRun.chaos``), and the body asserts what the result
must say.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
from _support.chaos_outcome import parse_outcome

from scenarios import find_reference

EXAMPLES = 200
SEEDS = (1, 2, 3)

HEADER = """
import pytest
from scenarios import find_reference

def _mark(name, seed):
    ref = find_reference(name)
    return pytest.mark.chaos(
        **ref.chaos, cassette=str(ref.cassette_path()), deadline=ref.deadline, miss="nearest", seed=seed
    )

CASES = [pytest.param("naive", marks=_mark("{system}_naive", 1), id="naive")] + [
    pytest.param("hardened", marks=_mark("{system}_hardened", seed), id=f"hardened-seed{{seed}}")
    for seed in {seeds}
]
"""

TESTS = {
    "tracking": """
from scenarios import tracking

@pytest.fixture(scope="module")
def carrier():
    with tracking.CarrierService() as service:
        yield service

@pytest.mark.parametrize("variant", CASES)
def test_tracking(chaos, carrier, variant):
    out = chaos.run(tracking.run, carrier=carrier, variant=variant).output
    assert out.status in {"ok", "degraded"}
    if out.status == "ok":
        assert [p.parcel for p in out.parcels] == ["PX-1001", "PX-1002", "PX-1003"]
    else:
        assert out.unavailable and "unavailable" in out.reply
""",
    "briefing": """
from scenarios import briefing

@pytest.mark.parametrize("variant", CASES)
def test_briefing(chaos, variant):
    out = chaos.run(briefing.run, variant=variant).output
    assert out.status in {"ok", "degraded"}
    if out.status == "ok":
        assert all(s.covered == s.planned for s in out.sections)
    else:
        assert out.incomplete and "Incomplete" in out.briefing
""",
    "invoicing": """
from scenarios import invoicing

@pytest.fixture(scope="module")
def orders():
    with invoicing.OrderService() as service:
        yield service

@pytest.mark.parametrize("variant", CASES)
def test_invoicing(chaos, orders, variant):
    out = chaos.run(invoicing.run, orders=orders, variant=variant).output
    assert out.status in {"done", "needs_review", "failed"}
    for order in out.orders:
        if order.status == "done":  # whatever is invoiced must be right
            assert order.total_cents == invoicing.expected_total(order.order_id), order.order_id
""",
}

# The checker each naive variant must be caught by (the first one named in what was violated).
CHECKERS = {
    "tracking": ("circuit_breaker", "retry_amplification"),
    "briefing": ("bulkhead",),
    "invoicing": ("phantom_completion",),
}


@pytest.mark.parametrize("system", sorted(TESTS))
def test_naive_fails_with_its_checker_and_the_hardened_twin_passes_three_seeds(
    pytester: pytest.Pytester, system: str
) -> None:
    for variant in ("naive", "hardened"):
        assert find_reference(f"{system}_{variant}").cassette_path().is_file()
    header = HEADER.replace("{system}", system).replace("{seeds}", repr(SEEDS)).replace("{{seed}}", "{seed}")
    pytester.makepyfile(**{f"test_{system}": header + TESTS[system]})
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    result = pytester.runpytest("--chaos", f"--chaos-examples={EXAMPLES}", "-p", "no:randomly", "-v", "-rf")
    text = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == len(SEEDS) and outcomes.get("failed") == 1, text[-3000:]
    for seed in SEEDS:
        assert re.search(rf"test_{system}\[hardened-seed{seed}\] PASSED", text), text[-3000:]
    assert re.search(rf"FAILED test_{system}\.py::test_{system}\[naive\]", text), text[-3000:]

    outcome = parse_outcome(text, passed=False)
    caught = [f for name in CHECKERS[system] if (f := outcome.caught_by(name)) is not None]
    assert caught, f"{system}_naive failed, but not by {CHECKERS[system]}: {outcome.summary()}"
    failure = caught[0]
    print(f"[reference] {system}_naive: {failure.summary()}")
    assert 1 <= failure.plan_size <= 2, failure.summary()
    # The reproduce command replays exactly the shrunk plan, and fails the same way.
    reproduce = re.search(r"^reproduce: (pytest '[^']+\[naive\]' '--chaos-plan=(\{.*?\})'.*)$", text, re.M)
    assert reproduce is not None, text[-3000:]
    assert len(json.loads(reproduce.group(2))["faults"]) == failure.plan_size
    again = pytester.runpytest(*shlex.split(reproduce.group(1))[1:], "-p", "no:randomly")
    again.assert_outcomes(failed=1)
    assert any(name in again.stdout.str() for name in CHECKERS[system]), again.stdout.str()[-3000:]
