"""The report's plots, drawn with matplotlib (no pyplot, no global backend) as deterministic SVG.

Same input, same bytes: the SVG hash salt is fixed, the date is left out, text is drawn
as paths from matplotlib's bundled DejaVu Sans, and every id inside the SVG derives from
its content.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from harness._log._events import (
    AgentEnd,
    AgentStart,
    FaultInjected,
    Handoff,
    LLMCall,
    MessageSend,
    Restart,
    ToolCall,
)
from harness._log._runlog import RunLog
from harness._report._rows import ResultRow
from harness._report._stats import Heatmap, pass_hat_k_by_faults, pass_hat_k_curve

__all__ = [
    "FEW_RUNS",
    "data_uri",
    "heatmap_svg",
    "heatmaps_svg",
    "pass_hat_k_faults_svg",
    "pass_hat_k_svg",
    "retention_svg",
    "swimlane_svg",
]

_RC: Any = {
    "svg.hashsalt": "brownout-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
    "hatch.linewidth": 0.8,  # the hatching of thin cells: fixed, whatever the session's rcParams
}

_STATUS_COLOR = {
    "ok": "#9ecae1",
    "error": "#fdae6b",
    "timeout": "#bdbdbd",
    "cancelled": "#d9d9d9",
    "killed": "#de2d26",
    "open": "#c6dbef",
}
_FAULT = "#d62728"
FEW_RUNS = 5  # a heatmap cell or fault-count bin with fewer runs is marked as thin evidence
_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")
_LINESTYLES = ("-", "--", "-.", ":")
_VIOLATION = "#fcbba1"


@contextmanager
def _figure(width: float, height: float, *, layout: Any = "constrained") -> Iterator[Any]:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        yield Figure(figsize=(width, height), dpi=100, layout=layout)


def _svg(fig: Any) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def data_uri(svg: str) -> str:
    """An ``<img src=...>`` value that embeds ``svg`` (ids stay private to each image)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def heatmap_svg(hm: Heatmap) -> str:
    """Pass rate by fault kind (rows) x checker (columns), each cell labelled with rate and runs."""
    from matplotlib.colors import LinearSegmentedColormap

    rows, cols = len(hm.kinds), len(hm.checkers)
    with _figure(min(13.0, max(6.0, 2.0 + 0.95 * cols)), max(2.6, 1.6 + 0.5 * rows)) as fig:
        ax = fig.add_subplot()
        cmap = LinearSegmentedColormap.from_list("brownout", ["#d73027", "#fee08b", "#1a9850"]).with_extremes(
            bad="#f0f0f0"
        )
        import numpy as np

        data = np.array([[np.nan if v is None else v for v in row] for row in hm.rates], dtype=float)
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(cols), [c.replace("_", " ") for c in hm.checkers], rotation=35, ha="right")
        ax.set_yticks(range(rows), hm.kinds)
        for i in range(rows):
            for j in range(cols):
                rate, count = hm.rates[i][j], hm.counts[i][j]
                label = "n/a" if rate is None else f"{rate:.0%}\n{count} runs"
                dark = rate is not None and (rate < 0.25 or rate > 0.8)
                ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        ax.set_title("Pass rate by fault kind x checker")
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, format="{x:.0%}")
        return _svg(fig)


def _scale(values: Sequence[float]) -> tuple[float, float]:
    """A colour range fitted to the data (at least 10 points wide, inside 0..1)."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if high - low < 0.1:
        low = max(0.0, high - 0.1)
        high = min(1.0, low + 0.1)
    return low, high


def heatmaps_svg(tests: Sequence[tuple[str, Heatmap]], limit: int = 24) -> str:
    """One heatmap per test (fault kind x checker), on one colour scale fitted to all the cells.

    Each cell shows its pass rate and its number of runs ``n``; cells with fewer than
    :data:`FEW_RUNS` runs are hatched. Pooling tests would average a naive system with its
    hardened variant; one panel per test keeps them apart. At most ``limit`` tests are drawn
    (worst first, as given); the title says how many were left out.
    """
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    shown = [(test, _failing_columns(hm)) for test, hm in tests[:limit]]
    rates = [v for _, hm in shown for row in hm.rates for v in row if v is not None]
    low, high = _scale(rates)
    norm = Normalize(vmin=low, vmax=high)
    cmap = LinearSegmentedColormap.from_list("brownout", ["#d73027", "#fee08b", "#1a9850"]).with_extremes(
        bad="#f0f0f0"
    )
    cols = max((len(hm.checkers) for _, hm in shown), default=1)
    per_row = 2 if cols <= 4 and len(shown) > 1 else 1  # narrow panels side by side
    panel_heights = [0.36 * max(1, len(hm.kinds)) + 0.2 for _, hm in shown] or [1.0]
    heights = [max(panel_heights[i : i + per_row]) for i in range(0, len(panel_heights), per_row)]
    width = 13.0 if per_row == 2 else min(13.0, max(6.5, 3.2 + 0.95 * cols))
    # A fixed layout in inches (constrained layout can move the axes by rounding noise between
    # two renders, which changes the SVG's clip ids): margins, a gap for ticks and titles.
    top, bottom, gap = 1.0, 0.7, 1.0
    height = top + bottom + sum(heights) + gap * (len(heights) - 1)
    import numpy as np

    with _figure(width, height, layout=None) as fig:
        fig.subplots_adjust(
            left=1.7 / width,
            right=1 - 1.0 / width,
            top=1 - top / height,
            bottom=bottom / height,
            hspace=gap / (sum(heights) / len(heights)),
            wspace=0.45,
        )
        grid = fig.subplots(len(heights), per_row, squeeze=False, gridspec_kw={"height_ratios": heights})
        axes = [ax for row in grid for ax in row]
        image = None
        for ax, (test, hm) in zip(axes, shown, strict=False):
            data = np.array([[np.nan if v is None else v for v in row] for row in hm.rates], dtype=float)
            image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, norm=norm, aspect="auto")
            ax.set_xticks(
                range(len(hm.checkers)),
                [c.replace("_", " ") for c in hm.checkers],
                fontsize=7,
                rotation=15,
                ha="right",
            )
            ax.set_yticks(range(len(hm.kinds)), hm.kinds, fontsize=7)
            held = len(dict(tests)[test].checkers) - len(hm.checkers)
            note = f"\n+{held} checker(s) held in every run (not drawn)" if held else ""
            ax.set_title(_short(test.rsplit("::", 1)[-1], 60) + note, fontsize=8, loc="left")
            ax.spines[:].set_visible(False)
            for i, row in enumerate(hm.rates):
                for j, rate in enumerate(row):
                    n = hm.counts[i][j]
                    if rate is None:
                        ax.text(j, i, "no runs", ha="center", va="center", fontsize=6.5, color="#737373")
                        continue
                    if n < FEW_RUNS:
                        ax.add_patch(_hatch(j, i))
                    shade = norm(rate)
                    color = "white" if shade < 0.2 or shade > 0.85 else "black"
                    ax.text(j, i, f"{rate:.0%}  n={n}", ha="center", va="center", fontsize=7, color=color)
        for ax in axes[len(shown) :]:
            ax.set_visible(False)
        left_out = len(tests) - len(shown)
        title = "Pass rate by fault kind x checker, per test"
        if left_out:
            title += f" (first {len(shown)} tests; {left_out} more in the results table)"
        fig.suptitle(title, fontsize=10)
        if image is not None:
            cax = fig.add_axes((1 - 0.8 / width, bottom / height, 0.15 / width, 1 - (top + bottom) / height))
            bar = fig.colorbar(image, cax=cax, format="{x:.0%}")
            bar.set_label(
                f"pass rate (scale fitted: {low:.0%}-{high:.0%}); hatched: n < {FEW_RUNS}", fontsize=7
            )
        return _svg(fig)


def _failing_columns(hm: Heatmap) -> Heatmap:
    """``hm`` without the checker columns that held in every run (``assertions`` always stays)."""
    keep = [
        j
        for j, name in enumerate(hm.checkers)
        if name == hm.checkers[-1] or any((rate := row[j]) is not None and rate < 1.0 for row in hm.rates)
    ]
    return Heatmap(
        hm.kinds,
        [hm.checkers[j] for j in keep],
        [[row[j] for j in keep] for row in hm.rates],
        [[row[j] for j in keep] for row in hm.counts],
    )


def _hatch(x: float, y: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#00000030", lw=0)


def pass_hat_k_svg(groups: Sequence[tuple[str, Sequence[ResultRow]]], k_max: int = 8) -> str:
    """pass^k for k = 1..8, one line per test; every test is in the legend, outside the plot.

    A test with n runs has points up to k = n (one run: a single point at k = 1). Tests with
    the same pass rate draw the same curve, so each line has its own marker and dash and
    the legend gives n and pass^1 for each.
    """
    with _figure(9.6, max(3.4, 1.2 + 0.2 * len(groups))) as fig:
        ax = fig.add_subplot()
        for number, (label, rows) in enumerate(groups):
            curve = pass_hat_k_curve(rows, k_max)
            if not curve:
                continue
            ax.plot(
                [k for k, _ in curve],
                [p for _, p in curve],
                marker=_MARKERS[number % len(_MARKERS)],
                linestyle=_LINESTYLES[(number // len(_MARKERS)) % len(_LINESTYLES)],
                markersize=4,
                markerfacecolor="none",
                label=f"{_short(label, 60)} (n={len(rows)}, pass^1={curve[0][1]:.0%})",
            )
        ax.set_xlabel("k (all k independent runs must pass)")
        ax.set_ylabel("pass^k")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(0.8, k_max + 0.2)
        ax.set_xticks(range(1, k_max + 1))
        ax.grid(True, alpha=0.3)
        ax.set_title("pass^k per test")
        if ax.lines:
            fig.legend(loc="outside right upper", fontsize=7, frameon=False)
        return _svg(fig)


def pass_hat_k_faults_svg(rows: Sequence[ResultRow]) -> str:
    """pass^k (k = 1, 2, 4, 8) against the number of faults that reached each run (a count).

    Each bin's number of runs is written under its k = 1 point; points of bins with fewer
    than :data:`FEW_RUNS` runs are hollow. When failing tests are among the rows, a note
    says why their runs are no random sample: a failing test stops exploring at its first
    failure and then shrinks it.
    """
    curves = pass_hat_k_by_faults(rows)
    sizes: dict[int, int] = {}
    for row in rows:
        sizes[row.faults_injected] = sizes.get(row.faults_injected, 0) + 1
    failed = sorted({r.test for r in rows if r.final and not r.ok})
    failed_runs = sum(1 for r in rows if r.test in set(failed))
    with _figure(6.4, 3.4 if failed else 3.0) as fig:
        ax = fig.add_subplot()
        for k, points in curves.items():
            (line,) = ax.plot([x for x, _ in points], [y for _, y in points], label=f"k={k}", lw=1.2)
            for x, y in points:
                few = sizes.get(x, 0) < FEW_RUNS
                ax.plot(
                    [x],
                    [y],
                    marker="o",
                    markersize=4,
                    color=line.get_color(),
                    markerfacecolor="white" if few else line.get_color(),
                )
        for x, y in curves.get(1, []):
            ax.annotate(
                f"n={sizes.get(x, 0)}",
                (x, y),
                textcoords="offset points",
                xytext=(0, -11),
                ha="center",
                fontsize=6.5,
                color="#525252",
            )
        xs = sorted(sizes) or [0]
        ax.set_xticks(xs, [str(x) for x in xs])
        label = "faults that reached the run (count)"
        if failed:
            note = (
                f"{len(failed)} failing test(s) made {failed_runs} of the {len(rows)} runs: a failing test "
                "stops exploring at its first failure and then shrinks it, so its runs are no random sample."
            )
            label += "\n" + textwrap.fill(note, 95)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("pass^k")
        ax.set_ylim(-0.1, 1.05)
        ax.grid(True, alpha=0.3)
        ax.set_title("pass^k by number of injected faults (all tests)")
        if ax.lines:
            from matplotlib.lines import Line2D

            handles, labels = ax.get_legend_handles_labels()
            hollow = Line2D([], [], marker="o", ls="", color="#525252", markerfacecolor="white")
            fig.legend(
                [*handles, hollow],
                [*labels, f"bin of < {FEW_RUNS} runs"],
                loc="outside right upper",
                fontsize=7,
                frameon=False,
            )
        return _svg(fig)


def retention_svg(retention: Sequence[tuple[str, float | None, float | None, int, int]]) -> str:
    """Mean judge score per rubric: baseline runs vs runs under faults."""
    with _figure(6.4, 2.8) as fig:
        ax = fig.add_subplot()
        names = [r[0] for r in retention]
        xs = list(range(len(names)))
        base = [r[1] if r[1] is not None else 0.0 for r in retention]
        faulted = [r[2] if r[2] is not None else 0.0 for r in retention]
        ax.bar([x - 0.2 for x in xs], base, width=0.4, label="baseline", color="#6baed6")
        ax.bar([x + 0.2 for x in xs], faulted, width=0.4, label="under faults", color="#fd8d3c")
        for x, r in zip(xs, retention, strict=True):
            if r[1] and r[2] is not None:
                ax.text(
                    x,
                    max(base[x], faulted[x]),
                    f"{r[2] / r[1]:.0%} kept",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        ax.set_xticks(xs, [_short(n, 24) for n in names])
        ax.set_ylabel("mean judge score")
        ax.set_title("Judge-score retention under faults")
        ax.legend(fontsize=7, frameon=False)
        return _svg(fig)


def swimlane_svg(log: RunLog, violation_steps: Sequence[int], title: str) -> str:
    """A run as a timeline: one lane per agent, tool and LLM calls, faults marked, violation steps shaded.

    The x axis is the event sequence number (the order things happened); the virtual
    time of each fault is in its label. A crash and restart (``restart`` event) is a dashed
    line across every lane, labelled with its kill point and the new incarnation; the scopes
    the crashed incarnation left open end there, marked ``crashed``.
    """
    lanes: list[str] = []

    def lane(name: str | None) -> int:
        key = name or "(run)"
        if key not in lanes:
            lanes.append(key)
        return lanes.index(key)

    lane(None)
    for event in log:
        if isinstance(event, AgentStart):
            lane(event.name)
    n = max(len(log), 1)
    label_calls = len(log) <= 160
    with _figure(13.0, max(2.2, 1.1 + 0.8 * len(lanes))) as fig:
        ax = fig.add_subplot()
        for step in sorted(set(violation_steps)):
            ax.axvspan(step - 0.5, step + 0.5, color=_VIOLATION, alpha=0.8, zorder=0, lw=0)
        ends = {e.start_seq: e for e in log.of(AgentEnd)}
        restarts = log.of(Restart)
        died = {r.crashed: r.seq for r in restarts}  # incarnation -> where its process died
        for start in log.of(AgentStart):
            end = ends.get(start.seq)
            stop = end.seq if end is not None else n - 1
            status: str = end.status if end is not None else "open"
            if end is None and start.incarnation in died:
                stop, status = died[start.incarnation], "crashed"
            y = lane(start.name)
            ax.barh(
                y,
                max(stop - start.seq, 0.6),
                left=start.seq,
                height=0.5,
                color=_STATUS_COLOR["killed" if status == "crashed" else status],
                edgecolor="#636363",
                linewidth=0.4,
                zorder=1,
            )
            if status != "ok":
                ax.text(stop, y + 0.3, status, fontsize=6.5, color="#a50f15", ha="right", va="bottom")
        for event in log:
            if isinstance(event, ToolCall):
                y = lane(event.agent)
                bad = event.status != "ok"
                ax.scatter(
                    [event.seq],
                    [y],
                    marker="s",
                    s=26,
                    zorder=3,
                    linewidths=0.6,
                    color="#e6550d" if bad else "#31a354",
                    edgecolors="black",
                )
                if label_calls:
                    tag = event.name + (f" #{event.attempt}" if event.attempt > 1 else "")
                    ax.text(
                        event.seq, y - 0.28, tag, fontsize=6.5, rotation=20, ha="left", va="bottom", zorder=4
                    )
            elif isinstance(event, LLMCall):
                y = lane(event.agent)
                hollow = event.source == "substituted"
                ax.scatter(
                    [event.seq],
                    [y],
                    marker="o",
                    s=22,
                    zorder=3,
                    linewidths=0.8,
                    facecolors="none" if hollow else "#6a51a3",
                    edgecolors="#6a51a3",
                )
            elif isinstance(event, FaultInjected):
                y = lane(event.agent)
                ax.scatter(
                    [event.seq],
                    [y],
                    marker="X",
                    s=70,
                    color=_FAULT,
                    zorder=5,
                    edgecolors="white",
                    linewidths=0.5,
                )
                ax.text(
                    event.seq,
                    y + 0.3,
                    f"{event.site}[{event.target or '*'}]: {event.effect} @ {event.t:g}s",
                    fontsize=6.5,
                    color=_FAULT,
                    ha="center",
                    va="top",
                    zorder=5,
                )
            elif isinstance(event, Handoff | MessageSend):
                y = lane(event.agent)
                ax.scatter([event.seq], [y], marker=">", s=18, color="#3182bd", zorder=3)
        for restart in restarts:
            ax.axvline(restart.seq, color=_FAULT, linestyle="--", linewidth=1.2, zorder=6)
            ax.text(
                restart.seq + 0.2,
                len(lanes) - 0.45,
                f"crash ({restart.point}) → restart, incarnation {restart.incarnation}",
                fontsize=7,
                color=_FAULT,
                ha="left",
                va="bottom",
                zorder=6,
            )
        ax.set_yticks(range(len(lanes)), lanes)
        ax.set_ylim(len(lanes) - 0.4, -0.6)
        ax.set_xlim(-1, n)
        ax.set_xlabel(
            "step (event seq)  ·  ■ tool call  ● LLM call (○ substituted)  ✕ fault  ▶ handoff/message"
            "  ▮ violation step  ┆ crash and restart"
        )
        ax.set_title(_short(title, 140), loc="left")
        ax.grid(True, axis="x", alpha=0.2)
        return _svg(fig)
