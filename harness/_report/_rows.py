"""Result rows: one row per run, with the run's outcome class.

A row is what the report is built from and what ``results.parquet`` stores. Every
field is recomputable from the run log (and the test's own pass/fail), so a report
never needs to re-run anything.

Outcome classes, in the order the report lists them (most dangerous first):

- ``silent``: no exception, yet a checker, an assertion or a judge failed;
- ``loud``: the system raised or crashed (a visible failure);
- ``error``: the test failed before or outside a run (a cassette miss, a bad marker, a
  fixture error): no run to judge, and never a pass;
- ``indeterminate``: the verdict rests on substituted LLM content (a cassette miss answered
  by the ``nearest`` policy) and a judge scored it or an assertion failed on it;
- ``unscored``: a judge could not score the output (an unreadable or out-of-range grade):
  nothing says the output is right;
- ``handled``: faults reached the system and every check, assertion and judge held;
- ``pass``: no fault reached the system and everything held.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from harness._log._events import FaultInjected, LLMCall, RunEnd, RunStart, ToolCall, Verdict
from harness._log._runlog import RunLog
from harness._log._secrets import scrub_text

__all__ = [
    "OUTCOMES",
    "OUTCOME_ORDER",
    "Outcome",
    "ResultRow",
    "classify",
    "error_row",
    "fault_kind",
    "judge_tokens",
    "row_from_log",
    "unfired_faults",
    "verdict_entry",
]

Outcome = Literal["silent", "loud", "error", "indeterminate", "unscored", "handled", "pass"]
OUTCOMES: tuple[str, ...] = ("silent", "loud", "error", "indeterminate", "unscored", "handled", "pass")
OUTCOME_ORDER: dict[str, int] = {name: i for i, name in enumerate(OUTCOMES)}

OUTCOME_MEANING: dict[str, str] = {
    "silent": "no exception, yet a checker, assertion or judge failed",
    "loud": "the system raised or crashed",
    "error": "the test failed before or outside a run",
    "indeterminate": "the verdict rests on substituted LLM content",
    "unscored": "a judge could not score the output",
    "handled": "faults hit and every check held",
    "pass": "no fault reached the system and every check held",
}


class ResultRow(BaseModel):
    """One run of one test, as the report sees it.

    Attributes:
        test: The pytest node id.
        system: The entry point that ran (``module:function``).
        run_id: The run's id.
        index: Position of the run among the test's runs (0-based).
        mode: ``baseline`` (plain pytest), ``chaos`` (an explored plan) or ``plan`` (``--chaos-plan``).
        fault_plan: The plan as canonical JSON, ``""`` for none.
        faults_planned: Faults in the plan.
        faults_injected: Faults that reached the system (``fault_injected`` events).
        faults_unfired: Faults of the plan that never fired (their site or call never came).
        outage: The plan held a permanent outage (a fault on every call, ``--chaos-outages``).
        fault_kinds: ``site.effect`` of each injected fault, sorted and unique.
        checkers_run: The checkers that ran on the history.
        checkers_violated: The checkers that found a violation.
        violations: The violations, as JSON (checker, severity, steps, message).
        assertion: The test's own failure message when it failed on this run, else ``""``.
        error_type: Exception type the system raised, else ``""``.
        error: The exception's message, else ``""``.
        judges: Judge results as JSON: ``{rubric: {"score", "passed", "status", "agreement", "spread",
            "prompt_tokens", "completion_tokens", "cached"}}`` (see :func:`verdict_entry`).
        outcome: One of :data:`OUTCOMES`.
        duration: Virtual seconds the run took.
        prompt_tokens: Prompt tokens over all LLM calls.
        completion_tokens: Completion tokens over all LLM calls.
        llm_replayed: LLM calls answered from the cassette.
        llm_substituted: LLM calls answered with a substituted recording (nearest policy).
        llm_live: LLM calls sent to a live endpoint.
        llm_injected: LLM replies the fault injector made up (errors, malformed bodies).
        tool_calls: ``@tool`` calls.
        judge_prompt_tokens: Prompt tokens the run's verdicts cost (cached verdicts cost none);
            a judge called inside the run is also counted in ``prompt_tokens``.
        judge_completion_tokens: Completion tokens the run's verdicts cost.
        final: The test's last run (for a failed test: the minimal failing plan).
        reproduce: The one command that re-runs this test under this run's plan.
        log: Path of the stored run log, relative to the report directory, or ``""``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    test: str
    system: str = ""
    run_id: str = ""
    index: int = 0
    mode: str = "baseline"
    fault_plan: str = ""
    faults_planned: int = 0
    faults_injected: int = 0
    faults_unfired: int = 0
    outage: bool = False
    fault_kinds: str = ""
    checkers_run: str = ""
    checkers_violated: str = ""
    violations: str = "[]"
    assertion: str = ""
    error_type: str = ""
    error: str = ""
    judges: str = "{}"
    outcome: Outcome = "pass"
    duration: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_replayed: int = 0
    llm_substituted: int = 0
    llm_live: int = 0
    llm_injected: int = 0
    tool_calls: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0
    final: bool = False
    reproduce: str = ""
    log: str = ""

    # -- parsed views of the text columns ---------------------------------------------------
    def kinds(self) -> list[str]:
        return [k for k in self.fault_kinds.split(",") if k]

    def checkers(self) -> list[str]:
        return [c for c in self.checkers_run.split(",") if c]

    def violated(self) -> list[str]:
        return [c for c in self.checkers_violated.split(",") if c]

    def violation_list(self) -> list[dict[str, Any]]:
        value = json.loads(self.violations or "[]")
        return value if isinstance(value, list) else []

    def judge_map(self) -> dict[str, dict[str, Any]]:
        value = json.loads(self.judges or "{}")
        return value if isinstance(value, dict) else {}

    @property
    def ok(self) -> bool:
        """Whether the run counts as a success (``pass`` or ``handled``)."""
        return self.outcome in ("pass", "handled")


def fault_kind(event: FaultInjected) -> str:
    """``site.effect`` of an injected fault, e.g. ``tool.error`` or ``llm.rate_limit`` (no parameters)."""
    site = event.site.split(":", 1)[0].split(".", 1)[0]
    effect = event.fault.get("effect") if isinstance(event.fault, Mapping) else None
    kind = effect.get("kind") if isinstance(effect, Mapping) else None
    if not isinstance(kind, str) or not kind:
        kind = event.effect.split("(", 1)[0].strip() or "?"
    return f"{site}.{kind}"


def classify(
    *,
    error: bool,
    violated: bool,
    assertion_failed: bool,
    judge_failed: bool,
    judged: bool,
    substituted: bool,
    judge_indeterminate: bool,
    faults_injected: int,
    judge_unscored: bool = False,
) -> Outcome:
    """The outcome class of one run.

    Order of the rules: a raised exception is ``loud``; a checker violation is ``silent``
    (checkers read control flow, which substitution does not invalidate); a verdict that
    rests on substituted LLM content (a judge scored it, a judge said indeterminate, or an
    assertion failed on it) is ``indeterminate``; a failed assertion or judge is
    ``silent``; a judge that could not score is ``unscored``; then ``handled`` when a fault
    reached the system, else ``pass``.
    """
    if error:
        return "loud"
    if violated:
        return "silent"
    if judge_indeterminate or (substituted and (judged or assertion_failed)):
        return "indeterminate"
    if assertion_failed or judge_failed:
        return "silent"
    if judge_unscored:
        return "unscored"
    return "handled" if faults_injected else "pass"


def _plan_faults(plan: Any) -> list[Any]:
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except json.JSONDecodeError:
            return []
    faults = plan.get("faults") if isinstance(plan, Mapping) else plan
    return list(faults) if isinstance(faults, list) else []


def unfired_faults(plan: Any, injected: Iterable[FaultInjected]) -> list[Any]:
    """The faults of ``plan`` (as stored in ``run_start``) with no ``fault_injected`` event."""
    fired = {json.dumps(f.fault, sort_keys=True, default=str) for f in injected}
    return [f for f in _plan_faults(plan) if json.dumps(f, sort_keys=True, default=str) not in fired]


def _has_outage(plan: Any) -> bool:
    return any(isinstance(f, Mapping) and f.get("call") == "every" for f in _plan_faults(plan))


def _canonical_plan(plan: Any) -> tuple[str, int]:
    if plan in (None, "", [], {}):
        return "", 0
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except json.JSONDecodeError:
            return plan, 1
    faults = plan.get("faults") if isinstance(plan, Mapping) else plan
    count = len(faults) if isinstance(faults, list) else 1
    if isinstance(plan, Mapping) and isinstance(faults, list) and not faults:
        return "", 0
    return json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str), count


def _violation_dicts(violations: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for v in violations:
        if hasattr(v, "model_dump"):
            data = v.model_dump(mode="json")
        elif isinstance(v, Mapping):
            data = dict(v)
        else:
            data = {"checker": "?", "message": str(v)}
        out.append(
            {
                "checker": str(data.get("checker", "?")),
                "severity": str(data.get("severity", "major")),
                "steps": [int(s) for s in data.get("steps", []) or []],
                "message": str(data.get("message", "")),
                "why": str(data.get("why", "")),
            }
        )
    return out


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _spread(value: Any) -> dict[str, float] | None:
    if not isinstance(value, Mapping):
        return None
    keys = ("n", "low", "high", "mean", "stdev", "majority")
    if not all(isinstance(value.get(k), int | float) for k in keys):
        return None
    return {k: float(value[k]) for k in keys}


def verdict_entry(
    *,
    score: Any,
    passed: Any,
    status: Any,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One verdict as the report stores it (a value of the ``judges`` column).

    ``detail`` is what a judge stores beside its verdict (``Verdict.detail()``, or a dumped
    ``Verdict``): the ensemble ``agreement`` and ``spread`` (the members' totals: ``n``,
    ``low``, ``high``, ``mean``, ``stdev``, ``majority``) and the token cost.
    """
    detail = detail or {}
    entry: dict[str, Any] = {"score": score, "passed": passed, "status": str(status or "scored")}
    # Only what the verdict has: a single judge's entry stays {score, passed, status}.
    agreement = detail.get("agreement")
    if isinstance(agreement, int | float) and not isinstance(agreement, bool):
        entry["agreement"] = float(agreement)
    spread = _spread(detail.get("spread"))
    if spread is not None:
        entry["spread"] = spread
    for key in ("prompt_tokens", "completion_tokens"):
        if _count(detail.get(key)):
            entry[key] = _count(detail.get(key))
    if detail.get("cached") is True:
        entry["cached"] = True
    return entry


def judge_entries(
    log: RunLog, extra: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Judge results from ``verdict`` events in the log plus verdicts reported beside it."""
    found: dict[str, dict[str, Any]] = {}
    for event in log.of(Verdict):
        found[event.rubric] = verdict_entry(
            score=event.score, passed=event.passed, status=event.status, detail=event.detail
        )
    for name, entry in (extra or {}).items():
        found[str(name)] = verdict_entry(
            score=entry.get("score"), passed=entry.get("passed"), status=entry.get("status"), detail=entry
        )
    return dict(sorted(found.items()))


def judge_tokens(judged: Mapping[str, Mapping[str, Any]]) -> tuple[int, int]:
    """(prompt, completion) tokens the verdicts cost; a cached verdict was not paid for again."""
    paid = [e for e in judged.values() if not e.get("cached")]
    return sum(_count(e.get("prompt_tokens")) for e in paid), sum(
        _count(e.get("completion_tokens")) for e in paid
    )


def row_from_log(
    log: RunLog,
    *,
    test: str,
    index: int = 0,
    mode: str = "baseline",
    plan: Any = None,
    checkers_run: Sequence[str] = (),
    violations: Iterable[Any] = (),
    error: BaseException | None = None,
    assertion: str = "",
    judges: Mapping[str, Mapping[str, Any]] | None = None,
    final: bool = False,
    reproduce: str = "",
    log_path: str = "",
) -> ResultRow:
    """Build the result row of one run from its log and what the test learnt about it.

    Args:
        log: The run's history.
        test: The pytest node id.
        index: The run's position among the test's runs.
        mode: ``baseline``, ``chaos`` or ``plan``.
        plan: The fault plan (model, dict or JSON text); defaults to the one on ``run_start``.
        checkers_run: Names of the checkers that ran.
        violations: What they found (:class:`~harness.Violation` or dicts).
        error: The exception the system raised, if any (else taken from ``run_end``).
        assertion: The test's own failure message if it failed on this run.
        judges: Verdicts reported outside the log, ``{rubric: {"score", "passed", "status"}}``.
        final: Whether this is the test's last run.
        reproduce: The command that re-runs this test under this plan.
        log_path: Where the run log is stored, relative to the report directory.
    """
    start = next(iter(log.of(RunStart)), None)
    end = next(iter(reversed(log.of(RunEnd))), None)
    if plan is None and start is not None:
        plan = start.fault_plan
    if hasattr(plan, "model_dump"):
        plan = plan.model_dump(mode="json")
    plan_text, planned = _canonical_plan(plan)
    faults = log.of(FaultInjected)
    llm = log.of(LLMCall)
    by_source = {"replayed": 0, "substituted": 0, "live": 0, "injected": 0}
    for call in llm:
        by_source[call.source] = by_source.get(call.source, 0) + 1
    vlist = _violation_dicts(violations)
    violated = sorted({v["checker"] for v in vlist})
    judged = judge_entries(log, judges)
    error_type = type(error).__name__ if error is not None else ""
    error_text = str(error) if error is not None else ""
    if error is None and end is not None and end.status != "ok":
        error_type, error_text = end.error_type or end.status, end.error or ""
    judge_failed = any(j.get("passed") is False for j in judged.values())
    judge_indet = any(j.get("status") == "indeterminate" for j in judged.values())
    judge_unscored = any(j.get("status") == "unscored" for j in judged.values())
    outcome = classify(
        error=bool(error_type),
        violated=bool(vlist),
        assertion_failed=bool(assertion),
        judge_failed=judge_failed,
        judged=bool(judged),
        substituted=by_source["substituted"] > 0,
        judge_indeterminate=judge_indet,
        faults_injected=len(faults),
        judge_unscored=judge_unscored,
    )
    duration = max((e.t for e in log), default=0.0)
    judge_prompt, judge_completion = judge_tokens(judged)
    return ResultRow(
        test=test,
        system=start.entry if start is not None else "",
        run_id=log.run_id,
        index=index,
        mode=mode,
        fault_plan=plan_text,
        faults_planned=planned,
        faults_injected=len(faults),
        faults_unfired=len(unfired_faults(plan, faults)),
        outage=_has_outage(plan),
        fault_kinds=",".join(sorted({fault_kind(f) for f in faults})),
        checkers_run=",".join(checkers_run),
        checkers_violated=",".join(violated),
        violations=json.dumps(vlist, sort_keys=True),
        assertion=scrub_text(assertion)[:2000],
        error_type=error_type,
        error=scrub_text(error_text)[:2000],
        judges=json.dumps(judged, sort_keys=True),
        outcome=outcome,
        duration=float(duration),
        prompt_tokens=sum(c.prompt_tokens or 0 for c in llm),
        completion_tokens=sum(c.completion_tokens or 0 for c in llm),
        llm_replayed=by_source["replayed"],
        llm_substituted=by_source["substituted"],
        llm_live=by_source["live"],
        llm_injected=by_source["injected"],
        tool_calls=len(log.of(ToolCall)),
        judge_prompt_tokens=judge_prompt,
        judge_completion_tokens=judge_completion,
        final=final,
        reproduce=reproduce,
        log=log_path,
    )


def error_row(
    test: str, *, error_type: str, error: str, mode: str = "baseline", reproduce: str = ""
) -> ResultRow:
    """The row of a test that failed before or outside any run (outcome ``error``).

    Args:
        test: The pytest node id.
        error_type: The exception's type name (``CassetteMiss``, ``ConfigError``, ...).
        error: Why the test failed (scrubbed, cut at 2000 characters).
        mode: ``baseline``, ``chaos`` or ``plan``.
        reproduce: The command that re-runs the test.
    """
    return ResultRow(
        test=test,
        mode=mode,
        error_type=error_type,
        error=scrub_text(error)[:2000],
        outcome="error",
        final=True,
        reproduce=reproduce,
    )
