"""``pytest --chaos``: a chaos test's body becomes a Hypothesis property over fault plans.

:func:`explore` wraps the test function. The wrapper runs the body once with no faults
(the baseline), collects the call sites the baseline's runs went through, then lets
Hypothesis draw fault plans over those sites (:func:`scenarios._strategies.fault_plans`)
and runs the body once per plan. The property is the test's own assertions plus every
enabled checker (``chaos.run`` raises :class:`~harness._pytest._fixture.ViolationsFound`). A
failure is shrunk to the smallest plan; the error then carries a note with that plan, what
was violated, the run log path and the one command that replays exactly that plan.

Determinism: with a seed (``--chaos-seed`` or the marker's ``seed``) the same plans are
drawn in the same order on every machine and every pytest-xdist worker, and Hypothesis's
example database is not used (a replayed failure would change the sequence). Without a
seed, generation is random and failures are saved in the project's example database
(``.hypothesis/examples``), so they are tried first next time.
"""

from __future__ import annotations

import functools
import random
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given

from harness._errors import HarnessError, SystemCrashed, UnhandledFault

__all__ = ["ChaosWarning", "SystemCrashed", "explore"]


class ChaosWarning(UserWarning):
    """``--chaos`` could not explore a test (no call sites, no matching fault kinds)."""


_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


@contextmanager
def _seeded_random() -> Iterator[None]:
    """Seed the global ``random`` for the baseline, as Hypothesis does for each example."""
    state = random.getstate()
    random.seed(0)
    try:
        yield
    finally:
        random.setstate(state)


def _report_dir(fixture: Any) -> Path:
    path = Path(fixture.settings.report_dir)
    return path if path.is_absolute() else Path(fixture.rootdir) / path


def _first_lines(exc: BaseException, limit: int = 12) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = text.splitlines()
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more lines)"]
    return "\n".join("  " + line for line in lines)


def explore(test_fn: Callable[..., Any], pyfuncitem: Any, fixture: Any) -> Callable[..., Any]:
    """Wrap ``test_fn`` so that calling it explores fault plans (see the module docstring)."""
    from scenarios import call_sites, fault_plans

    settings = fixture.settings
    nodeid: str = fixture.nodeid

    @functools.wraps(test_fn)
    def chaos_test(*args: Any, **kwargs: Any) -> Any:
        # 1. The baseline: the test once, without faults.
        fixture.plan = None
        before = _project_functions(fixture.rootdir)
        with _seeded_random():
            test_fn(*args, **kwargs)
        _warn_if_patched(nodeid, before, _project_functions(fixture.rootdir))
        baseline = list(fixture.runs)
        fixture.baselines = list(baseline)  # what a crash-restarted run is compared with (resume_parity)
        if not baseline:
            warnings.warn(
                ChaosWarning(
                    f"{nodeid}: the test never called chaos.run(...), so there is no system to inject "
                    "faults into; --chaos ran it once without faults."
                ),
                stacklevel=1,
            )
            return None
        from faults.network import registered_proxies

        sites = call_sites([run.log for run in baseline], proxies=registered_proxies())
        strategy = fault_plans(
            sites,
            kinds=settings.faults,
            max_faults=settings.max_faults,
            outages=settings.outages,
            worker_root=settings.worker_root,
            # chaos.run(..., resume=...): the system says how it restarts, so crashes are drawn
            restartable=any(
                getattr(run.log[0], "meta", {}).get("resume") for run in baseline if len(run.log)
            ),
        )
        if strategy is None:
            kinds = ", ".join(settings.faults) or "all"
            seen = ", ".join(str(s) for s in sites[:8]) or "none"
            warnings.warn(
                ChaosWarning(
                    f"{nodeid}: no call site of the baseline run admits the selected fault kinds ({kinds}); "
                    f"sites seen: {seen}. Nothing to explore: widen @pytest.mark.chaos(faults=[...])."
                ),
                stacklevel=1,
            )
            return None

        # 2. The property: one run of the test body per fault plan.
        tried = 0

        def prop(plan: Any) -> None:
            nonlocal tried
            tried += 1
            for _ in range(settings.trials):  # --chaos-trials: the same plan k times; any failure fails it
                trial(plan)

        def trial(plan: Any) -> None:
            fixture.plan = plan
            fixture.runs.clear()  # keep only this example's runs (the failing one is written out)
            failure: BaseException | None = None
            try:
                test_fn(*args, **kwargs)
            except _PASS_THROUGH:
                raise
            except (AssertionError, HarnessError) as exc:  # a finding, an assertion, a usage error
                _remember(exc, plan, fixture)
                raise
            except BaseException as exc:
                failure = _wrapped(exc, _roots(fixture))
                if failure is exc:
                    _remember(exc, plan, fixture)
                    raise
                _remember(failure, plan, fixture)
            if failure is not None:
                # Raised outside the except block: Hypothesis tells failures apart by type and by
                # the exception they were raised while handling, so the original is kept as
                # ``__cause__`` only (pytest still prints it) and one site stays one failure.
                raise failure

        prop.__name__ = getattr(test_fn, "__name__", "chaos_test")
        prop.__qualname__ = prop.__name__
        # The example database key: the test's node id, not this wrapper's source.
        prop._hypothesis_internal_add_digest = nodeid.encode()  # type: ignore[attr-defined]
        seeded = settings.seed is not None
        hyp_settings = hypothesis.settings(
            max_examples=settings.examples,
            deadline=None,
            derandomize=False,
            database=None if seeded else _example_database(pyfuncitem),
            suppress_health_check=list(HealthCheck),
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
            # Every distinct failure (by checker set and exception type) is shrunk and reported
            # on its own, with its own plan and reproduce command.
            report_multiple_bugs=True,
            print_blob=False,
            verbosity=Verbosity.quiet,
        )
        wrapped = hyp_settings(given(plan=strategy)(prop))
        if seeded:
            wrapped = hypothesis.seed(settings.seed)(wrapped)
        try:
            wrapped()
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            _annotate(exc, fixture, tried)
            raise
        fixture.plan = None
        return None

    return chaos_test


_INJECTED = re.compile(r"^injected fault: (\w+ '[^']*'|LLM call \d+ of [^\s]+|\w+ [^\s]+)")


def _injected_at(exc: BaseException) -> str | None:
    """The site (``tool 'charge'``, ``worker 'billing'``) of an injected fault that ``exc`` is."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if candidate is None:
            continue
        found = _INJECTED.match(str(candidate))
        if found:
            return found.group(1)
    return None


def _wrapped(exc: BaseException, roots: frozenset[str] = frozenset()) -> BaseException:
    """The failure to report for ``exc``: an injected fault that escaped the system is one
    :class:`UnhandledFault` per site, a crash-type exception a :class:`SystemCrashed`.

    ``roots`` are the run's root agents: a root killed or hung (``worker_root=True``) is the
    whole system down, and says so, rather than a failure to handle a worker's crash.
    """
    site = _injected_at(exc)
    if (
        site is not None
        and site.startswith("worker ")
        and site.split("'")[1:2]
        and site.split("'")[1] in roots
    ):
        failure: BaseException = UnhandledFault.at(
            site,
            f"the whole system was down: the fault at {site} struck the run's root agent "
            f"(worker_root=True), which no code of the system can handle: {type(exc).__name__}: {exc}",
        )
    elif site is not None:
        # One failure per site, whatever error type was drawn there (ConnectionError,
        # TimeoutError, a lost reply...).
        failure = UnhandledFault.at(
            site, f"the system did not handle the fault injected at {site}: {type(exc).__name__}: {exc}"
        )
    elif isinstance(exc, Exception):
        return exc
    else:
        failure = SystemCrashed(
            f"the system ended with {type(exc).__name__} (not catchable by `except Exception`): {exc}"
        )
    failure.__cause__ = exc
    return failure


def _roots(fixture: Any) -> frozenset[str]:
    """Names of the root agents (outermost agent() scopes) of the runs this example made."""
    from harness.events import AgentStart

    return frozenset(
        e.name for run in fixture.runs for e in run.log.of(AgentStart) if e.parent_step_id is None
    )


def _project_functions(rootdir: Any) -> dict[tuple[str, str], int]:
    """``(module, name) -> id`` of the functions and classes of the project's own modules."""
    root = str(Path(rootdir).resolve())
    found: dict[tuple[str, str], int] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not path.startswith(root) or "site-packages" in path or name.startswith(("harness", "faults")):
            continue
        for attr, value in list(vars(module).items()):
            if callable(value) and not attr.startswith("__"):
                found[(name, attr)] = id(value)
    return found


def _warn_if_patched(
    nodeid: str, before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]
) -> None:
    """Warn when the test body replaced a function of the project's modules (a patch in the body).

    Under ``--chaos`` the body runs once per fault plan while function-scoped fixtures run
    once, so a patch made in the body piles up (a wrapper wrapped N times deep).
    """
    changed = sorted(
        f"{m}.{a}" for (m, a), ident in after.items() if (m, a) in before and before[(m, a)] != ident
    )
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        warnings.warn(
            ChaosWarning(
                f"{nodeid}: the test body replaced {shown}. Under --chaos the body runs once per fault plan, "
                "so a patch made there piles up run after run; make it in a fixture (monkeypatch.setattr in "
                "a fixture, or a conftest fixture) so that it happens once and is undone."
            ),
            stacklevel=1,
        )


def _remember(exc: BaseException, plan: Any, fixture: Any) -> None:
    """Keep the plan and the runs a failure came from on the exception itself: with several
    distinct failures, each one's plan, log and command must be its own."""
    exc._brownout_plan = plan  # type: ignore[attr-defined]
    exc._brownout_runs = list(fixture.runs)  # type: ignore[attr-defined]


def _failures(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            found.extend(_failures(inner))
        return found
    return [exc]


def _what(exc: BaseException) -> str:
    """A short name for a failure: the checkers it broke, or its exception type."""
    checkers = getattr(exc, "checkers", ())
    if checkers:
        return ", ".join(checkers)
    site = getattr(exc, "site", None)
    if site:
        return f"unhandled fault at {site}"
    cause = exc.__cause__ if isinstance(exc, SystemCrashed) and exc.__cause__ is not None else exc
    return type(cause).__name__


def _annotate(exc: BaseException, fixture: Any, tried: int) -> None:
    """Add to each failure its minimal plan, what it violated, its run log and its replay command.

    With several distinct failures (an exception group), each member gets its own note and
    the group a summary that names every failure in its first lines.
    """
    failures = [f for f in _failures(exc) if getattr(f, "_brownout_plan", None) is not None]
    if not failures:
        return
    summary: list[str] = []
    for number, failure in enumerate(failures, 1):
        plan = failure._brownout_plan  # type: ignore[attr-defined]
        fixture.runs[:] = failure._brownout_runs  # type: ignore[attr-defined]
        try:
            paths = fixture.write_logs(_report_dir(fixture))
            log_line = str(paths[-1]) if paths else "(no run finished)"
        except OSError as err:
            log_line = f"(could not be written: {err})"
        cause = failure.__cause__ if isinstance(failure, SystemCrashed) and failure.__cause__ else failure
        n = len(plan.faults)
        command = fixture.reproduce(plan)
        which = f"failure {number} of {len(failures)} [{_what(failure)}]; " if len(failures) > 1 else ""
        header = (
            f"brownout --chaos: {which}falsified after {tried} run(s) of the test; "
            f"smallest failing fault plan ({n} fault{'s' if n != 1 else ''}):"
        )
        failure.add_note(
            "\n".join(
                [
                    "",
                    header,
                    plan.describe(),
                    "violated:",
                    _first_lines(cause),
                    f"run log: {log_line}",
                    f"reproduce: {command}",
                ]
            )
        )
        summary.append(f"  {number}. [{_what(failure)}] {plan} ({n} fault{'s' if n != 1 else ''})")
        summary.append(f"     reproduce: {command}")
    if len(failures) > 1:
        exc.add_note(
            "\n".join(
                [
                    "",
                    f"brownout --chaos: {len(failures)} distinct failures after {tried} run(s), "
                    "each shrunk to its smallest plan:",
                    *summary,
                ]
            )
        )
    fixture.plan = failures[-1]._brownout_plan  # type: ignore[attr-defined]


def _example_database(item: Any) -> Any:
    """The example database failures are kept in: ``--chaos-db``, Hypothesis's own, or the project's on CI.

    Hypothesis's automatic ``ci`` profile turns its database off because CI machines are
    usually thrown away; brownout keeps failing fault plans in ``<rootdir>/.hypothesis/examples``
    there too, so a CI job that caches that folder tries last run's failures first. A
    profile the user loaded with ``database=None`` is respected.
    """
    option = item.config.getoption("--chaos-db", None)
    if option:
        return example_database_at(option, item.config.rootpath)
    database = hypothesis.settings().database
    if database is None and hypothesis.settings.get_current_profile_name() == "ci":
        from hypothesis.database import DirectoryBasedExampleDatabase

        database = DirectoryBasedExampleDatabase(str(item.config.rootpath / ".hypothesis" / "examples"))
    return database


def example_database_at(where: str, rootdir: Path, *, connect: bool = True) -> Any:
    """The example database ``--chaos-db`` names: a Redis URL, or a directory (relative to ``rootdir``).

    A Redis database (``redis://host:port/db``) is shared by every machine that points at it,
    so a failing plan one CI shard found is the first example the next shard tries. With
    ``connect=False`` the value is only checked (the option is validated before any test runs).

    Raises:
        ConfigError: For an unsupported URL scheme, or a Redis URL without the ``redis`` package.
    """
    from harness._errors import ConfigError

    scheme = where.split("://", 1)[0].lower() if "://" in where else ""
    if scheme in ("redis", "rediss", "unix"):
        try:
            import redis
        except ImportError:
            raise ConfigError(
                f"--chaos-db={where}: a Redis example database needs the redis package, which is not "
                "installed. Install it with `pip install brownout[redis]`, or pass a directory."
            ) from None
        try:
            client = redis.Redis.from_url(where)
        except ValueError as exc:
            raise ConfigError(
                f"--chaos-db={where}: not a valid Redis URL ({exc}). Use redis://host:port/db."
            ) from None
        if not connect:
            return None
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(client, key_prefix=b"brownout-example:")
    if scheme:
        raise ConfigError(
            f"--chaos-db={where}: the scheme {scheme}:// is not supported. Pass a directory, or a Redis "
            "URL (redis://host:port/db) that CI shards share."
        )
    if not connect:
        return None
    from hypothesis.database import DirectoryBasedExampleDatabase

    path = Path(where)
    return DirectoryBasedExampleDatabase(str(path if path.is_absolute() else rootdir / path))
