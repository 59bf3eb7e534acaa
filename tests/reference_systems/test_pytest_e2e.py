"""End to end through pytest itself: a user's test of a reference system, replayed and under a fault plan."""

from __future__ import annotations

import json

import pytest

from scenarios import FAULTS
from scenarios import find_reference as find

CHECKOUT_TEST = """
import pytest
from scenarios import checkout
from scenarios._shop import ShopService

@pytest.mark.chaos(cassette={cassette!r}, checks=["duplicate_side_effects", "saga_compensation"])
@pytest.mark.parametrize("variant", ["naive", "hardened"])
def test_checkout_sends_one_email(chaos, variant):
    with ShopService() as shop:
        run = chaos.run(checkout.run, shop=shop, variant=variant)
        assert run.output.status == "confirmed"
        assert len(shop.effects("email")) == 1, "the shop sent the confirmation more than once"
"""


def test_checkout_under_pytest_passes_on_replay_and_the_naive_variant_fails_under_the_fault_plan(
    pytester: pytest.Pytester,
) -> None:
    # The email body is the checkout's only model call, the same with and without the fault,
    # so the happy-path cassette serves both.
    pytester.makepyfile(
        test_checkout=CHECKOUT_TEST.format(cassette=str(find("checkout_naive").cassette_path()))
    )
    baseline = pytester.runpytest("-p", "no:cacheprovider")
    baseline.assert_outcomes(passed=2)

    plan = json.dumps({"faults": FAULTS["checkout"][1]})
    faulted = pytester.runpytest("-p", "no:cacheprovider", "-v", f"--chaos-plan={plan}")
    faulted.assert_outcomes(passed=1, failed=1)
    faulted.stdout.fnmatch_lines(
        [
            "*test_checkout_sends_one_email?naive? FAILED*",
            "*test_checkout_sends_one_email?hardened? PASSED*",
            "*duplicate_side_effects*",
        ]
    )
