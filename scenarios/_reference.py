"""The reference runs: each system, each variant, on the happy path and under the fault that shows its bug.

Every reference run has its own cassette, ``cassettes/reference/<system>_<variant>[_<fault>].json``,
recorded from the real local model by ``brownout record-reference`` and replayed offline by the
test suite. :func:`run_reference` runs one of them, replaying (default) or recording.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import Run, run_system
from scenarios import briefing, checkout, checkpointed, content, invoicing, negotiation, research, tracking
from scenarios._errors import ScenarioConfigError
from scenarios._shop import ShopService

__all__ = [
    "CHAOS",
    "FAULTS",
    "REFERENCE_RUNS",
    "ReferenceRun",
    "cassette_dir",
    "find_reference",
    "run_reference",
]

# Virtual seconds a run may take. Live model calls advance the virtual clock by their real duration,
# so a recording on a slow CPU needs room; in a replay the deadline costs nothing.
DEADLINE = 3600.0

Services = Callable[[], contextlib.AbstractContextManager[dict[str, Any]]]


@contextlib.contextmanager
def _no_services() -> Iterator[dict[str, Any]]:
    yield {}


@contextlib.contextmanager
def _web_search() -> Iterator[dict[str, Any]]:
    with research.SearchService() as web:
        yield {"web": web}


@contextlib.contextmanager
def _shop() -> Iterator[dict[str, Any]]:
    with ShopService() as shop:
        yield {"shop": shop}


@contextlib.contextmanager
def _carrier() -> Iterator[dict[str, Any]]:
    with tracking.CarrierService() as carrier:
        yield {"carrier": carrier}


@contextlib.contextmanager
def _orders() -> Iterator[dict[str, Any]]:
    with invoicing.OrderService() as orders:
        yield {"orders": orders}


# The fault (as fault-plan JSON) under which each naive variant's bug shows.
FAULTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "research": (
        "web_timeout",
        [{"site": "tool", "target": "web_search", "call": 1, "effect": {"kind": "latency", "seconds": 600}}],
    ),
    "checkout": (
        "slow_email",
        [
            {
                "site": "tool",
                "target": "send_email",
                "call": 1,
                "effect": {"kind": "slow_then_succeed", "seconds": 40},
            }
        ],
    ),
    "content": (
        "context_overflow",
        [{"site": "llm", "target": "outliner", "call": 1, "effect": {"kind": "context_length"}}],
    ),
    "negotiation": (
        "lost_offer",
        [{"site": "message", "target": "to_seller", "call": 1, "effect": {"kind": "drop"}}],
    ),
    "tracking": (
        "carrier_down",
        [{"site": "tool", "target": "track_parcel", "call": "every", "effect": {"kind": "error"}}],
    ),
    "briefing": (
        "balloon",
        [{"site": "budget", "target": None, "call": 1, "effect": {"kind": "balloon", "factor": 4.0}}],
    ),
    "invoicing": (
        "stale_order",
        [{"site": "tool", "target": "get_order", "call": 2, "effect": {"kind": "stale_result"}}],
    ),
    "checkpointed": (
        "crash_after_charge",  # the ambiguous window: the card was charged, the checkpoint not yet written
        [{"site": "tool", "target": "charge_card", "call": 1, "effect": {"kind": "crash_after_effect"}}],
    ),
}

# How a test explores each system under ``pytest --chaos``: the marker arguments (fault kinds,
# checkers, outages) that reach the failure mode the system is about. The opt-in checkers and
# fault kinds are named here, as a user names them in ``@pytest.mark.chaos(...)``.
WRONG_ANSWERS = ["tool.stale_result", "tool.perturbed_value", "tool.dropped_item", "tool.altered_field"]
CHAOS: dict[str, dict[str, Any]] = {
    "research": {"faults": ["tool"], "checks": "default"},
    "checkout": {"faults": ["tool"], "checks": "default"},
    "content": {"faults": ["llm"], "checks": "default"},
    "negotiation": {"faults": ["message"], "checks": "default"},
    "tracking": {
        "faults": ["tool"],
        "checks": ["default", "circuit_breaker", "retry_amplification"],
        "outages": True,
    },
    "briefing": {"faults": ["budget"], "checks": ["default", "bulkhead"]},
    "invoicing": {"faults": ["tool", *WRONG_ANSWERS], "checks": "default"},
    # Its failure mode is what a restart does: every kill point (drawn because it declares resume).
    "checkpointed": {
        "faults": [
            "tool.crash_before_effect",
            "tool.crash_after_effect",
            "tool.crash_mid_call",
            "state.crash_after_checkpoint",
            "llm.crash_mid_stream",
        ],
        "checks": "default",
    },
}

# How a system starts again after a crash (chaos.run(..., resume=...)), for those that can.
RESUME: dict[str, Callable[..., Any]] = {"checkpointed": checkpointed.resume}

_SYSTEMS: dict[str, tuple[Callable[..., Any], Services, float]] = {
    # name -> (entry point, services it needs, virtual deadline of a run)
    "research": (research.run, _web_search, DEADLINE),
    "checkout": (checkout.run, _shop, DEADLINE),
    "content": (content.run, _no_services, DEADLINE),
    "negotiation": (negotiation.run, _no_services, DEADLINE),
    "tracking": (tracking.run, _carrier, DEADLINE),
    "briefing": (briefing.run, _no_services, DEADLINE),
    "invoicing": (invoicing.run, _orders, DEADLINE),
    "checkpointed": (checkpointed.run, _no_services, DEADLINE),
}


@dataclass(frozen=True)
class ReferenceRun:
    """One reference run: a system, a variant, and optionally the fault that shows the naive bug."""

    system: str
    variant: str
    fault: str | None = None
    plan: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.system}_{self.variant}" + (f"_{self.fault}" if self.fault else "")

    @property
    def entry(self) -> Callable[..., Any]:
        return _SYSTEMS[self.system][0]

    @property
    def deadline(self) -> float:
        return _SYSTEMS[self.system][2]

    @property
    def chaos(self) -> dict[str, Any]:
        """The ``@pytest.mark.chaos`` arguments this system is explored with (fault kinds, checkers).

        A system without an entry in :data:`CHAOS` is explored at the site of its fault in
        :data:`FAULTS` with the default checkers.
        """
        default = {"faults": [FAULTS[self.system][1][0]["site"]], "checks": "default"}
        return dict(CHAOS.get(self.system, default))

    @property
    def resume(self) -> Callable[..., Any] | None:
        """How the system starts again after a crash, or ``None`` for a system that cannot."""
        return RESUME.get(self.system)

    def services(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return _SYSTEMS[self.system][1]()

    def cassette_path(self, directory: Path | None = None) -> Path:
        return (directory or cassette_dir()) / f"{self.name}.json"

    def fault_plan(self) -> Any:
        if not self.plan:
            return None
        from faults import FaultPlan

        return FaultPlan.model_validate({"faults": self.plan})


REFERENCE_RUNS: tuple[ReferenceRun, ...] = tuple(
    run
    for system in _SYSTEMS
    for variant in ("naive", "hardened")
    for run in (
        ReferenceRun(system, variant),
        ReferenceRun(system, variant, FAULTS[system][0], FAULTS[system][1]),
    )
)


def find_reference(name: str) -> ReferenceRun:
    """The reference run called ``name`` (e.g. ``"checkout_naive_slow_email"``)."""
    for ref in REFERENCE_RUNS:
        if ref.name == name:
            return ref
    raise ScenarioConfigError(
        f"no reference run {name!r}; known: {', '.join(r.name for r in REFERENCE_RUNS)}"
    )


def cassette_dir() -> Path:
    """``cassettes/reference`` in the source tree."""
    return Path(__file__).resolve().parent.parent / "cassettes" / "reference"


def run_reference(
    ref: ReferenceRun,
    *,
    record_mode: str = "none",
    directory: Path | None = None,
    miss: str = "strict",
    inspect: Callable[[dict[str, Any]], None] | None = None,
) -> Run:
    """Run ``ref`` once under its fault plan with its cassette and services, and return the run.

    Args:
        ref: The reference run.
        record_mode: ``"none"`` replays offline; ``"all"`` re-records from ``$OPENAI_BASE_URL``.
        directory: Where the cassettes are (default :func:`cassette_dir`).
        miss: The cassette miss policy.
        inspect: Called with the services (e.g. ``{"shop": ShopService}``) after the run, before
            they stop, so a caller can read a service's own records.
    """
    from harness.cassettes import Cassette

    path = ref.cassette_path(directory)
    cassette = Cassette(
        path,
        record_mode=record_mode,
        miss=miss,
        fresh=record_mode == "all",
        record_command="brownout record-reference",
    )
    plan = ref.fault_plan()
    try:
        with ref.services() as services:
            run = run_system(
                ref.entry,
                (),
                {"variant": ref.variant, **services},
                hooks=plan.hooks() if plan is not None else None,
                cassette=cassette,
                deadline=ref.deadline,
                fault_plan=plan.model_dump(mode="json") if plan is not None else None,
                meta={"reference": ref.name},
                resume=ref.resume,
            )
            if inspect is not None:
                inspect(services)
    finally:
        cassette.close()
    return run
