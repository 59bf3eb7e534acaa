"""Matching: vcrpy's ``Cassette`` with a digest index, occurrence by occurrence, and misses decided."""

from __future__ import annotations

import difflib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import vcr.cassette
from vcr.record_mode import RecordMode

from harness._capture._context import current_frame, current_run
from harness._capture._llm import (
    Exchange,
    RequestKey,
    describe_request,
    is_llm_path,
)
from harness._cassette._recording import Recording, pretty, stored_request, stored_response
from harness._errors import CassetteError

if TYPE_CHECKING:
    from harness._cassette._cassette import Cassette

RECORD_MODES = ("none", "once", "new_episodes", "all")
MISS_POLICIES = ("strict", "nearest", "live")


class Decision:
    """What the cassette does with one request (kept on vcrpy's request object)."""

    __slots__ = ("action", "agent", "call", "exchange", "key", "occurrence", "owner", "recording")

    def __init__(
        self,
        owner: IndexedCassette,
        action: str,
        key: RequestKey,
        occurrence: int,
        exchange: Exchange | None,
        agent: str | None,
        call: int | None,
        recording: Recording | None = None,
    ) -> None:
        self.owner = owner
        self.action = action  # replay | substitute | miss | record | live
        self.key = key
        self.occurrence = occurrence
        self.exchange = exchange
        self.agent = agent
        self.call = call
        self.recording = recording


# -- the vcrpy cassette with a hash index ----------------------------------------------------
class IndexedCassette(vcr.cassette.Cassette):  # type: ignore[misc]
    """vcrpy's ``Cassette`` with matching through a digest index, occurrence by occurrence.

    vcrpy's httpx stubs call :meth:`can_play_response_for`, :meth:`play_response` and
    :meth:`append`; everything else about vcrpy (its stubs' (de)serialisation) is reused.
    """

    def __init__(self, owner: Cassette) -> None:
        super().__init__(str(owner.path), record_mode=RecordMode.NONE)
        self.owner = owner
        self.interactions: list[Recording] = []
        self.index: dict[str, list[Recording]] = {}
        self.seen: dict[str, int] = defaultdict(int)
        self.fresh: set[str] = set()
        self._by_position: dict[tuple[str | None, int | None], Recording] | None = None
        # closest() per (digest, agent, call): under --chaos the same missed request recurs in
        # many examples, and each diff over the recordings costs ~0.1 s. Cleared on any change.
        self._closest: dict[tuple[str, str | None, int | None], Recording | None] = {}

    # vcrpy's own load/save are replaced by the owner's JSON file handling.
    def _load(self) -> None:
        return None

    def _save(self, force: bool = False) -> None:
        return None

    @property
    def write_protected(self) -> bool:
        # Misses are decided (and raised) here, never by vcrpy's CannotOverwrite path.
        return False

    def filter_request(self, request: Any) -> Any:
        return request

    def __len__(self) -> int:
        return len(self.interactions)

    def __contains__(self, request: Any) -> bool:
        decision = getattr(request, "_brownout", None)
        return decision is not None and decision.action in ("replay", "substitute")

    # -- index -------------------------------------------------------------------------
    def add_loaded(self, items: list[Any]) -> None:
        self._closest.clear()
        source = str(self.owner.path)
        for number, item in enumerate(items):
            if isinstance(item, Recording):
                recording = item
            else:
                try:
                    recording = Recording(item, source=source)
                except (KeyError, TypeError):
                    raise CassetteError(
                        f"{self.owner.path}: interaction #{number} is not an object with a 'digest' "
                        f"(got {str(item)[:80]!r}). The file was edited by hand or written by another tool; "
                        f"delete it and re-record with {self.owner.record_command}."
                    ) from None
            self.index.setdefault(recording.digest, []).append(recording)
            self.interactions.append(recording)
        for recordings in self.index.values():
            if len(recordings) > 1:
                recordings.sort(key=lambda r: r.occurrence)
            # Replay is positional (the n-th request gets the n-th recording); number the
            # recordings 1..k in memory so new ones slot in after them even when the file
            # has gaps (a request that failed while recording) or no numbers.
            for position, recording in enumerate(recordings, 1):
                recording.occurrence = position

    # -- decisions ---------------------------------------------------------------------
    def decide(self, request: Any, exchange: Exchange | None) -> Decision | None:
        """What to do with a request: from the capture layer's ``exchange`` when there is one
        (its digest and sending number are already known, so ``request`` is not read), else
        from vcrpy's ``request``."""
        owner = self.owner
        if exchange is not None:
            key, agent, call = exchange.key, exchange.agent, exchange.call
        else:
            if not is_llm_path(request.path):
                return None
            body = request.body_bytes if isinstance(request.body_bytes, bytes) else None
            key = describe_request(request.method, request.path, request.parsed_uri.query, body)
            frame = current_frame()
            agent, call = (frame.name if frame else None), None
        with owner.lock:
            if exchange is not None and exchange.cassette_occurrence is not None:
                n = exchange.cassette_occurrence  # numbered in sending order by the capture layer
            else:
                self.seen[key.digest] += 1
                n = self.seen[key.digest]
            recordings = self.index.get(key.digest)
            if owner.record_mode != "all" and recordings and n <= len(recordings):
                action, recording = "replay", recordings[n - 1]
            elif owner.writable or owner.miss == "live":
                action, recording = "record", None
            else:
                recording = None
                if owner.miss == "nearest":
                    # An identical request asked more often than recorded (the SDK's retry after a
                    # fault cut the reply): its own last recording is the nearest; else by position.
                    # A path the fault changed: the same agent's recording at that call, else at
                    # its nearest earlier call (an SDK retry moves the position on).
                    recording = recordings[-1] if recordings else self.nearest(agent, call)
                    position = call
                    while recording is None and isinstance(position, int) and position > 1:
                        position -= 1
                        recording = self.nearest(agent, position)
                    if recording is None:
                        # No recording of this agent at all (renamed, or a path the fault opened):
                        # the closest recorded request by content, marked substituted like the rest.
                        recording = self.closest(key, agent, call)
                action = "substitute" if recording is not None else "miss"
        return Decision(self, action, key, n, exchange, agent, call, recording)

    def nearest(self, agent: str | None, call: int | None) -> Recording | None:
        """The recording of the same agent at the same call position (see :meth:`closest` for the rest)."""
        if self._by_position is None:
            positions: dict[tuple[str | None, int | None], Recording] = {}
            for recording in self.interactions:
                positions.setdefault((recording.data.get("agent"), recording.data.get("call")), recording)
            self._by_position = positions
        found = self._by_position.get((agent, call))
        return found

    def closest(self, key: RequestKey, agent: str | None, call: int | None) -> Recording | None:
        """The recorded request most similar to ``key``'s (by diff of the canonical JSON)."""
        if not self.interactions:
            return None
        cached = (key.digest, agent, call)
        if cached not in self._closest:
            self._closest[cached] = self._closest_uncached(key, agent, call)
        return self._closest[cached]

    def _closest_uncached(self, key: RequestKey, agent: str | None, call: int | None) -> Recording | None:
        same_position = self.nearest(agent, call)
        wanted = pretty(key.canonical)
        first_of_digest: dict[str, Recording] = {}
        for recording in self.interactions:
            first_of_digest.setdefault(recording.digest, recording)
        # Same endpoint first; the diff decides among them.
        candidates = sorted(first_of_digest.values(), key=lambda r: r.canonical().get("path") != key.path)
        scored: list[tuple[float, int, Recording]] = []
        for position, recording in enumerate(candidates[:2000]):
            matcher = difflib.SequenceMatcher(None, pretty(recording.canonical()), wanted, autojunk=False)
            scored.append((matcher.quick_ratio(), -position, recording))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        best: tuple[float, Recording] | None = None
        for _, _, recording in scored[:5]:
            ratio = difflib.SequenceMatcher(
                None, pretty(recording.canonical()), wanted, autojunk=False
            ).ratio()
            if recording is same_position:
                ratio += 0.05  # prefer the same agent at the same position on near-ties
            if best is None or ratio > best[0]:
                best = (ratio, recording)
        return best[1] if best else same_position

    # -- vcrpy's interface -------------------------------------------------------------
    def can_play_response_for(self, request: Any) -> bool:
        decision: Decision | None = getattr(request, "_brownout", None)
        return decision is not None and decision.action in ("replay", "substitute", "miss")

    def play_response(self, request: Any) -> dict[str, Any]:
        return self.served(request._brownout).reply()

    def served(self, decision: Decision) -> Recording:
        """The recording that answers a replay/substitute decision; a miss raises its error."""
        if decision.action == "miss":
            error = self.owner.miss_error(decision)
            run = decision.exchange.ctx if decision.exchange is not None else current_run()
            if run is not None:
                run.fail(error)
            raise error
        assert decision.recording is not None
        if decision.exchange is not None:
            decision.exchange.source = "replayed" if decision.action == "replay" else "substituted"
            if decision.action == "substitute":
                decision.exchange.substituted_for = decision.recording.digest
        return decision.recording

    def append(self, request: Any, response: dict[str, Any]) -> None:
        decision: Decision | None = getattr(request, "_brownout", None)
        if decision is None or decision.action != "record":
            return
        data = {
            "digest": decision.key.digest,
            "agent": decision.agent,
            "call": decision.call,
            "occurrence": decision.occurrence,
            "request": stored_request(request, decision.key),
            "response": stored_response(response),
        }
        self.owner.add_interaction(Recording(data), decision.occurrence)

    def reset(self) -> None:
        self.seen.clear()
