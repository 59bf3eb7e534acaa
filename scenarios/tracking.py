"""tracking: a support agent answers "where are my parcels?" through a tracker sub-agent and a carrier API.

The ``support`` orchestrator looks up each of the customer's parcels in turn by running a
``tracker`` sub-agent. The tracker calls the ``track_parcel`` tool against the carrier's
tracking API (:class:`CarrierService`, a real HTTP service on 127.0.0.1) and asks the model to
turn the carrier's scan events into one line for the customer. Then ``support`` asks the model
to write the reply.

**naive** retries at every layer, at once: the tracker calls ``track_parcel`` up to four times
in a row with no pause, and ``support`` runs a failed tracker again, up to three times. It is
honest about a parcel it could not track, but when the carrier's API is down every parcel
costs 12 calls in a burst, and the tracker keeps calling after three failures in a row.

**hardened** retries at one layer only, the one closest to the call: the tracker retries with
exponential backoff on the virtual clock (1 s, then 2 s), and ``support`` never re-runs a
tracker. A circuit breaker shared by the trackers opens after three consecutive failures:
the parcels not yet looked up are not tried, and the result reports the carrier's tracking as
unavailable for them (``status="degraded"``, ``unavailable=[...]``).

Usage::

    with CarrierService() as carrier:
        result = asyncio.run(tracking.run(DEFAULT_REQUEST, carrier=carrier, variant="hardened"))
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field, ValidationError

from harness import WorkerKilled, agent, tool
from scenarios._common import Variant, chat, check_variant, llm_client
from scenarios._errors import CarrierUnavailable
from scenarios._http import JSONService, call_service, query_string

__all__ = [
    "BREAKER_COOLDOWN",
    "BREAKER_THRESHOLD",
    "CALL_TIMEOUT",
    "DEFAULT_REQUEST",
    "CarrierService",
    "CircuitBreaker",
    "ParcelStatus",
    "TrackingRequest",
    "TrackingResult",
    "run",
]

CALL_TIMEOUT = 10.0  # virtual seconds the tracker waits for one carrier call
BREAKER_THRESHOLD = 3  # hardened: consecutive failures that open the breaker
BREAKER_COOLDOWN = 30.0  # hardened: virtual seconds the breaker stays open before one probe
BACKOFF = (1.0, 2.0)  # hardened: pauses before the second and third attempt
NAIVE_ATTEMPTS = 4  # naive: calls of the tool per tracker run, back to back
NAIVE_TRACKER_RUNS = 3  # naive: runs of the tracker per parcel


class TrackingRequest(BaseModel):
    """A customer's question and the parcels on their account."""

    customer: str
    question: str
    parcels: list[str]


DEFAULT_REQUEST = TrackingRequest(
    customer="Sam Okafor",
    question="Where are my parcels? One of them was supposed to arrive yesterday.",
    parcels=["PX-1001", "PX-1002", "PX-1003"],
)


class ScanEvent(BaseModel):
    """One scan in the carrier's history of a parcel."""

    at: str
    event: str
    place: str


class Tracking(BaseModel):
    """The carrier's answer for one parcel (what ``track_parcel`` returns, validated)."""

    parcel: str
    status: str
    eta: str | None = None
    events: list[ScanEvent] = Field(min_length=1)


class ParcelStatus(BaseModel):
    """What the customer is told about one parcel."""

    parcel: str
    status: str
    summary: str


class TrackingResult(BaseModel):
    """The reply, the parcels that could be tracked, and those that could not."""

    status: Literal["ok", "degraded"]
    reply: str
    parcels: list[ParcelStatus] = Field(default_factory=list)
    unavailable: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


# -- the carrier's tracking API ------------------------------------------------------------
_HISTORY: dict[str, dict[str, Any]] = {
    "PX-1001": {
        "status": "out_for_delivery",
        "eta": "2026-11-30",
        "events": [
            {"at": "2026-11-27 08:10", "event": "Picked up", "place": "Leeds"},
            {"at": "2026-11-28 21:40", "event": "Arrived at hub", "place": "Manchester"},
            {"at": "2026-11-30 07:05", "event": "Out for delivery", "place": "Manchester"},
        ],
    },
    "PX-1002": {
        "status": "delivered",
        "eta": None,
        "events": [
            {"at": "2026-11-26 09:00", "event": "Picked up", "place": "Bristol"},
            {"at": "2026-11-28 14:22", "event": "Delivered, left with neighbour", "place": "Salford"},
        ],
    },
    "PX-1003": {
        "status": "held_at_customs",
        "eta": "2026-12-03",
        "events": [
            {"at": "2026-11-25 18:30", "event": "Departed origin facility", "place": "Rotterdam"},
            {"at": "2026-11-28 11:15", "event": "Held at customs: import duty unpaid", "place": "Dover"},
        ],
    },
}


class CarrierService(JSONService):
    """The carrier's tracking API: ``GET /track?parcel=PX-1001`` returns the parcel's scan history."""

    name = "carrier"

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.requests: list[str] = []

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/track"): self._track}

    def _track(self, request: dict[str, Any]) -> tuple[int, Any]:
        parcel = str(request.get("parcel", "")).strip()
        self.requests.append(parcel)
        history = _HISTORY.get(parcel)
        if history is None:
            return 404, {"error": f"no parcel {parcel!r}"}
        return 200, {"parcel": parcel, **history}

    def __repr__(self) -> str:  # no port: run logs of two replays must be identical
        return "CarrierService()"


class CarrierAPI:
    """The ``track_parcel`` tool, bound to a :class:`CarrierService`."""

    def __init__(self, service: CarrierService) -> None:
        self.service = service

    @tool("track_parcel", timeout=CALL_TIMEOUT)
    async def track(self, parcel: str) -> dict[str, Any]:
        """The carrier's scan history of ``parcel``."""
        reply = call_service("GET", f"{self.service.base_url}/track?{query_string({'parcel': parcel})}")
        return reply if isinstance(reply, dict) else {}


# -- the circuit breaker (hardened) --------------------------------------------------------
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` seconds lets one probe through.

    Time is the event loop's clock (virtual under brownout), so a cool-down costs no wall time.
    """

    def __init__(self, threshold: int = BREAKER_THRESHOLD, cooldown: float = BREAKER_COOLDOWN) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if asyncio.get_running_loop().time() - self.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def allows(self) -> bool:
        """Whether a call may go out now (closed, or half-open for one probe)."""
        return self.state != "open"

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = asyncio.get_running_loop().time()


# -- agents --------------------------------------------------------------------------------
def _parse(reply: Any, parcel: str) -> Tracking:
    """The carrier's answer, validated; a malformed or mismatched answer is a failure like any other."""
    try:
        tracking = Tracking.model_validate(reply)
    except ValidationError as exc:
        raise CarrierUnavailable(
            f"the carrier's answer for {parcel} is malformed: {exc.errors()[0]['msg']}"
        ) from None
    if tracking.parcel != parcel:
        raise CarrierUnavailable(f"the carrier answered for {tracking.parcel}, not {parcel}")
    return tracking


async def _lookup(carrier: CarrierAPI, parcel: str) -> Tracking:
    """One call of the carrier's API, bounded by the tracker's timeout."""
    try:
        reply = await asyncio.wait_for(carrier.track(parcel), CALL_TIMEOUT)
    except Exception as exc:  # refused, reset, 5xx, timed out: any failed call is a failure
        raise CarrierUnavailable(f"track_parcel({parcel}) failed: {type(exc).__name__}") from exc
    return _parse(reply, parcel)


def _fallback_line(tracking: Tracking) -> str:
    last = tracking.events[-1]
    eta = f", expected {tracking.eta}" if tracking.eta else ""
    return f"{tracking.status.replace('_', ' ')}: {last.event} in {last.place} on {last.at}{eta}."


async def _describe(client: openai.AsyncOpenAI, tracking: Tracking) -> ParcelStatus:
    history = "\n".join(f"- {e.at} {e.event} ({e.place})" for e in tracking.events)
    text, _ = await chat(
        client,
        [
            {
                "role": "system",
                "content": "You are a parcel-tracking assistant. In one sentence, tell the customer where "
                "their parcel is now, from its latest scan.",
            },
            {"role": "user", "content": f"Parcel {tracking.parcel}, status {tracking.status}:\n{history}"},
        ],
        max_tokens=48,
    )
    summary = text if len(text) >= 15 else _fallback_line(tracking)
    return ParcelStatus(parcel=tracking.parcel, status=tracking.status, summary=summary)


async def _naive_tracker(client: openai.AsyncOpenAI, carrier: CarrierAPI, parcel: str) -> ParcelStatus:
    async with agent("tracker"):
        for attempt in range(NAIVE_ATTEMPTS):  # try again right away: it is probably a blip
            try:
                tracking = await _lookup(carrier, parcel)
            except CarrierUnavailable:
                if attempt == NAIVE_ATTEMPTS - 1:
                    raise
                continue
            return await _describe(client, tracking)
        raise AssertionError("unreachable")


async def _hardened_tracker(
    client: openai.AsyncOpenAI, carrier: CarrierAPI, parcel: str, breaker: CircuitBreaker
) -> ParcelStatus:
    async with agent("tracker"):
        for attempt, pause in enumerate((0.0, *BACKOFF)):
            if pause:
                await asyncio.sleep(pause)  # back off before calling a failing dependency again
            if not breaker.allows():
                raise CarrierUnavailable(f"the carrier's breaker is open after {breaker.failures} failures")
            try:
                tracking = await _lookup(carrier, parcel)
            except CarrierUnavailable:
                breaker.failure()
                if attempt == len(BACKOFF):
                    raise
                continue
            breaker.success()
            return await _describe(client, tracking)
        raise AssertionError("unreachable")


async def _reply(client: openai.AsyncOpenAI, request: TrackingRequest, found: list[ParcelStatus]) -> str:
    lines = "\n".join(f"- {p.parcel}: {p.summary}" for p in found) or "- (no tracking information)"
    text, _ = await chat(
        client,
        [
            {
                "role": "system",
                "content": "You are a friendly customer-support agent. Answer the customer in two or three "
                "sentences using only the tracking notes.",
            },
            {
                "role": "user",
                "content": f"Customer {request.customer} asks: {request.question}\nTracking notes:\n{lines}",
            },
        ],
        max_tokens=100,
    )
    return text if len(text) >= 20 else " ".join(f"{p.parcel}: {p.summary}" for p in found)


async def run(
    request: TrackingRequest = DEFAULT_REQUEST,
    *,
    carrier: CarrierService,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> TrackingResult:
    """Answer the customer's question about their parcels.

    Args:
        request: The customer, their question and their parcels.
        carrier: A running :class:`CarrierService` (the ``track_parcel`` tool calls it over HTTP).
        variant: ``"naive"`` (immediate retries at two layers) or ``"hardened"`` (one retry layer
            with backoff, and a circuit breaker that opens and reports).
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    api = CarrierAPI(carrier)
    async with llm_client(client) as llm, agent("support"):
        found: list[ParcelStatus] = []
        unavailable: list[str] = []
        errors: list[str] = []
        breaker = CircuitBreaker()
        for parcel in request.parcels:
            if variant == "naive":
                status = await _naive_support_lookup(llm, api, parcel, errors)
            else:
                status = await _hardened_support_lookup(llm, api, parcel, breaker, errors)
            if status is None:
                unavailable.append(parcel)
            else:
                found.append(status)
        reply = await _reply(llm, request, found)
        if unavailable:
            reply += (
                f" The carrier's tracking service is unavailable right now for {', '.join(unavailable)}; "
                "we will send you an update as soon as it is back."
            )
        return TrackingResult(
            status="degraded" if unavailable else "ok",
            reply=reply,
            parcels=found,
            unavailable=unavailable,
            errors=errors,
        )


async def _naive_support_lookup(
    client: openai.AsyncOpenAI, carrier: CarrierAPI, parcel: str, errors: list[str]
) -> ParcelStatus | None:
    for _ in range(NAIVE_TRACKER_RUNS):  # the tracker failed? run it again
        try:
            return await _naive_tracker(client, carrier, parcel)
        except (CarrierUnavailable, WorkerKilled) as exc:
            errors.append(f"{parcel}: {exc}")
    return None


async def _hardened_support_lookup(
    client: openai.AsyncOpenAI, carrier: CarrierAPI, parcel: str, breaker: CircuitBreaker, errors: list[str]
) -> ParcelStatus | None:
    if not breaker.allows():  # open: do not even start a tracker, report the parcel as unavailable
        errors.append(f"{parcel}: not looked up, the carrier's breaker is open")
        return None
    try:
        return await _hardened_tracker(client, carrier, parcel, breaker)
    except (CarrierUnavailable, WorkerKilled) as exc:  # one retry layer: the tracker's own
        errors.append(f"{parcel}: {exc}")
        return None
