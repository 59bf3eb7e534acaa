"""ChaosSettings: one frozen settings object per test, resolved in one place."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from harness._errors import ConfigError

__all__ = [
    "MARKER_ARGS",
    "MISS_POLICIES",
    "RECORD_MODES",
    "ChaosSettings",
    "get_profile",
    "load_profile",
    "register_profile",
    "resolve_settings",
    "settings_for_item",
]

RecordMode = Literal["none", "once", "new_episodes", "all"]
MissPolicy = Literal["strict", "nearest", "live"]
RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all")
MISS_POLICIES: tuple[str, ...] = ("strict", "nearest", "live")


@dataclass(frozen=True)
class ChaosSettings:
    """Everything that decides how one chaos test runs. Immutable; build with :func:`resolve_settings`.

    Attributes:
        chaos: Explore fault plans (``--chaos``) instead of one baseline run.
        examples: Fault plans to try per test under ``--chaos``.
        trials: Runs of each fault plan (``--chaos-trials``): more than one measures how the
            system's own variance (a live LLM's) changes the outcome of the same plan.
        seed: Seed for plan generation; ``None`` lets Hypothesis choose (and print it).
        plan: A fixed fault plan (JSON text or a file path) to run instead of exploring.
        record_mode: Cassette record mode: none (replay only), once, new_episodes, all.
        miss: What a cassette miss does: strict (error), nearest (substitute), live (call and record).
        faults: Fault kinds to explore (``"tool"``, ``"llm.rate_limit"``, ...); empty means all.
        checks: Checker selection: ``"default"``, ``"all"``, ``"none"`` or a list of names.
        max_faults: At most this many faults in one generated plan.
        replay_tools: Replay recorded ``@tool`` results instead of running the tools.
        cassette: Explicit cassette path (default: ``<cassette_dir>/<module>/<test>.json``).
        deadline: Virtual seconds after which a run counts as hung (liveness).
        report_dir: Where failing run logs and reports go.
        outages: Also draw permanent outages (a fault on *every* call of a site). Off by
            default: ``max_faults`` then bounds the number of failing calls.
        worker_root: Also draw the run's root agent (an outermost ``agent()`` scope) as a
            ``worker`` kill/hang target. Off by default: a dead root is the whole system down.
        degraded: How this project's results admit trouble, for the checkers: extra status
            values (``["awaiting_human"]``) or a predicate ``output -> bool``.
        order_free: Tools whose effects may happen in any order (``["send_email"]``, or
            ``["*"]`` for every tool): ``resume_parity`` compares them as a multiset, not a
            sequence, between a crash-restarted run and the uninterrupted baseline.
    """

    chaos: bool = False
    examples: int = 100
    trials: int = 1
    seed: int | None = None
    plan: str | None = None
    record_mode: RecordMode = "none"
    miss: MissPolicy = "strict"
    faults: tuple[str, ...] = ()
    checks: str | tuple[str, ...] = "default"
    max_faults: int = 3
    replay_tools: bool = False
    cassette: str | None = None
    deadline: float = 600.0
    report_dir: str = "reports/latest"
    outages: bool = False
    worker_root: bool = False
    degraded: tuple[str, ...] | Callable[[Any], bool] = ()
    order_free: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> ChaosSettings:
        return dataclasses.replace(self, **changes)


# The marker's accepted keyword arguments and what each must be.
MARKER_ARGS: dict[str, str] = {
    "faults": "a list of fault kinds such as ['tool', 'llm.rate_limit']",
    "checks": "'default', 'all', 'none' or a list of checker names",
    "max_faults": "an int >= 1",
    "examples": "an int >= 1",
    "trials": "an int >= 1 (runs of each fault plan)",
    "record_mode": f"one of {', '.join(RECORD_MODES)}",
    "miss": f"one of {', '.join(MISS_POLICIES)}",
    "replay_tools": "True or False",
    "cassette": "a path to a cassette file",
    "deadline": "virtual seconds > 0",
    "seed": "an int",
    "outages": "True or False (also draw permanent outages: a fault on every call of a site)",
    "worker_root": "True or False (also kill or hang the run's root agent)",
    "degraded": "a list of status values that admit trouble, or a callable output -> bool",
    "order_free": "a list of tool names whose effects may happen in any order (['*']: every tool)",
}

_PROFILES: dict[str, ChaosSettings] = {"default": ChaosSettings()}
_ACTIVE = "default"


def register_profile(name: str, parent: str = "default", **changes: Any) -> None:
    """Register a named settings profile, like Hypothesis's ``settings.register_profile``."""
    if parent not in _PROFILES:
        raise ConfigError(
            f"register_profile(parent={parent!r}): unknown profile; known: {sorted(_PROFILES)}."
        )
    _PROFILES[name] = _validate(_PROFILES[parent].replace(**changes), source=f"profile {name!r}")


def load_profile(name: str) -> None:
    """Make a registered profile the base that every test's settings start from."""
    global _ACTIVE
    if name not in _PROFILES:
        raise ConfigError(f"load_profile({name!r}): unknown profile; registered: {sorted(_PROFILES)}.")
    _ACTIVE = name


def get_profile() -> ChaosSettings:
    return _PROFILES[_ACTIVE]


def _check_choice(name: str, value: Any, choices: tuple[str, ...], source: str) -> None:
    if value not in choices:
        raise ConfigError(
            f"{source}: {name}={value!r} is not accepted. Accepted values: {', '.join(choices)}."
        )


def _validate(s: ChaosSettings, *, source: str) -> ChaosSettings:
    _check_choice("record_mode", s.record_mode, RECORD_MODES, source)
    _check_choice("miss", s.miss, MISS_POLICIES, source)
    if not isinstance(s.examples, int) or isinstance(s.examples, bool) or s.examples < 1:
        raise ConfigError(
            f"{source}: examples={s.examples!r} must be an int of at least 1. To run one fixed plan "
            "instead of exploring, pass --chaos-plan."
        )
    if not isinstance(s.trials, int) or isinstance(s.trials, bool) or s.trials < 1:
        raise ConfigError(f"{source}: trials={s.trials!r} must be an int of at least 1 (runs of each plan).")
    if not isinstance(s.max_faults, int) or isinstance(s.max_faults, bool) or s.max_faults < 1:
        raise ConfigError(f"{source}: max_faults={s.max_faults!r} must be an int of at least 1.")
    if s.seed is not None and (not isinstance(s.seed, int) or isinstance(s.seed, bool)):
        raise ConfigError(f"{source}: seed={s.seed!r} must be an int.")
    if not isinstance(s.deadline, int | float) or s.deadline <= 0:
        raise ConfigError(f"{source}: deadline={s.deadline!r} must be a number of virtual seconds > 0.")
    if not isinstance(s.replay_tools, bool):
        raise ConfigError(f"{source}: replay_tools={s.replay_tools!r} must be True or False.")
    checks = s.checks
    if isinstance(checks, str):
        if checks not in ("default", "all", "none"):
            raise ConfigError(
                f"{source}: checks={checks!r} is not accepted. Accepted: 'default', 'all', 'none' or a "
                "list of checker names (see `brownout checkers`)."
            )
    elif not all(isinstance(c, str) for c in checks):
        raise ConfigError(f"{source}: checks={checks!r} must be a list of checker names (strings).")
    if not all(isinstance(f, str) and f for f in s.faults):
        raise ConfigError(f"{source}: faults={s.faults!r} must be a list of fault kinds (strings).")
    _check_kinds(s.faults, source)
    for name in ("outages", "worker_root"):
        if not isinstance(getattr(s, name), bool):
            raise ConfigError(f"{source}: {name}={getattr(s, name)!r} must be True or False.")
    degraded = s.degraded
    if not callable(degraded) and not all(isinstance(v, str) and v for v in degraded):
        raise ConfigError(
            f"{source}: degraded={degraded!r} must be a list of status values (strings) that admit "
            "trouble, e.g. ['awaiting_human'], or a callable taking the run's output and returning a bool."
        )
    if not all(isinstance(v, str) and v for v in s.order_free):
        raise ConfigError(
            f"{source}: order_free={s.order_free!r} must be a list of tool names (strings) whose effects "
            "may happen in any order, e.g. ['send_email'], or ['*'] for every tool."
        )
    return s


def _check_kinds(kinds: tuple[str, ...], source: str) -> None:
    """Fault kinds are checked when settings are resolved, under plain ``pytest`` too."""
    if not kinds:
        return
    from faults import SITES, effect_kinds

    for entry in kinds:
        site, _, kind = entry.partition(".")
        if site in SITES and (not kind or kind in effect_kinds(site)):
            continue
        import difflib

        known = [*SITES, *(f"{s}.{k}" for s in SITES for k in effect_kinds(s))]
        close = difflib.get_close_matches(entry, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{source}: faults=[..., {entry!r}, ...]: unknown fault kind {entry!r}.{hint} A kind is a site "
            f"({', '.join(SITES)}) or one effect at a site (site.effect, e.g. 'tool.timeout'); "
            "`docs/faults.md` lists every effect."
        )


def _as_tuple(value: Any, name: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    raise ConfigError(f"{source}: {name}={value!r} must be a string or a list of strings.")


def marker_settings(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``@pytest.mark.chaos(...)`` arguments and return them as settings changes."""
    source = "@pytest.mark.chaos"
    if args:
        raise ConfigError(
            f"{source}: got positional arguments {args!r}; the marker takes keyword arguments only: "
            f"{', '.join(sorted(MARKER_ARGS))}."
        )
    unknown = sorted(set(kwargs) - set(MARKER_ARGS))
    if unknown:
        accepted = "; ".join(f"{k} ({v})" for k, v in sorted(MARKER_ARGS.items()))
        raise ConfigError(f"{source}: unknown argument(s) {', '.join(unknown)}. Accepted: {accepted}.")
    changes = dict(kwargs)
    if "faults" in changes:
        changes["faults"] = _as_tuple(changes["faults"], "faults", source)
    if "checks" in changes and not isinstance(changes["checks"], str):
        changes["checks"] = _as_tuple(changes["checks"], "checks", source)
    if "order_free" in changes:
        changes["order_free"] = _as_tuple(changes["order_free"], "order_free", source)
    if "degraded" in changes and not callable(changes["degraded"]):
        changes["degraded"] = _as_tuple(changes["degraded"], "degraded", source)
    return changes


def resolve_settings(
    *,
    cli: Mapping[str, Any],
    marker_args: tuple[Any, ...] = (),
    marker_kwargs: Mapping[str, Any] | None = None,
    ini: Mapping[str, Any] | None = None,
) -> ChaosSettings:
    """Resolve one test's settings.

    Precedence, highest first: command-line options > the closest ``chaos`` marker >
    ini options > the active profile (``load_profile``) > built-in defaults. Under
    ``--chaos`` the miss policy defaults to ``nearest`` (faults change the path, so a
    strict miss would fail every plan); an explicit ``--chaos-miss`` or marker wins.
    """
    settings = get_profile()
    if ini:
        settings = settings.replace(**{k: v for k, v in ini.items() if v is not None})
    marker = marker_settings(marker_args, marker_kwargs or {})
    settings = settings.replace(**marker)
    given_cli = {k: v for k, v in cli.items() if v is not None}
    settings = settings.replace(**given_cli)
    if settings.chaos and "miss" not in given_cli and "miss" not in marker:
        settings = settings.replace(miss="nearest")
    return _validate(settings, source="chaos settings" if not marker else "@pytest.mark.chaos")


def load_plan_text(value: str) -> str:
    """``--chaos-plan`` takes JSON text or a path to a JSON file; return the JSON text."""
    text = value.strip()
    if text.startswith(("{", "[")):
        return text
    path = Path(value)
    if not path.is_file():
        raise ConfigError(
            f"--chaos-plan={value!r}: neither JSON (it must start with '{{' or '[') nor an existing file. "
            "Pass the plan printed in a failure message, or the path of a file holding it."
        )
    return path.read_text(encoding="utf-8")


def parse_json_option(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}={value[:80]!r}: not valid JSON ({exc.msg} at char {exc.pos}).") from None


# -- from a pytest item ----------------------------------------------------------------------
def _cli_settings(config: pytest.Config) -> dict[str, Any]:
    plan = config.getoption("--chaos-plan")
    return {
        "chaos": True if config.getoption("--chaos") else None,
        "examples": config.getoption("--chaos-examples"),
        "trials": config.getoption("--chaos-trials", None),
        "seed": config.getoption("--chaos-seed"),
        "plan": load_plan_text(plan) if plan else None,
        "record_mode": config.getoption("--chaos-record-mode"),
        "miss": config.getoption("--chaos-miss"),
        "report_dir": config.getoption("--chaos-report"),
        "outages": True if config.getoption("--chaos-outages", False) else None,
    }


def settings_for_item(item: pytest.Item) -> ChaosSettings:
    """Resolve the item's settings: CLI > closest marker > ini > profile > defaults."""
    marker = item.get_closest_marker("chaos")
    ini: dict[str, Any] = {"report_dir": item.config.getini("chaos_report_dir")}
    degraded = tuple(item.config.getini("chaos_degraded") or ())
    if degraded:
        ini["degraded"] = degraded
    try:
        return resolve_settings(
            cli=_cli_settings(item.config),
            marker_args=tuple(marker.args) if marker else (),
            marker_kwargs=dict(marker.kwargs) if marker else {},
            ini=ini,
        )
    except ConfigError as exc:
        raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
