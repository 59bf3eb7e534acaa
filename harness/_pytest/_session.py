"""The pytest session's brownout state: one object per session, fed by the plugin's hooks.

Flow of result rows (one per run, see :mod:`harness._report`):

1. the ``chaos`` fixture calls back after every run (``Chaos.on_run``); the session turns
   the run into a provisional row where the test runs (an xdist worker or the only process);
2. after the test's call phase (``on_report``) the rows are completed (the last run is
   marked final; a test that failed on its own assertion makes that run ``silent``), the
   failing runs' logs are written, and the rows are put on ``report.user_properties``,
   which pytest-xdist serialises to the controller;
3. ``pytest_runtest_logreport`` collects them where the session ends (the controller);
4. ``pytest_sessionfinish`` writes the report there; the terminal summary is printed
   there too, never on a worker.

The plugin creates the session on first use (a chaos fixture, or rows arriving at the
controller) and forwards those hooks to it; each (also nested, pytester in-process)
pytest session keeps its own rows on its config.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from faults import real_monotonic

__all__ = ["ChaosSession", "ProgressLine"]

ROWS_KEY = "brownout_rows"  # keep equal to harness._pytest._plugin.ROWS_KEY
VERDICT_KEY = "brownout_verdict"  # what the judge fixture records per verdict
VERDICT_DETAIL = ("agreement", "spread", "prompt_tokens", "completion_tokens", "cached")
# Failing runs of one test whose logs are kept beside the report (plus always the last run).
MAX_LOGS_PER_TEST = 25


def _wall() -> float:
    # The real clock: runs patch time.monotonic in their thread while they execute.
    return real_monotonic()


@dataclass
class _TestState:
    fixture: Any
    mode: str
    checkers: list[str]
    item: Any = None
    props_seen: int = 0
    rows: list[Any] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)
    started: float = field(default_factory=_wall)


class ProgressLine:
    """Rate-limited progress of a ``--chaos`` session, written as whole lines through pytest's terminal.

    One line says how far the session is: chaos tests done of the total, runs so far, failing
    runs so far, and the test exploring now with its runs and time::

        brownout: 3/12 test(s) done, 140 run(s), 5 failing so far; now tests/t.py::test_b (37 run(s), 12 s)

    A line is due every ``interval`` seconds (``BROWNOUT_PROGRESS_INTERVAL``; default 2 on a
    terminal or under ``-v``, 10 in a CI log), never under ``-q``, and only in the process
    that owns the terminal: under pytest-xdist the controller sums the tests its workers
    finished (runs of tests still exploring on a worker are counted when they finish). Lines
    are written with output capture suspended, the way pytest's own live logging writes, so
    they never land inside a test's captured output or in the middle of a line.
    """

    def __init__(self, config: pytest.Config, *, interval: float | None = None) -> None:
        self.config = config
        self._interval = interval
        self._last = _wall()
        self.total: int | None = None  # chaos tests collected, where known
        self.done = 0
        self.runs = 0
        self.failing = 0

    @property
    def interval(self) -> float:
        if self._interval is None:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            verbose = int(self.config.getoption("verbose", 0) or 0)
            default = 2.0 if verbose > 0 or (reporter is not None and reporter.isatty()) else 10.0
            try:
                self._interval = float(os.environ.get("BROWNOUT_PROGRESS_INTERVAL", "") or default)
            except ValueError:
                self._interval = default
        return self._interval

    def enabled(self) -> bool:
        if hasattr(self.config, "workerinput"):
            return False
        if self.config.pluginmanager.get_plugin("terminalreporter") is None:
            return False
        return int(self.config.getoption("verbose", 0) or 0) >= 0

    def due(self, now: float) -> bool:
        """Whether a line is due: ``interval`` seconds after the last one (or the session's start)."""
        return now - self._last >= self.interval

    def count_tests(self, items: Sequence[Any]) -> None:
        """Take the total from the collected items: those that use the ``chaos`` fixture."""
        if self.total is None:
            self.total = sum(1 for item in items if "chaos" in getattr(item, "fixturenames", ())) or None

    def test_finished(self, runs: int, failing: int) -> None:
        """A chaos test finished (here, or on an xdist worker) with ``runs`` runs, ``failing`` not ok."""
        self.done += 1
        self.runs += runs
        self.failing += failing
        self.update()

    def line(self, nodeid: str | None = None, runs: int = 0, failing: int = 0, started: float = 0.0) -> str:
        done = f"{self.done}/{self.total}" if self.total else str(self.done)
        text = (
            f"brownout: {done} test(s) done, {self.runs + runs} run(s), "
            f"{self.failing + failing} failing so far"
        )
        if nodeid is not None:
            text += f"; now {nodeid} ({runs} run(s), {_wall() - started:.0f} s)"
        return text

    def update(
        self, nodeid: str | None = None, runs: int = 0, failing: int = 0, started: float = 0.0
    ) -> bool:
        """Write the line if one is due; ``nodeid`` etc. describe the test exploring now, if any."""
        now = _wall()
        if not self.due(now) or not self.enabled():
            return False
        self._last = now
        self.write(self.line(nodeid, runs, failing, started))
        return True

    def write(self, text: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        suspended = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
        with suspended:
            reporter.ensure_newline()
            reporter.write_line(text, cyan=True)


class ChaosSession:
    """Collects what chaos tests did during a pytest session and writes the report at its end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.items: dict[str, Any] = {}
        self.rows: list[Any] = []
        self.report_path: Path | None = None
        self.report_error: str | None = None
        self.comparison: Any = None  # --chaos-baseline's verdict, set when the report is written
        self.started_wall = time.time()
        self.progress = ProgressLine(config)
        self._tests: dict[str, _TestState] = {}
        self._restore: dict[str, tuple[pytest.Item, Any]] = {}
        self.is_worker = hasattr(config, "workerinput")

    # -- where the report goes ---------------------------------------------------------------
    def report_dir(self) -> Path:
        option = self.config.getoption("--chaos-report", None)
        path = Path(option or self.config.getini("chaos_report_dir") or "reports/latest")
        return path if path.is_absolute() else self.config.rootpath / path

    def reporting(self) -> bool:
        """Whether this session writes a report: under ``--chaos`` or with an explicit ``--chaos-report``."""
        return bool(self.config.getoption("--chaos", False) or self.config.getoption("--chaos-report", None))

    # -- fed by the fixture ------------------------------------------------------------------
    def attach(self, item: pytest.Item, fixture: Any) -> None:
        self.items[item.nodeid] = fixture
        settings = fixture.settings
        mode = "plan" if settings.plan is not None else ("chaos" if settings.chaos else "baseline")
        try:
            from harness._checkers._registry import get_checkers

            checkers = [spec.name for spec in get_checkers(settings.checks)]
        except Exception:  # an invalid selection fails the run itself, with its own message
            checkers = []
        self.progress.count_tests(getattr(item.session, "items", ()))
        state = _TestState(fixture, mode, checkers, item=item, props_seen=len(item.user_properties))
        self._tests[item.nodeid] = state
        fixture.on_run.append(lambda run: self._on_run(item.nodeid, state, run))
        self._observe_examples(item, state)

    def _observe_examples(self, item: pytest.Item, state: _TestState) -> None:
        """Wrap the test function so that each call of its body (each example under ``--chaos``)
        that fails on its own assertion marks its last run ``silent``.

        The wrapper is what the plugin (and ``--chaos`` exploration) calls as the test body;
        the original function is put back at teardown.
        """
        original = getattr(item, "obj", None)
        if original is None or not callable(original) or getattr(original, "__brownout_observed__", False):
            return
        if inspect.iscoroutinefunction(original):
            return  # async test plugins decide how to run a test by its function's kind: leave it be

        @functools.wraps(original)
        def observed(*args: Any, **kwargs: Any) -> Any:
            first = len(state.rows)
            try:
                return original(*args, **kwargs)
            except Exception as exc:
                self._example_failed(state, first, exc)
                raise

        observed.__brownout_observed__ = True  # type: ignore[attr-defined]
        item.obj = observed  # type: ignore[attr-defined]
        self._restore[item.nodeid] = (item, original)

    def _example_failed(self, state: _TestState, first: int, exc: BaseException) -> None:
        if len(state.rows) <= first:
            return  # the body failed before any run: nothing to classify
        self._absorb_verdicts(state)
        last = state.rows[-1]
        if not last.ok:
            return  # the run itself already explains the failure (raised, violated, indeterminate)
        text = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__).strip()
        redo = self._reclassify(state, assertion=text, judges=last.judge_map())
        state.rows[-1] = last.model_copy(update={"outcome": redo.outcome, "assertion": redo.assertion})

    def teardown(self, item: pytest.Item) -> None:
        restore = self._restore.pop(item.nodeid, None)
        if restore is not None:
            restore[0].obj = restore[1]  # type: ignore[attr-defined]

    def _absorb_verdicts(self, state: _TestState) -> None:
        """Attach judge verdicts the test recorded since the last run to that run's row.

        The ``judge`` fixture adds each verdict to the test's ``user_properties``; a verdict
        given after run N and before run N+1 judged run N's output.
        """
        props = state.item.user_properties if state.item is not None else []
        fresh, state.props_seen = props[state.props_seen :], len(props)
        verdicts = [v for k, v in fresh if k == VERDICT_KEY and isinstance(v, dict)]
        if not verdicts or not state.rows:
            return
        last = state.rows[-1]
        judges = dict(last.judge_map())
        for verdict in verdicts:
            rubric = verdict.get("rubric")
            name = rubric.get("name") if isinstance(rubric, dict) else str(rubric or "rubric")
            judges[str(name)] = {
                "score": verdict.get("total"),
                "passed": verdict.get("passed"),
                "status": verdict.get("status", "scored"),
                # variance and cost, read by harness._report._rows.verdict_entry
                **{k: verdict.get(k) for k in VERDICT_DETAIL},
            }
        redo = self._reclassify(state, assertion=last.assertion, judges=judges)
        state.rows[-1] = last.model_copy(
            update={
                "judges": redo.judges,
                "outcome": redo.outcome,
                "judge_prompt_tokens": redo.judge_prompt_tokens,
                "judge_completion_tokens": redo.judge_completion_tokens,
            }
        )

    @staticmethod
    def _reclassify(state: _TestState, *, assertion: Any, judges: Any) -> Any:
        """The last run's row rebuilt from its log with what the test learned after the run."""
        from harness._report import row_from_log

        last, run = state.rows[-1], state.runs[-1]
        return row_from_log(
            run.log,
            test=last.test,
            index=last.index,
            mode=last.mode,
            plan=run.plan,
            checkers_run=state.checkers,
            violations=run.violations,
            error=run.error,
            assertion=assertion,
            judges=judges,
        )

    def _on_run(self, nodeid: str, state: _TestState, run: Any) -> None:
        from harness._pytest._fixture import reproduce_command
        from harness._report import row_from_log

        self._absorb_verdicts(state)

        row = row_from_log(
            run.log,
            test=nodeid,
            index=len(state.rows),
            mode=state.mode,
            plan=run.plan,
            checkers_run=state.checkers,
            violations=run.violations,
            error=run.error,
        )
        row = row.model_copy(
            update={"reproduce": reproduce_command(nodeid, plan_json=row.fault_plan or None)}
        )
        state.rows.append(row)
        state.runs.append(run)
        failing = sum(1 for r in state.rows if not r.ok)
        self.progress.update(nodeid, len(state.rows), failing, state.started)

    def on_report(self, item: pytest.Item, fixture: Any, report: pytest.TestReport) -> None:
        """Called once per chaos test after its call phase: complete its rows and ship them."""
        state = self._tests.pop(item.nodeid, None)
        if state is None or not state.rows:
            return
        self._absorb_verdicts(state)
        rows = list(state.rows)
        last = rows[-1]
        update: dict[str, Any] = {"final": True}
        if report.failed and last.ok:
            # The test's own assertion failed on the last run: no exception from the system,
            # no checker violation, yet the test says the result is wrong.
            from harness._report import row_from_log

            run = state.runs[-1]
            redo = row_from_log(
                run.log,
                test=last.test,
                index=last.index,
                mode=last.mode,
                plan=run.plan,
                checkers_run=state.checkers,
                violations=run.violations,
                error=run.error,
                assertion=_failure_text(report) or "the test failed",
                judges=last.judge_map(),
            )
            update["outcome"] = redo.outcome
            update["assertion"] = redo.assertion
        rows[-1] = last.model_copy(update=update)
        if self.reporting():
            rows = self._write_logs(rows, state.runs)
        report.user_properties.append((ROWS_KEY, [r.model_dump(mode="json") for r in rows]))

    def _write_logs(self, rows: list[Any], runs: list[Any]) -> list[Any]:
        from harness._report import log_name

        directory = self.report_dir()
        failing = [i for i, r in enumerate(rows) if not r.ok]
        keep = set(failing[:MAX_LOGS_PER_TEST]) | ({len(rows) - 1} if failing else set())
        for i in sorted(keep):
            name = log_name(rows[i].test, rows[i].index, rows[i].run_id)
            written = getattr(runs[i], "log_path", None)
            if written:  # already written beside the report (the failure message names that file)
                with contextlib.suppress(ValueError):
                    name = Path(written).resolve().relative_to(directory.resolve()).as_posix()
            if not (directory / name).is_file():
                runs[i].log.write(directory / name)
            rows[i] = rows[i].model_copy(update={"log": name})
        return rows

    def on_error(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """A chaos test that failed before or outside any run: one ``error`` row, never a silent gap."""
        from harness._report import error_row

        self._tests.pop(item.nodeid, None)
        error_type, reason = _failure_type_and_text(report)
        mode = "chaos" if self.config.getoption("--chaos", False) else "baseline"
        row = error_row(
            item.nodeid,
            error_type=error_type,
            error=f"{reason} (in {report.when})" if report.when != "call" else reason,
            mode=mode,
            reproduce=f"pytest {item.nodeid}",
        )
        report.user_properties.append((ROWS_KEY, [row.model_dump(mode="json")]))

    # -- collected where the session ends (the controller under xdist) ---------------------------
    def collect(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        from harness._report import ResultRow

        for name, value in report.user_properties:
            if name == ROWS_KEY and isinstance(value, list):
                rows = [ResultRow(**row) for row in value]
                self.rows.extend(rows)
                self.progress.test_finished(len(rows), sum(1 for r in rows if not r.ok))

    def finish(self, exitstatus: int) -> None:
        """Called at session end: write the report on the controller (or the only process)."""
        if self.is_worker or not self.rows or not self.reporting():
            return
        from harness._report import write_report

        directory = self.report_dir()
        rows = sorted(self.rows, key=lambda r: (r.test, r.index))
        try:
            self.report_path = write_report(directory, rows)
            self._remove_stale_logs(directory, {r.log for r in rows if r.log})
        except Exception as exc:  # the test results stand; say why the report is missing
            self.report_error = f"{type(exc).__name__}: {exc}"
        self._compare_baseline(rows, directory)

    def _compare_baseline(self, rows: list[Any], directory: Path) -> None:
        """``--chaos-baseline``: compare with the stored report (the plugin fails a regressed session)."""
        from harness._pytest._baseline import compare_with_baseline

        try:
            self.comparison = compare_with_baseline(self.config, rows, directory)
        except Exception as exc:
            self.report_error = f"--chaos-baseline: {exc}"

    def _remove_stale_logs(self, directory: Path, keep: set[str]) -> None:
        """Drop run logs a previous session left in ``runs/`` (the directory holds the latest report)."""
        runs = directory / "runs"
        if not runs.is_dir():
            return
        for path in runs.glob("*.jsonl"):
            rel = f"runs/{path.name}"
            with contextlib.suppress(OSError):
                if rel not in keep and path.stat().st_mtime < self.started_wall - 1.0:
                    path.unlink()

    def terminal_summary(self, terminalreporter: Any) -> None:
        """brownout's section of the terminal summary: outcome counts, silent failures first, report path."""
        if self.is_worker or not self.rows:
            return
        from harness._report import OUTCOMES, summarize_tests

        counts = Counter(r.outcome for r in self.rows)
        tests = summarize_tests(self.rows)
        terminalreporter.write_sep("-", "brownout")
        text = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
        terminalreporter.write_line(f"{len(self.rows)} run(s) of {len(tests)} test(s): {text}")
        for summary in tests:
            if not summary.failed:
                continue
            final = summary.final
            what = final.checkers_violated or final.error_type or "assertion"
            terminalreporter.write_line(f"  {summary.worst:<13} {summary.test}  ({what})", red=True)
        if self.report_path is not None:
            terminalreporter.write_line(f"report: {_display(self.report_path)}")
        if self.comparison is not None:
            from harness._pytest._baseline import summary_lines

            for text, bad in summary_lines(self.comparison):
                terminalreporter.write_line(text, red=bad)
        if self.report_error is not None:
            terminalreporter.write_line(
                f"brownout: the report could not be written: {self.report_error}", red=True
            )


def _failure_text(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = str(longrepr or "")
    return "\n".join(text.strip().splitlines()[-5:])


_OWN = tuple(
    str(Path(__file__).resolve().parents[2] / package) + os.sep
    for package in ("harness", "faults", "judges", "scenarios")
)


def _is_own(path: Any) -> bool:
    return str(path).startswith(_OWN)


def brief_failure(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> str | None:
    """The failure of an error brownout raised, without brownout's frames; ``None`` to keep pytest's.

    An error brownout raised (a :class:`HarnessError`, or a usage error from its fixture) is
    shown as the test's own line and the message: the 40-70 lines of brownout internals
    pytest would print before it (function source included) explain nothing the message
    does not. ``--full-trace`` or ``-vv`` shows everything. An exception the system under
    test raised keeps its whole trace: its frames are the user's.
    """
    config = item.config
    if config.getoption("fulltrace", False) or int(config.getoption("verbose", 0) or 0) >= 2:
        return None
    from harness._errors import HarnessError

    entries = list(excinfo.traceback)
    if not entries:
        return None
    ours = isinstance(excinfo.value, HarnessError) or (
        isinstance(excinfo.value, pytest.UsageError) and _is_own(entries[-1].path)
    )
    if not ours or not _is_own(entries[-1].path):
        return None
    name = type(excinfo.value).__name__
    message = str(excinfo.value)
    lines = [f"{name}: " + message.splitlines()[0] if message else name]  # the summary line shows this one
    lines += message.splitlines()[1:]
    here = [e for e in entries if Path(str(e.path)) == Path(str(item.path))]
    if here:
        entry = here[-1]
        lines.append(f"\n{_display(Path(str(entry.path)))}:{entry.lineno + 1}: in {entry.name}")
        with contextlib.suppress(Exception):
            lines.append("    " + str(entry.statement).strip().splitlines()[-1])
    lines.append("(brownout's own frames are hidden; --full-trace shows them)")
    return "\n".join(lines)


def _failure_type_and_text(report: pytest.TestReport) -> tuple[str, str]:
    """The exception type's short name and its message, from a failed report."""
    text = _failure_text(report) or "the test failed"
    head, sep, rest = text.partition(": ")
    if sep and head.replace(".", "").replace("_", "").isalnum() and " " not in head:
        return head.rsplit(".", 1)[-1], rest.strip()
    return "Error", text


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)
