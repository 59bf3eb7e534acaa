"""report.html: one self-contained page (inline CSS, plots embedded as SVG data URIs, no scripts)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from harness._report._markdown import plan_oneline
from harness._report._rows import OUTCOME_MEANING, OUTCOMES, ResultRow
from harness._report._stats import TestSummary
from harness._report._verdicts import judge_cost, verdict_lines

__all__ = ["Figures", "render_html"]

_CSS = """
body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px auto;max-width:1320px;color:#222;font-size:14px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}
.muted{color:#666}.badges span{display:inline-block;margin:6px 8px 0 0;padding:4px 10px;border-radius:12px;
font-weight:bold;font-size:13px}
.o-silent{background:#7f0000;color:#fff}.o-loud{background:#e6550d;color:#fff}
.o-error{background:#a50f15;color:#fff}.o-unscored{background:#9e9ac8;color:#222}
.o-indeterminate{background:#756bb1;color:#fff}.o-handled{background:#41ab5d;color:#fff}.o-pass{background:#c7e9c0;color:#222}
table{border-collapse:collapse;margin:6px 0 12px;font-size:12.5px}
th,td{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top}th{background:#f5f5f5}
td.num{text-align:right}code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:8px;white-space:pre-wrap;
word-break:break-all;margin:4px 0}
.failure{border:1px solid #e0e0e0;border-left:5px solid #7f0000;padding:6px 12px;margin:12px 0}
.failure.f-loud{border-left-color:#e6550d}.failure.f-indeterminate{border-left-color:#756bb1}
.failure .badge{font-size:12px;padding:2px 8px;border-radius:10px}
img.plot{max-width:100%;display:block;margin:6px 0}.grid{display:flex;flex-wrap:wrap;gap:12px}
"""


@dataclass(frozen=True)
class Figures:
    """The embedded plots (``data:`` URIs) and each failing test's swimlane."""

    heatmap: str
    pass_hat_k: str | None
    pass_hat_k_faults: str | None
    retention: str | None
    swimlanes: dict[str, str]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(outcome: str) -> str:
    return f'<span class="badge o-{outcome}">{_e(outcome)}</span>'


def _violations_html(row: ResultRow) -> str:
    items = row.violation_list()
    if not items:
        return ""
    parts = ["<ul>"]
    for v in items:
        steps = f" (steps {', '.join(map(str, v.get('steps', [])))})" if v.get("steps") else ""
        why = f" <span class='muted'>Why it matters: {_e(v.get('why'))}</span>" if v.get("why") else ""
        parts.append(
            f"<li><b>{_e(v.get('checker'))}</b> [{_e(v.get('severity'))}]{_e(steps)}: "
            f"{_e(v.get('message'))}{why}</li>"
        )
    parts.append("</ul>")
    return "".join(parts)


def _pretty_plan(plan: str) -> str:
    try:
        return json.dumps(json.loads(plan), indent=2, sort_keys=True)
    except json.JSONDecodeError:
        return plan


def _verdicts_html(rows: Sequence[ResultRow]) -> list[str]:
    """Each test's final verdicts with their variance (ensemble agreement, spread) and token cost."""
    lines = verdict_lines(rows)
    if not lines:
        return []
    out = [
        "<h2>Judge verdicts</h2>",
        "<p class='muted'>Each test's last run. An ensemble's variance stands next to its score: the "
        "share of members agreeing with the verdict, and the spread of the members' weighted totals "
        "(lowest to highest, standard deviation, share on the majority side). Unscored and indeterminate "
        f"verdicts never count as a pass. {_e(judge_cost(rows).line())} over all runs.</p>",
        "<table><tr><th>test</th><th>rubric</th><th>verdict</th><th>score</th><th>agreement</th>"
        "<th>spread of member scores</th><th>tokens (prompt + completion)</th></tr>",
    ]
    for v in lines:
        out.append(
            f"<tr><td><code>{_e(v.test)}</code></td><td>{_e(v.rubric)}</td><td>{_e(v.outcome)}</td>"
            f"<td class='num'>{_e(v.score)}</td><td class='num'>{_e(v.agreement)}</td><td>{_e(v.spread)}</td>"
            f"<td class='num'>{_e(v.tokens)}</td></tr>"
        )
    out.append("</table>")
    return out


def render_html(rows: Sequence[ResultRow], tests: Sequence[TestSummary], figures: Figures) -> str:
    """The whole page. Depends only on its arguments, so the same results give the same bytes."""
    counts = {name: sum(1 for r in rows if r.outcome == name) for name in OUTCOMES}
    failing = [t for t in tests if t.failed]
    llm = (
        sum(r.llm_replayed for r in rows),
        sum(r.llm_substituted for r in rows),
        sum(r.llm_live for r in rows),
    )
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>brownout reliability report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>brownout reliability report</h1>",
        f'<div class="muted">{len(tests)} test(s), {len(rows)} run(s); LLM calls: {llm[0]} replayed, '
        f"{llm[1]} substituted, {llm[2]} live; "
        f"{sum(r.prompt_tokens + r.completion_tokens for r in rows)} tokens; "
        f"{_e(judge_cost(rows).line())}; "
        f"{sum(r.duration for r in rows):.1f} s virtual time.</div>",
        '<div class="badges">',
    ]
    out += [f'<span class="o-{n}" title="{_e(OUTCOME_MEANING[n])}">{counts[n]} {n}</span>' for n in OUTCOMES]
    out.append("</div>")

    # Tests, the dangerous ones first.
    out += [
        "<h2>Tests</h2>",
        "<table><tr><th>test</th><th>system</th><th>worst outcome</th><th>runs</th>"
        + "".join(f"<th>{n}</th>" for n in OUTCOMES)
        + "</tr>",
    ]
    for t in tests:
        cells = "".join(f'<td class="num">{t.counts[n]}</td>' for n in OUTCOMES)
        out.append(
            f"<tr><td><code>{_e(t.test)}</code></td><td><code>{_e(t.system)}</code></td>"
            f"<td>{_badge(t.worst)}</td><td class='num'>{t.runs}</td>{cells}</tr>"
        )
    out.append("</table>")

    out.append("<h2>Pass rate by fault kind &times; checker</h2>")
    out.append(
        "<p class='muted'>Per test, the share of runs hit by each fault kind in which each checker held "
        "(the <i>assertions</i> column: the test's own assertions held and nothing was raised). Each "
        "cell gives its number of runs n; the colour scale is fitted to the rates shown, and cells "
        "with few runs are hatched.</p>"
    )
    out.append(f'<img class="plot" alt="heatmap" src="{figures.heatmap}">')
    out.append("<h2>pass^k</h2>")
    out.append(
        "<p class='muted'>pass^k is the chance that k independent runs all succeed (pass or handled), "
        "estimated from n runs with c successes as C(c,k)/C(n,k), as tau-bench reports it.</p>"
    )
    if figures.pass_hat_k or figures.pass_hat_k_faults:
        out.append('<div class="grid">')
        for uri, alt in (
            (figures.pass_hat_k, "pass^k per test"),
            (figures.pass_hat_k_faults, "pass^k vs faults"),
        ):
            if uri:
                out.append(f'<img class="plot" alt="{alt}" src="{uri}">')
        out.append("</div>")
    else:
        out.append(
            "<p>No test ran more than once: pass^k needs repeated runs (use <code>--chaos</code>).</p>"
        )
    # Minimal failing plans, each with its command and swimlane.
    out.append("<h2>Failures: minimal failing plans</h2>")
    if not failing:
        out.append("<p>No failing tests: every run passed or handled its faults.</p>")
    for t in failing:
        final = t.final
        out.append(f'<div class="failure f-{t.worst}">')
        out.append(f"<h3>{_badge(t.worst)} <code>{_e(t.test)}</code></h3>")
        out.append(
            f"<div class='muted'>{t.counts['silent']} silent, {t.counts['loud']} loud, "
            f"{t.counts['indeterminate']} indeterminate out of {t.runs} run(s); last run "
            f"<code>{_e(final.run_id)}</code> ({_e(final.outcome)})</div>"
        )
        out.append(f"<p><b>Plan:</b> {_e(plan_oneline(final.fault_plan, 400))}</p>")
        if final.fault_plan:
            out.append(f"<pre>{_e(_pretty_plan(final.fault_plan))}</pre>")
        if final.error_type:
            out.append(f"<p><b>Raised:</b> <code>{_e(final.error_type)}</code>: {_e(final.error)}</p>")
        if final.assertion:
            out.append(f"<p><b>Test failed:</b></p><pre>{_e(final.assertion)}</pre>")
        out.append(_violations_html(final))
        judged = verdict_lines([final])
        if judged:
            out.append("<p><b>Judges:</b> " + "; ".join(_e(v.inline()) for v in judged) + "</p>")
        if final.reproduce:
            out.append(f"<p><b>Reproduce:</b></p><pre>{_e(final.reproduce)}</pre>")
        if final.log:
            out.append(f"<p><b>Run log:</b> <code>{_e(final.log)}</code></p>")
        lane = figures.swimlanes.get(t.test)
        if lane:
            out.append(f'<img class="plot" alt="swimlane of {_e(t.test)}" src="{lane}">')
        out.append("</div>")

    out += _verdicts_html(rows)
    out.append("<h2>Judge-score retention under faults</h2>")
    if figures.retention:
        out.append(f'<img class="plot" alt="judge retention" src="{figures.retention}">')
    else:
        out.append("<p>No judge verdicts in these runs.</p>")

    bad = [r for r in rows if not r.ok]
    out.append(f"<h2>Failing runs ({len(bad)})</h2>")
    if bad:
        out.append(
            "<table><tr><th>test</th><th>#</th><th>outcome</th><th>plan</th><th>violated</th><th>raised</th>"
            "<th>LLM replayed / substituted / live</th><th>virtual s</th></tr>"
        )
        for r in bad[:300]:
            out.append(
                f"<tr><td><code>{_e(r.test)}</code></td><td class='num'>{r.index}</td>"
                f"<td>{_badge(r.outcome)}</td><td>{_e(plan_oneline(r.fault_plan))}</td>"
                f"<td>{_e(r.checkers_violated.replace(',', ', '))}</td>"
                f"<td>{_e(r.error_type)}</td><td class='num'>{r.llm_replayed} / {r.llm_substituted} / "
                f"{r.llm_live}</td><td class='num'>{r.duration:.3f}</td></tr>"
            )
        out.append("</table>")
        if len(bad) > 300:
            out.append(f"<p class='muted'>… and {len(bad) - 300} more in the results table.</p>")
    out.append(
        "<p class='muted'>Every number here is recomputed from the results table beside this page "
        "(results.parquet or results.csv, readable with pandas) and the stored run logs in runs/; "
        "<code>brownout report DIR</code> re-renders it.</p>"
    )
    out.append("</body></html>\n")
    return "\n".join(out)
