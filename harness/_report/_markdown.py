"""summary.md: the short Markdown summary, fit for ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from harness._report._rows import OUTCOME_MEANING, OUTCOMES, ResultRow
from harness._report._stats import TestSummary
from harness._report._verdicts import judge_cost, verdict_lines

__all__ = ["plan_oneline", "render_summary"]

_ICON = {
    "silent": "🔇",
    "loud": "💥",
    "error": "⛔",
    "indeterminate": "❔",
    "unscored": "❓",
    "handled": "🛡️",
    "pass": "✅",
}


def plan_oneline(plan: str, limit: int = 160) -> str:
    """A fault plan on one line: ``tool.error(name=charge, call=2); llm.rate_limit(...)``."""
    if not plan:
        return "(no faults)"
    try:
        from faults import FaultPlan  # type: ignore[attr-defined]

        text = str(FaultPlan.from_json(plan))
        return text if len(text) <= limit else text[: limit - 1] + "…"
    except Exception:  # the plan's own one-line form when faults can read it; a generic one otherwise
        pass
    try:
        data = json.loads(plan)
    except json.JSONDecodeError:
        return plan[:limit]
    faults = data.get("faults", data) if isinstance(data, dict) else data
    if not isinstance(faults, list):
        return plan[:limit]
    parts = []
    for fault in faults:
        if not isinstance(fault, dict):
            parts.append(str(fault))
            continue
        site = fault.get("site", "?")
        if isinstance(site, dict):
            kind = site.get("kind") or site.get("type") or "?"
            rest = ", ".join(
                f"{k}={v}" for k, v in sorted(site.items()) if k not in ("kind", "type") and v is not None
            )
            site = f"{kind}({rest})" if rest else str(kind)
        effect = fault.get("effect", "?")
        if isinstance(effect, dict):
            effect = effect.get("kind") or effect.get("type") or json.dumps(effect, sort_keys=True)
        parts.append(f"{site} → {effect}")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_summary(rows: Sequence[ResultRow], tests: Sequence[TestSummary]) -> str:
    """The Markdown summary: outcome counts, then each failing test with its plan and reproduce command."""
    counts = {name: sum(1 for r in rows if r.outcome == name) for name in OUTCOMES}
    failing = [t for t in tests if t.failed]
    head = ", ".join(f"{counts[name]} {name}" for name in OUTCOMES if counts[name]) or "no runs"
    lines = [
        "## brownout reliability report",
        "",
        f"**{len(tests)} test(s), {len(rows)} run(s):** {head}.",
        "",
        "| outcome | runs | meaning |",
        "|---|---:|---|",
    ]
    lines += [f"| {_ICON[n]} {n} | {counts[n]} | {OUTCOME_MEANING[n]} |" for n in OUTCOMES]
    lines.append("")
    if failing:
        lines += [
            f"### {len(failing)} failing test(s), silent failures first",
            "",
            "| test | outcome | runs (silent / loud / indeterminate) | minimal failing plan | what failed |",
            "|---|---|---|---|---|",
        ]
        for t in failing:
            final = t.final
            what = final.checkers_violated.replace(",", ", ") or (
                f"raised {final.error_type}"
                if final.error_type
                else (final.assertion.splitlines() or [""])[0]
            )
            lines.append(
                f"| `{_cell(t.test)}` | {_ICON[t.worst]} {t.worst} | {t.runs} "
                f"({t.counts['silent']} / {t.counts['loud']} / {t.counts['indeterminate']}) | "
                f"{_cell(plan_oneline(final.fault_plan))} | {_cell(what[:160])} |"
            )
        lines += ["", "Reproduce each failure exactly:", "", "```sh"]
        lines += [t.final.reproduce for t in failing if t.final.reproduce]
        lines += ["```", ""]
    else:
        lines += ["No failing tests: every run passed or handled its faults.", ""]
    llm = {
        "replayed": sum(r.llm_replayed for r in rows),
        "substituted": sum(r.llm_substituted for r in rows),
        "live": sum(r.llm_live for r in rows),
    }
    unfired = [r for r in rows if r.faults_unfired]
    if unfired:
        lines.append(
            f"**{len(unfired)} run(s) had planned faults that never fired** (their site or call never came): "
            "those runs tested less than their plan says."
        )
        lines.append("")
    outages = sum(1 for r in rows if r.outage)
    if outages:
        lines += [f"{outages} run(s) ran under a permanent outage (`--chaos-outages`).", ""]
    verdicts = verdict_lines(rows)
    if verdicts:
        lines += [
            "### Judge verdicts (each test's last run)",
            "",
            "| test | rubric | verdict | score | agreement | spread of member scores | tokens |",
            "|---|---|---|---:|---:|---|---:|",
        ]
        lines += [
            f"| `{_cell(v.test)}` | {_cell(v.rubric)} | {v.outcome} | {v.score} | {v.agreement} | "
            f"{_cell(v.spread)} | {v.tokens} |"
            for v in verdicts
        ]
        lines.append("")
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
    cost = judge_cost(rows)
    lines.append(
        f"LLM calls: {llm['replayed']} replayed, {llm['substituted']} substituted, {llm['live']} live; "
        f"{tokens} tokens; {sum(r.duration for r in rows):.1f} s of virtual time."
        + (f" {cost.line()}." if cost.verdicts else "")
    )
    lines += ["", "Full report with plots: `report.html` beside this file.", ""]
    return "\n".join(lines)
