"""The ``chaos`` fixture's object: runs a system under the test's cassette and fault plan."""

from __future__ import annotations

import re
import shlex
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness._errors import ConfigError, ViolationsFound
from harness._pytest._settings import ChaosSettings
from harness._run._runner import Run, run_system

__all__ = ["Chaos", "StaleCassetteWarning", "ViolationsFound", "cassette_path_for", "reproduce_command"]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def cassette_path_for(cassette_dir: Path, module_path: str, test_name: str) -> Path:
    """``<cassette_dir>/<test module>/<test name>.json`` with file-system-safe names."""
    module = Path(module_path).stem
    name = _UNSAFE.sub("_", test_name).strip("_") or "test"
    return cassette_dir / module / f"{name}.json"


def reproduce_command(nodeid: str, *, plan_json: str | None = None, extra: tuple[str, ...] = ()) -> str:
    """The single command that re-runs this test, under this exact plan if there is one."""
    parts = ["pytest", nodeid]
    if plan_json is not None:
        parts.append(f"--chaos-plan={plan_json}")
    parts.extend(extra)
    return " ".join(shlex.quote(p) for p in parts)


_SITE_WORDS = {
    "tool": "tool",
    "llm": "agent making LLM calls",
    "worker": "agent",
    "message": "channel",
    "state": "store",
    "network": "proxy",
}


def _check_plan_fired(plan: Any, run: Run) -> None:
    """Raise :class:`ConfigError` for each fault of a fixed plan that never fired in ``run``.

    A misspelled target or a call number the run never reaches would otherwise make
    ``--chaos-plan`` pass silently, testing nothing.
    """
    import difflib

    from harness._log._events import FaultInjected
    from harness._report._rows import unfired_faults
    from scenarios import call_sites

    unfired = unfired_faults(plan.model_dump(mode="json"), run.log.of(FaultInjected))
    if not unfired:
        return
    sites = call_sites([run.log])
    problems: list[str] = []
    for data in unfired:
        fault = next(f for f in plan.faults if f.model_dump(mode="json") == data)
        seen = [s for s in sites if s.site == fault.site]
        names = sorted({s.target for s in seen if s.target})
        word = _SITE_WORDS.get(fault.site, fault.site)
        if fault.target is not None and fault.target not in names:
            close = difflib.get_close_matches(fault.target, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ran = ", ".join(names) if names else "none"
            problems.append(
                f"  - {fault}: no {word} named {fault.target!r} appeared in the run.{hint} "
                f"{fault.site} sites that did: {ran}."
            )
        else:
            calls = max((s.call for s in seen if s.target == fault.target or fault.target is None), default=0)
            problems.append(
                f"  - {fault}: the run reached {fault.site}[{fault.target or '*'}] {calls} time(s); "
                f"the fault selects call {fault.call}, which never came."
            )
    raise ConfigError(
        f"fault plan: {len(unfired)} fault(s) never fired, so this run tested less than the plan says:\n"
        + "\n".join(problems)
        + "\nA plan's target must name a site of the run and its call number must be reached; fix the "
        "plan (or take it from a failure message, which always names real sites)."
    )


def _where(error: BaseException) -> str:
    """`` (raised at file:line in function)`` for an exception's innermost frame, or ``""``."""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ is not None else []
    if not frames:
        return ""
    frame = frames[-1]
    return f" (raised at {frame.filename}:{frame.lineno} in {frame.name})"


class StaleCassetteWarning(UserWarning):
    """A test's cassette names agents or tools its runs no longer use, while they missed it."""


class Chaos:
    """Handed to tests as the ``chaos`` fixture.

    ``chaos.run(fn, *args, **kwargs)`` runs ``fn`` once as a run: under plain ``pytest``
    with the test's cassette and no faults; under ``pytest --chaos`` once per fault plan
    Hypothesis generates. It returns a :class:`~harness.Run` and raises the system's own
    exception (the run log is kept and its path printed if the test fails) or
    :class:`ViolationsFound` if a checker found a failure mode in the history.
    """

    def __init__(self, settings: ChaosSettings, *, nodeid: str, cassette_path: Path, rootdir: Path) -> None:
        self.settings = settings
        self.nodeid = nodeid
        self.cassette_path = cassette_path
        self.rootdir = rootdir
        self.plan: Any = None
        self.runs: list[Run] = []
        self._cassette: Any = None
        self.on_run: list[Callable[[Run], None]] = []
        # Uninterrupted runs to compare a crash-restarted run with (resume_parity), by the
        # position of the chaos.run call in the test: the --chaos baseline's, or run on demand.
        self.baselines: list[Run] = []
        self._on_demand: dict[int, Run] = {}

    # -- cassette ------------------------------------------------------------------------
    def cassette(self) -> Any:
        """The test's cassette (opened once per test, shared by its runs and examples)."""
        if self._cassette is None:
            from harness._cassette._cassette import Cassette

            self._cassette = Cassette(
                self.cassette_path,
                record_mode=self.settings.record_mode,
                miss=self.settings.miss,
                nodeid=self.nodeid,
            )
        return self._cassette

    def close(self) -> None:
        if self._cassette is not None:
            self._warn_if_stale()
            self._cassette.close()

    def _warn_if_stale(self) -> None:
        """Warn when the cassette's agents or tools no longer occur in any run while runs missed it.

        A renamed agent or tool makes every request of it a miss (or a substitution under
        ``nearest``); saying which recorded names went unused points at the rename.
        """
        from harness._errors import CassetteMiss
        from harness._log._events import AgentStart, LLMCall, ToolCall

        missed = any(
            isinstance(run.error, CassetteMiss) or any(c.source == "substituted" for c in run.log.of(LLMCall))
            for run in self.runs
        )
        if not missed or not self.runs:
            return
        seen_agents = {e.name for run in self.runs for e in run.log.of(AgentStart)}
        seen_agents |= {c.agent for run in self.runs for c in run.log.of(LLMCall) if c.agent}
        seen_tools = {c.name for run in self.runs for c in run.log.of(ToolCall)}
        cassette = self._cassette
        agents = sorted({str(i.get("agent")) for i in cassette.interactions if i.get("agent")} - seen_agents)
        tools = sorted({str(t.get("name")) for t in cassette.tools if t.get("name")} - seen_tools)
        if not agents and not tools:
            return
        names = "; ".join(
            part
            for part in (
                f"agents {', '.join(agents)}" if agents else "",
                f"tools {', '.join(tools)}" if tools else "",
            )
            if part
        )
        warnings.warn(
            StaleCassetteWarning(
                f"{self.cassette_path}: the cassette holds recordings of {names}, which no run of "
                f"{self.nodeid} used, while requests missed it: renamed since recording? Re-record: "
                f"{reproduce_command(self.nodeid, extra=('--chaos-record-mode=all',))}"
            ),
            stacklevel=2,
        )

    # -- running -------------------------------------------------------------------------
    def hooks(self) -> Any:
        if self.plan is None:
            return None
        return self.plan.hooks()

    def run(
        self, fn: Callable[..., Any], /, *args: Any, resume: Callable[..., Any] | None = None, **kwargs: Any
    ) -> Run:
        """Run ``fn(*args, **kwargs)`` once as a run under the current fault plan.

        ``resume`` says how the system starts again after a crash: it is called with the
        same arguments, in the same run, and continues from what survived (a durable
        ``StateStore``, a checkpointer with the same thread id, the world's effects). With
        it, ``pytest --chaos`` also draws crash-restart kill points (docs/faults.md).
        """
        from harness._checkers._registry import run_checks

        plan = self.plan
        index = len(self.runs)
        baseline = self._baseline_for(index, fn, args, kwargs, resume) if resume is not None else None
        run = self._once(fn, args, kwargs, resume, self.hooks(), plan)
        if self.settings.plan is not None and plan is not None:
            _check_plan_fired(plan, run)  # a fixed plan that hits nothing is an error, not a pass
        run.violations = run_checks(
            run.log,
            self.settings.checks,
            output=run.output,
            degraded=self.settings.degraded,
            baseline=baseline.log if baseline is not None and run.restarts else None,
            order_free=self.settings.order_free,
        )
        self.runs.append(run)
        for callback in self.on_run:
            callback(run)
        if run.violations:
            # Findings first: a run that both broke a checker and crashed (a deadlocked pair
            # cancelled at the deadline) fails with the checker's explanation, then the crash.
            lines = [f"{len(run.violations)} violation(s) in run {run.run_id}:"]
            lines.extend(f"  - {v}" for v in run.violations)
            if run.error is not None:
                lines.append(
                    f"The run also ended with {type(run.error).__name__}: {run.error}{_where(run.error)}"
                )
            # One kind of failure per leading checker: a run that breaks two checkers is the first
            # one's failure (registry order), so that each shrinks to its own smallest plan.
            found = ViolationsFound.for_checkers((run.violations[0].checker,), "\n".join(lines), run)
            found.crash = run.error  # type: ignore[attr-defined]  # kept, but not printed before the finding
            raise found from None
        if run.error is not None:
            raise run.error
        return run

    def _once(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        resume: Callable[..., Any] | None,
        hooks: Any,
        plan: Any,
    ) -> Run:
        return run_system(
            fn,
            args,
            kwargs,
            hooks=hooks,
            cassette=self.cassette(),
            replay_tools=self.settings.replay_tools,
            deadline=self.settings.deadline,
            fault_plan=plan.model_dump(mode="json") if plan is not None else None,
            meta={"test": self.nodeid},
            resume=resume,
        )

    def _baseline_for(
        self,
        index: int,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        resume: Callable[..., Any],
    ) -> Run | None:
        """The uninterrupted run the ``index``-th ``chaos.run`` of a crash plan is compared with.

        Under ``--chaos`` it is that call's run in the baseline (no faults). A plan replayed
        alone (``--chaos-plan``) runs the same call once without faults first, so the
        reproduce command compares with the same baseline. A plan with other faults besides
        its crashes gets none: after a restart those strike other calls than they would
        without one, so no uninterrupted run is a fair comparison.
        """
        from harness._run._runner import entry_name

        plan = self.plan
        if plan is None or not plan.faults:
            return None
        if not all(getattr(f.effect, "restart", False) for f in plan.faults):
            return None
        if index < len(self.baselines):
            known = self.baselines[index]
            if len(known.log) and getattr(known.log[0], "entry", None) == entry_name(fn):
                return known
        found = self._on_demand.get(index)
        if found is None:
            found = self._on_demand[index] = self._once(fn, args, kwargs, resume, None, None)
        return found

    # -- failure reporting --------------------------------------------------------------
    def write_logs(self, report_dir: Path) -> list[Path]:
        """Write every run log of this test under ``report_dir/runs/`` and return the paths."""
        out: list[Path] = []
        safe = _UNSAFE.sub("_", self.nodeid).strip("_")
        for index, run in enumerate(self.runs):
            path = report_dir / "runs" / f"{safe}-{index}-{run.run_id}.jsonl"
            run.log.write(path)
            run.log_path = str(path)
            out.append(path)
        return out

    def reproduce(self, plan: Any = None) -> str:
        """The one command that replays ``plan`` (default: the current plan) with every setting
        the failure depended on (the miss policy, the deadline, the seed of the plan's draws)."""
        plan = plan if plan is not None else self.plan
        plan_json = plan.model_dump_json() if plan is not None else None
        extra: list[str] = []
        if self.settings.miss != "strict":
            # Under --chaos the default is `nearest`; a plan replayed alone defaults to strict.
            extra.append(f"--chaos-miss={self.settings.miss}")
        return reproduce_command(self.nodeid, plan_json=plan_json, extra=tuple(extra))
