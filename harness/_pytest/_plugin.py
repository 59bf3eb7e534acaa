"""brownout's pytest plugin: options, the ``chaos`` marker, fixtures and session hooks.

An adapter only: the logic lives in library modules, imported when a test needs them.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness._pytest._fixture import Chaos
    from harness._pytest._settings import ChaosSettings

_RECORD_MODES = ("none", "once", "new_episodes", "all")
_MISS = ("strict", "nearest", "live")
_CHAOS_KEY = pytest.StashKey["Chaos"]()
ROWS_KEY = "brownout_rows"  # the user_properties name result rows travel under


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "brownout: fault injection and replay for LLM multi-agent systems")
    group.addoption(
        "--chaos",
        action="store_true",
        default=False,
        help="Explore fault plans with Hypothesis for every test that uses the `chaos` fixture.",
    )
    group.addoption(
        "--chaos-examples",
        type=int,
        default=None,
        metavar="N",
        help="Fault plans to try per chaos test (default 100).",
    )
    group.addoption(
        "--chaos-trials",
        type=int,
        default=None,
        metavar="K",
        help="Run each fault plan K times (default 1), so the system's own variance (a live LLM's) "
        "is measured: a plan fails if any of its K runs fails.",
    )
    group.addoption(
        "--chaos-seed",
        type=int,
        default=None,
        metavar="SEED",
        help="Seed for fault-plan generation: the same seed gives the same plans.",
    )
    group.addoption(
        "--chaos-plan",
        default=None,
        metavar="JSON|FILE",
        help="Run exactly this fault plan (JSON or a file), as printed by a failure.",
    )
    group.addoption(
        "--chaos-record-mode",
        default=None,
        choices=_RECORD_MODES,
        help="Cassette record mode (default none: replay only, never touch the network).",
    )
    group.addoption(
        "--chaos-miss",
        default=None,
        choices=_MISS,
        help="What a cassette miss does: strict (error), nearest (substitute the same agent's "
        "recording, marked), live (call the endpoint and record). Default: strict; "
        "nearest under --chaos.",
    )
    group.addoption(
        "--chaos-report",
        default=None,
        metavar="DIR",
        help="Where reports and failing run logs go (default reports/latest).",
    )
    group.addoption(
        "--chaos-live",
        action="store_true",
        default=False,
        help="Run tests marked `live` (they record against a real local LLM server). "
        "Same as BROWNOUT_LIVE=1.",
    )
    group.addoption(
        "--chaos-outages",
        action="store_true",
        default=False,
        help="Also draw permanent outages (a fault on every call of a site). Off by default: "
        "--chaos then draws at most max_faults failing calls per plan.",
    )
    group.addoption(
        "--chaos-db",
        default=None,
        metavar="DIR|redis://HOST:PORT/DB",
        help="Where failing fault plans are kept and tried first next time: a directory (default "
        "<rootdir>/.hypothesis/examples on CI, else Hypothesis's own) or a Redis URL that CI shards share "
        "(needs `pip install brownout[redis]`).",
    )
    group.addoption(
        "--chaos-shard",
        default=None,
        metavar="I/N",
        help="Run only the I-th of N disjoint shares of the chaos tests (split by node id), e.g. one "
        "CI machine of N; `brownout report --merge` joins the shards' reports.",
    )
    group.addoption(
        "--chaos-baseline",
        default=None,
        metavar="DIR",
        help="Compare this session's pass rates with a stored report (as `brownout compare DIR` does); "
        "a regression fails the session.",
    )
    parser.addini("chaos_cassette_dir", "Cassette directory, relative to the rootdir.", default="cassettes")
    parser.addini(
        "chaos_degraded",
        "Result status values that admit trouble in this project (one per line), for the checkers, "
        "besides the built-in ones (partial, needs_review, payment_pending, ...).",
        type="linelist",
        default=[],
    )
    parser.addini("chaos_report_dir", "Report directory, relative to the rootdir.", default="reports/latest")
    parser.addini(
        "chaos_scrub",
        "Extra scrub rules, one a line: 'pattern REGEX', 'name FIELD', 'keep FIELD', 'env VARIABLE'.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "chaos_adapters",
        "Agent frameworks to instrument when a run starts: auto (default: every supported framework "
        "the tests imported), none, or names (agents, langgraph).",
        default="",
    )


class _RowCollector:
    """Per-config hook object: result rows arrive on reports (from xdist workers too) and go to
    the session state where the session ends. Registered per config, so nested pytester
    sessions keep their own rows."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if any(name == ROWS_KEY for name, _ in report.user_properties):
            _session(self.config, create=True).collect(report)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_RowCollector(config), f"brownout-rows-{id(config)}")
    config.addinivalue_line(
        "markers",
        "chaos(faults=None, checks='default', max_faults=3, examples=None, record_mode=None, miss=None, "
        "replay_tools=False, cassette=None, deadline=600, seed=None, outages=False, worker_root=False, "
        "degraded=()): configure brownout for this test.",
    )
    config.addinivalue_line("markers", "live: records against a real local LLM server (opt-in).")
    if config.getini("chaos_scrub"):  # imported only when used: the plugin stays cheap to load
        from harness._log._secrets import ScrubConfigError, configure, reset

        try:
            configure(config.getini("chaos_scrub"))
        except ScrubConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.add_cleanup(reset)
    if config.getoption("--chaos-examples") is not None and config.getoption("--chaos-examples") < 1:
        raise pytest.UsageError(
            f"--chaos-examples={config.getoption('--chaos-examples')} must be at least 1. To run one fixed "
            "plan instead of exploring, use --chaos-plan."
        )
    if config.getoption("--chaos"):
        from harness._pytest._reportdir import keep_sessions

        keep_sessions(config)  # reports/<session id>/, with reports/latest pointing at it
    db = config.getoption("--chaos-db")
    if db:
        from harness._errors import ConfigError
        from harness._pytest._explore import example_database_at

        try:
            example_database_at(db, config.rootpath, connect=False)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    if config.getoption("--chaos-shard"):
        from harness._errors import ConfigError
        from harness._pytest._shard import parse_shard

        try:
            parse_shard(config.getoption("--chaos-shard"))
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    trials = config.getoption("--chaos-trials")
    if trials is not None and trials < 1:
        raise pytest.UsageError(f"--chaos-trials={trials} must be at least 1 (runs of each fault plan).")
    plan = config.getoption("--chaos-plan")
    if plan is not None:
        from harness._errors import HarnessError
        from harness._pytest._settings import load_plan_text

        try:
            text = load_plan_text(plan)
            from faults import FaultPlan

            FaultPlan.from_json(text)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        except Exception as exc:
            raise pytest.UsageError(
                f"--chaos-plan: not a valid fault plan: {exc}. Pass the JSON printed in a failure message."
            ) from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--chaos-shard"):
        from harness._pytest._shard import parse_shard, split

        kept, deselected = split(items, *parse_shard(config.getoption("--chaos-shard")))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
    live = config.getoption("--chaos-live") or os.environ.get("BROWNOUT_LIVE", "") not in ("", "0")
    if live:
        return
    skip = pytest.mark.skip(
        reason="live tier: pass --chaos-live or set BROWNOUT_LIVE=1 (needs the `llm` extra)"
    )
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def settings_for(item: pytest.Item) -> ChaosSettings:
    """Resolve the item's settings: CLI > closest marker > ini > profile > defaults."""
    from harness._pytest._settings import settings_for_item

    return settings_for_item(item)


def _configure_adapters(config: pytest.Config) -> None:
    """Hand the ``chaos_adapters`` ini to the adapters, once, when a test first uses ``chaos``
    (at plugin load it would import the library into every pytest session)."""
    if getattr(config, "_brownout_adapters", False):
        return
    from harness._adapters import configure as configure_adapters
    from harness._errors import ConfigError

    try:
        configure_adapters(config.getini("chaos_adapters") or None)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config._brownout_adapters = True  # type: ignore[attr-defined]


def _report_dir(config: pytest.Config, settings: ChaosSettings) -> Path:
    path = Path(settings.report_dir)
    return path if path.is_absolute() else config.rootpath / path


@pytest.fixture
def chaos(request: pytest.FixtureRequest) -> Iterator[Chaos]:
    """Run a system under the test's cassette and fault plan: ``chaos.run(fn, *args, **kwargs)``."""
    from harness._pytest._fixture import Chaos, cassette_path_for

    item = request.node
    _configure_adapters(request.config)
    settings = settings_for(item)
    rootdir = request.config.rootpath
    from harness._cassette._file import contained

    # A relative path may not climb out of the rootdir; an absolute one is a deliberate choice.
    if settings.cassette:
        cassette = Path(settings.cassette)
        if not cassette.is_absolute():
            cassette = contained(rootdir / cassette, rootdir, source=f"cassette={settings.cassette!r}")
    else:
        ini = request.config.getini("chaos_cassette_dir")
        cassette_dir = rootdir / ini
        if not Path(ini).is_absolute():
            contained(cassette_dir, rootdir, source=f"chaos_cassette_dir={ini!r}")
        cassette = cassette_path_for(cassette_dir, str(item.path), item.name)
    fixture = Chaos(settings, nodeid=item.nodeid, cassette_path=cassette, rootdir=rootdir)
    if settings.plan is not None:
        from faults import FaultPlan

        fixture.plan = FaultPlan.from_json(settings.plan)
    item.stash[_CHAOS_KEY] = fixture
    _session(request.config, create=True).attach(item, fixture)
    try:
        yield fixture
    finally:
        fixture.close()


@pytest.fixture
def judge(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A rubric judge whose calls go through the test's cassette.

    Use: ``verdict = judge(run.output, rubric, context=task)``.
    """
    from harness._pytest._judge import judge_fixture

    yield from judge_fixture(request)


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, None]:
    fixture = pyfuncitem.stash.get(_CHAOS_KEY, None)
    if fixture is None or not fixture.settings.chaos or fixture.settings.plan is not None:
        yield
        return
    # Under --chaos the test body becomes a Hypothesis property over fault plans.
    from harness._pytest._explore import explore

    original = pyfuncitem.obj
    pyfuncitem.obj = explore(original, pyfuncitem, fixture)
    try:
        yield
    finally:
        pyfuncitem.obj = original


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    try:
        _ship_rows(item, report)
    finally:
        if report.failed and call.excinfo is not None and report.when in ("setup", "call"):
            from harness._pytest._session import brief_failure

            brief = brief_failure(item, call.excinfo)  # brownout's message without its internals
            if brief is not None:
                report.longrepr = brief


def _ship_rows(item: pytest.Item, report: pytest.TestReport) -> None:
    fixture = item.stash.get(_CHAOS_KEY, None)
    if report.failed and report.when in ("setup", "call") and (fixture is None or not fixture.runs):
        if "chaos" in getattr(item, "fixturenames", ()) or item.get_closest_marker("chaos") is not None:
            _session(item.config, create=True).on_error(item, report)  # failed before any run
        return
    if fixture is None or report.when != "call" or not fixture.runs:
        return
    session = _session(item.config)
    if session is not None:
        session.on_report(item, fixture, report)
    if report.failed:
        paths = fixture.write_logs(_report_dir(item.config, fixture.settings))
        lines = [f"run log: {paths[-1]}" if paths else "run log: (none)"]
        if len(paths) > 1:
            lines.append(f"({len(paths)} run logs written beside it)")
        lines.append(f"reproduce: {fixture.reproduce()}")
        report.sections.append(("brownout", "\n".join(lines)))


def _session(config: pytest.Config, *, create: bool = False) -> Any:
    """The session's brownout state, created on first use so a session without chaos tests
    never imports the library (the plugin stays cheap to load)."""
    state = getattr(config, "_brownout_session", None)
    if state is None and create:
        from harness._pytest._session import ChaosSession

        state = ChaosSession(config)
        config._brownout_session = state  # type: ignore[attr-defined]
    return state


def pytest_runtest_teardown(item: pytest.Item) -> None:
    state = _session(item.config)
    if state is not None:
        state.teardown(item)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _session(session.config)
    if state is not None:
        state.finish(exitstatus)
        if getattr(state, "comparison", None) is not None and state.comparison.verdict == "regressed":
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # --chaos-baseline: a regression fails


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _session(config)
    if state is not None:
        state.terminal_summary(terminalreporter)
