"""The report's plots tell the truth: per-test heatmaps on a fitted scale with each cell's n,
every test in the pass^k legend (outside the axes), the fault-count plot labelled as a count."""

from __future__ import annotations

from typing import Any

import pytest

import harness._report._plots as plots
from harness._report import ResultRow, heatmap


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The matplotlib figures the plot functions draw, instead of their SVG."""
    drawn: list[Any] = []

    def keep(fig: Any) -> str:
        drawn.append(fig)
        return ""

    monkeypatch.setattr(plots, "_svg", keep)
    return drawn


def _runs(
    test: str, kind: str, passed: int, failed: int, *, checker: str = "duplicate_side_effects"
) -> list[ResultRow]:
    base = dict(
        test=test, fault_kinds=kind, faults_injected=1, checkers_run=f"{checker},liveness", mode="chaos"
    )
    ok = [ResultRow(**base, outcome="handled") for _ in range(passed)]
    bad = [ResultRow(**base, outcome="silent", checkers_violated=checker) for _ in range(failed)]
    rows = ok + bad
    return [r.model_copy(update={"index": i, "final": i == len(rows) - 1}) for i, r in enumerate(rows)]


def _texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_one_heatmap_per_test_on_a_scale_fitted_to_the_data(figures: list[Any]) -> None:
    naive = _runs("t::naive", "tool.timeout", 18, 2) + _runs("t::naive", "tool.error", 2, 1)
    hardened = _runs("t::hardened", "tool.timeout", 20, 0)
    plots.heatmaps_svg([("t::naive", heatmap(naive)), ("t::hardened", heatmap(hardened))])
    (fig,) = figures
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2  # not pooled: one panel per test
    image = panels[0].images[0]
    rates = [0.9, 2 / 3, 1.0]
    assert (image.norm.vmin, image.norm.vmax) == (pytest.approx(min(rates)), pytest.approx(1.0))
    texts = _texts(panels[0])
    assert "90%  n=20" in texts and "67%  n=3" in texts  # each cell: its rate and its n
    # liveness held in every run: not drawn, and the title says so
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["duplicate side effects", "assertions"]
    assert "+1 checker(s) held in every run" in panels[0].get_title(loc="left")
    hatched = [p for p in panels[0].patches if p.get_hatch()]
    assert len(hatched) == 2  # the tool.error row: 3 runs < FEW_RUNS, in both columns


def test_a_uniform_heatmap_still_has_a_readable_scale() -> None:
    assert plots._scale([1.0, 1.0]) == (pytest.approx(0.9), 1.0)
    assert plots._scale([0.0, 0.02]) == (0.0, pytest.approx(0.1))
    assert plots._scale([]) == (0.0, 1.0)


def test_pass_hat_k_shows_every_test_in_a_legend_outside_the_axes(figures: list[Any]) -> None:
    groups = [(f"t::test_{i}", _runs(f"t::test_{i}", "tool.error", 5, i)) for i in range(12)]
    groups.append(("t::once", _runs("t::once", "tool.error", 1, 0)))  # a single run: one point
    plots.pass_hat_k_svg(groups)
    (fig,) = figures
    assert not fig.axes[0].get_legend()  # not drawn over the data
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == 13 and labels[-1] == "t::once (n=1, pass^1=100%)"
    assert labels[0] == "t::test_0 (n=5, pass^1=100%)"
    styles = {(line.get_marker(), line.get_linestyle()) for line in fig.axes[0].lines}
    assert len(styles) == 13  # lines on top of each other stay tellable apart


def test_fault_count_plot_is_a_count_marks_thin_bins_and_explains_failing_tests(figures: list[Any]) -> None:
    rows = _runs("t::hardened", "tool.error", 12, 0) + _runs("t::naive", "tool.timeout", 1, 2)
    rows += [ResultRow(test="t::hardened", index=99, outcome="pass")]  # one run without faults
    plots.pass_hat_k_faults_svg(rows)
    (fig,) = figures
    ax = fig.axes[0]
    label = ax.get_xlabel()
    assert label.startswith("faults that reached the run (count)")
    assert "1 failing test(s) made 3 of the 16 runs" in " ".join(label.split())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    assert "n=1" in _texts(ax) and "n=15" in _texts(ax)
    points = {
        (line.get_xdata()[0], line.get_markerfacecolor()) for line in ax.lines if len(line.get_xdata()) == 1
    }
    assert (0, "white") in points  # the 1-run bin is hollow
    assert any(x == 1 and face != "white" for x, face in points)
    assert fig.legends and not ax.get_legend()
