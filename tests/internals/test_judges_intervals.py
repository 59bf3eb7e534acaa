"""The 95% intervals of a calibration: exact binomial bounds and a seeded bootstrap for kappa."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from scipy.stats import beta

from judges import CalibrationError
from judges._calibrate import (
    CalibrationRow,
    _summary,
    bootstrap_kappa,
    clopper_pearson,
    cohen_kappa,
    per_system,
    side_by_side,
)
from judges._verdict import JudgeSpec


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (17, 24), (44, 63), (62, 63), (63, 63), (5, 200)])
def test_clopper_pearson_matches_the_beta_quantiles(k: int, n: int) -> None:
    low, high = clopper_pearson(k, n)
    expected_low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    expected_high = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert low == pytest.approx(expected_low, abs=1e-9)
    assert high == pytest.approx(expected_high, abs=1e-9)
    assert low <= k / n <= high


def test_clopper_pearson_rejects_what_is_not_a_count() -> None:
    with pytest.raises(CalibrationError, match=r"0 <= successes <= n"):
        clopper_pearson(5, 3)
    with pytest.raises(CalibrationError, match=r"confidence=0.95"):
        clopper_pearson(1, 3, confidence=1.5)
    assert all(math.isnan(x) for x in clopper_pearson(0, 0))


def test_bootstrap_kappa_is_seeded_and_brackets_the_estimate() -> None:
    labels = [True] * 20 + [False] * 20
    predicted = [True] * 16 + [False] * 4 + [False] * 15 + [True] * 5
    kappa = cohen_kappa(labels, predicted)
    first = bootstrap_kappa(labels, predicted)
    assert first == bootstrap_kappa(labels, predicted)  # same seed, same interval
    assert first != bootstrap_kappa(labels, predicted, seed=1)
    low, high = first
    assert -1.0 <= low < kappa < high <= 1.0
    assert high - low < 0.7


def test_bootstrap_kappa_is_undefined_when_kappa_is() -> None:
    assert all(math.isnan(x) for x in bootstrap_kappa([True, True], [True, True]))
    with pytest.raises(CalibrationError, match="equal length"):
        bootstrap_kappa([True], [True, False])


def _rows(spec: Sequence[tuple[str, bool, bool | None]]) -> list[CalibrationRow]:
    return [
        CalibrationRow(
            id=f"e{i}", system=system, label=label, predicted=predicted, status="scored", total=None
        )
        for i, (system, label, predicted) in enumerate(spec)
    ]


def test_a_summary_carries_intervals_overall_and_per_system() -> None:
    rows = _rows(
        [("a", True, True)] * 6 + [("a", False, False)] * 5 + [("a", False, True)]
        + [("b", True, True)] * 3 + [("b", False, None)] + [("b", False, False)] * 4
    )  # fmt: skip
    result = _summary(JudgeSpec(name="openai", args={"model": "m", "prompt": "naive"}), rows)
    assert result.n == 20 and result.scored == 19
    assert result.accuracy == pytest.approx(18 / 20)
    assert result.accuracy_interval == pytest.approx(clopper_pearson(18, 20))
    assert result.coverage_interval == pytest.approx(clopper_pearson(19, 20))
    low, high = result.kappa_interval
    assert low < result.kappa < high
    parts = result.by_system()
    assert set(parts) == {"a", "b"} and parts["a"].n == 12 and parts["b"].coverage == pytest.approx(7 / 8)
    table = side_by_side([result])
    assert "| m (naive) | 20 | 0.900 [" in table and "accuracy [95% CI]" in table
    assert "| a, m (naive) | 12 |" in per_system([result])
