"""Cassettes: recorded LLM traffic plus recorded tool results, replayed by request digest.

A :class:`Cassette` is one JSON file (one per test, or one per recorded production run)::

    {"format": "brownout-cassette", "version": 1,
     "interactions": [{"digest", "agent", "call", "occurrence",
                       "request": {"method", "uri", "headers", "body"},
                       "response": {"status", "headers", "body", "encoding"}}, ...],
     "tools": [{"name", "digest", "occurrence", "args", "result" | "error"/"error_type"}, ...]}

HTTP interception and (de)serialisation are vcrpy's: its httpx/httpx2 transport stubs
call :class:`_IndexedCassette`, a vcrpy ``Cassette`` subclass whose matching is a dict
from request digest to recordings instead of vcrpy's linear scan. Matching is
occurrence-indexed: within a run, the n-th identical request gets the n-th recording,
where requests are numbered in the order they are *sent* (handed to the transport, see
:class:`~harness._capture._llm.Exchange`), so overlapping identical requests keep their numbers
whichever reply arrives first.

Record modes have vcrpy's meanings: ``none`` replays only, ``once`` records only when the
file did not exist, ``new_episodes`` replays what is recorded and records the rest,
``all`` re-records everything. A request the cassette cannot answer (a *miss*) follows
the miss policy: ``strict`` raises :class:`~harness.CassetteMiss`, ``nearest`` serves the
recording of the same agent at the same call position (else the closest by diff),
``live`` calls the real endpoint and appends the answer.

Before anything is written, secrets are scrubbed (``Authorization``/api-key headers,
key-like query parameters and JSON fields, tool arguments). Saving is atomic (temp file
and ``os.replace``) under a file lock, so pytest-xdist workers and a killed writer never
leave a half-written cassette.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import json
import os
import re
import shlex
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import vcr.cassette
from filelock import FileLock
from vcr.filters import decode_response
from vcr.record_mode import RecordMode

from harness._capture._context import ToolSite, current_frame, current_run
from harness._capture._llm import (
    VOLATILE_BODY_FIELDS,
    Exchange,
    RequestKey,
    current_exchange,
    describe_request,
    is_llm_path,
    redact_query,
)
from harness._errors import CassetteError, CassetteMiss, ConfigError, ReplayDivergence
from harness._log._digest import digest as _digest
from harness._log._secrets import REDACTED, is_secret_name, scrub, scrub_text

__all__ = ["FORMAT", "FORMAT_VERSION", "Cassette", "load_cassette_file"]

FORMAT = "brownout-cassette"
FORMAT_VERSION = 1
RECORD_MODES = ("none", "once", "new_episodes", "all")
MISS_POLICIES = ("strict", "nearest", "live")

# Request headers that change from call to call (or identify the client build), so they
# are neither matched nor stored; secret-named ones are stored redacted.
_VOLATILE_REQUEST_HEADERS = frozenset(
    {
        "content-length",
        "host",
        "connection",
        "accept-encoding",
        "user-agent",
        "idempotency-key",
        "traceparent",
        "tracestate",
        "cookie",
        "date",
    }
)
_VOLATILE_RESPONSE_HEADERS = frozenset(
    {
        "date",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "content-encoding",
        "set-cookie",
        "server",
        "alt-svc",
        "cf-ray",
        "x-request-id",
        "openai-processing-ms",
        "x-envoy-upstream-service-time",
    }
)


# -- recordings ----------------------------------------------------------------------------
class _Recording:
    """One recorded interaction; parsed on first use, its replayable response built once."""

    __slots__ = ("_data", "_pieces", "_raw", "_reply", "digest", "occurrence", "source")

    def __init__(
        self,
        data: dict[str, Any] | None,
        *,
        raw: bytes | memoryview | None = None,
        digest: str | None = None,
        occurrence: int = 0,
        source: str = "",
    ) -> None:
        self._data = data
        self._raw = raw
        self._reply: dict[str, Any] | None = None
        self._pieces: tuple[int, list[tuple[str, str]], bytes] | None = None
        self.source = source
        if data is not None:
            self.digest = str(data["digest"])
            occ = data.get("occurrence", 0)
            self.occurrence = occ if isinstance(occ, int) else 0
        else:
            self.digest = digest or ""
            self.occurrence = occurrence

    @classmethod
    def lazy(cls, raw: memoryview, digest: str, occurrence: int, source: str) -> _Recording:
        """An interaction not parsed yet (the fast path of loading a large cassette)."""
        recording = cls.__new__(cls)
        recording._data, recording._raw, recording._reply, recording._pieces = None, raw, None, None
        recording.digest, recording.occurrence, recording.source = digest, occurrence, source
        return recording

    @property
    def data(self) -> dict[str, Any]:
        """The interaction as stored in the file."""
        if self._data is None:
            try:
                data = orjson.loads(self._raw or b"")
            except orjson.JSONDecodeError as exc:
                raise CassetteError(
                    f"{self.source}: interaction with digest {self.digest} is not valid JSON ({exc}). "
                    "The file was edited by hand; delete it and re-record."
                ) from None
            if not isinstance(data, dict) or data.get("digest") != self.digest:
                raise CassetteError(f"{self.source}: interaction with digest {self.digest} is malformed.")
            self._data, self._raw = data, None
        return self._data

    def reply(self) -> dict[str, Any]:
        """The response in vcrpy's serialised form (what its httpx stubs deserialise)."""
        if self._reply is None:
            response = self.data["response"]
            headers: dict[str, list[str]] = {}
            for name, value in (response.get("headers") or {}).items():
                headers[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            self._reply = {
                "status": {"code": int(response.get("status", 200)), "message": ""},
                "headers": headers,
                "body": {"string": _body_bytes(response)},
            }
        return self._reply

    def pieces(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, header pairs and body bytes of the response, as vcrpy's stubs deserialise them."""
        if self._pieces is None:
            reply = self.reply()
            headers = [(name, value) for name, values in reply["headers"].items() for value in values]
            self._pieces = (reply["status"]["code"], headers, reply["body"]["string"])
        return self._pieces

    def canonical(self) -> dict[str, Any]:
        """The canonical request (as hashed for the digest) rebuilt from the stored request."""
        request = self.data.get("request") or {}
        parts = urlsplit(str(request.get("uri", "")))
        body = request.get("body")
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in VOLATILE_BODY_FIELDS}
        canonical: dict[str, Any] = {
            "method": str(request.get("method", "POST")).upper(),
            "path": parts.path,
            "body": body,
        }
        key = describe_request("GET", parts.path, parts.query, None)
        if key.query:
            canonical["query"] = [list(p) for p in key.query]
        return canonical


def _body_bytes(response: dict[str, Any]) -> bytes:
    body = response.get("body")
    encoding = response.get("encoding", "json")
    if body is None:
        return b""
    if encoding == "json":
        return orjson.dumps(body)
    if encoding == "base64":
        return base64.b64decode(str(body))
    return str(body).encode("utf-8")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class _Decision:
    """What the cassette does with one request (kept on vcrpy's request object)."""

    __slots__ = ("action", "agent", "call", "exchange", "key", "occurrence", "owner", "recording")

    def __init__(
        self,
        owner: _IndexedCassette,
        action: str,
        key: RequestKey,
        occurrence: int,
        exchange: Exchange | None,
        agent: str | None,
        call: int | None,
        recording: _Recording | None = None,
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
class _IndexedCassette(vcr.cassette.Cassette):  # type: ignore[misc]
    """vcrpy's ``Cassette`` with matching through a digest index, occurrence by occurrence.

    vcrpy's httpx stubs call :meth:`can_play_response_for`, :meth:`play_response` and
    :meth:`append`; everything else about vcrpy (its stubs' (de)serialisation) is reused.
    """

    def __init__(self, owner: Cassette) -> None:
        super().__init__(str(owner.path), record_mode=RecordMode.NONE)
        self.owner = owner
        self.interactions: list[_Recording] = []
        self.index: dict[str, list[_Recording]] = {}
        self.seen: dict[str, int] = defaultdict(int)
        self.fresh: set[str] = set()
        self._by_position: dict[tuple[str | None, int | None], _Recording] | None = None
        # closest() per (digest, agent, call): under --chaos the same missed request recurs in
        # many examples, and each diff over the recordings costs ~0.1 s. Cleared on any change.
        self._closest: dict[tuple[str, str | None, int | None], _Recording | None] = {}

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
            if isinstance(item, _Recording):
                recording = item
            else:
                try:
                    recording = _Recording(item, source=source)
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
    def decide(self, request: Any, exchange: Exchange | None) -> _Decision | None:
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
                    while recording is None and isinstance(call, int) and call > 1:
                        call -= 1
                        recording = self.nearest(agent, call)
                action = "substitute" if recording is not None else "miss"
        return _Decision(self, action, key, n, exchange, agent, call, recording)

    def nearest(self, agent: str | None, call: int | None) -> _Recording | None:
        """The recording of the same agent at the same call position, else the closest by diff."""
        if self._by_position is None:
            positions: dict[tuple[str | None, int | None], _Recording] = {}
            for recording in self.interactions:
                positions.setdefault((recording.data.get("agent"), recording.data.get("call")), recording)
            self._by_position = positions
        found = self._by_position.get((agent, call))
        return found

    def closest(self, key: RequestKey, agent: str | None, call: int | None) -> _Recording | None:
        """The recorded request most similar to ``key``'s (by diff of the canonical JSON)."""
        if not self.interactions:
            return None
        cached = (key.digest, agent, call)
        if cached not in self._closest:
            self._closest[cached] = self._closest_uncached(key, agent, call)
        return self._closest[cached]

    def _closest_uncached(self, key: RequestKey, agent: str | None, call: int | None) -> _Recording | None:
        same_position = self.nearest(agent, call)
        wanted = _pretty(key.canonical)
        first_of_digest: dict[str, _Recording] = {}
        for recording in self.interactions:
            first_of_digest.setdefault(recording.digest, recording)
        # Same endpoint first; the diff decides among them.
        candidates = sorted(first_of_digest.values(), key=lambda r: r.canonical().get("path") != key.path)
        scored: list[tuple[float, int, _Recording]] = []
        for position, recording in enumerate(candidates[:2000]):
            matcher = difflib.SequenceMatcher(None, _pretty(recording.canonical()), wanted, autojunk=False)
            scored.append((matcher.quick_ratio(), -position, recording))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        best: tuple[float, _Recording] | None = None
        for _, _, recording in scored[:5]:
            ratio = difflib.SequenceMatcher(
                None, _pretty(recording.canonical()), wanted, autojunk=False
            ).ratio()
            if recording is same_position:
                ratio += 0.05  # prefer the same agent at the same position on near-ties
            if best is None or ratio > best[0]:
                best = (ratio, recording)
        return best[1] if best else same_position

    # -- vcrpy's interface -------------------------------------------------------------
    def can_play_response_for(self, request: Any) -> bool:
        decision: _Decision | None = getattr(request, "_brownout", None)
        return decision is not None and decision.action in ("replay", "substitute", "miss")

    def play_response(self, request: Any) -> dict[str, Any]:
        return self.served(request._brownout).reply()

    def served(self, decision: _Decision) -> _Recording:
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
        decision: _Decision | None = getattr(request, "_brownout", None)
        if decision is None or decision.action != "record":
            return
        data = {
            "digest": decision.key.digest,
            "agent": decision.agent,
            "call": decision.call,
            "occurrence": decision.occurrence,
            "request": _stored_request(request, decision.key),
            "response": _stored_response(response),
        }
        self.owner.add_interaction(_Recording(data), decision.occurrence)

    def reset(self) -> None:
        self.seen.clear()


def _stored_request(request: Any, key: RequestKey) -> dict[str, Any]:
    parts = urlsplit(str(request.uri))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"  # credentials in the URL are dropped
    uri = urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), ""))
    headers: dict[str, str] = {}
    for name, value in dict(request.headers).items():
        lower = str(name).lower()
        if lower in _VOLATILE_REQUEST_HEADERS or lower.startswith("x-stainless-"):
            continue
        text = ", ".join(value) if isinstance(value, list) else str(value)
        headers[lower] = REDACTED if is_secret_name(lower) else scrub_text(text)
    return {"method": key.method, "uri": uri, "headers": headers, "body": key.body}


def _stored_response(response: dict[str, Any]) -> dict[str, Any]:
    response = decode_response(response)
    headers: dict[str, Any] = {}
    content_type = ""
    for name, values in (response.get("headers") or {}).items():
        lower = str(name).lower()
        if lower == "content-type":
            content_type = str(values[0] if isinstance(values, list) and values else values)
        if lower in _VOLATILE_RESPONSE_HEADERS:
            continue
        vals = [
            REDACTED if is_secret_name(lower) else scrub_text(str(v))
            for v in (values if isinstance(values, list) else [values])
        ]
        headers[lower] = vals[0] if len(vals) == 1 else vals
    raw = response["body"]["string"]
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    stored: dict[str, Any] = {"status": int(response["status"]["code"]), "headers": headers}
    if "json" in content_type.lower():
        try:
            stored["body"], stored["encoding"] = scrub(orjson.loads(raw)), "json"
            return stored
        except orjson.JSONDecodeError:
            pass
    try:
        stored["body"], stored["encoding"] = scrub_text(raw.decode("utf-8")), "text"
    except UnicodeDecodeError:
        stored["body"], stored["encoding"] = base64.b64encode(raw).decode("ascii"), "base64"
    return stored


# -- routing: one set of transport patches for every cassette --------------------------------
def _owner_for(request_path: str) -> tuple[_IndexedCassette | None, Exchange | None]:
    exchange = current_exchange()
    if exchange is not None:
        cassette = exchange.ctx.cassette
        if isinstance(cassette, Cassette):
            return cassette._vcr, exchange
        return None, None
    run = current_run()
    if run is not None and isinstance(run.cassette, Cassette) and is_llm_path(request_path):
        return run.cassette._vcr, None
    return None, None


class _Router:
    """The "cassette" vcrpy's stubs talk to: hands each request to its run's cassette."""

    write_protected = False

    def can_play_response_for(self, request: Any) -> bool:
        owner, exchange = _owner_for(request.path)
        if owner is None:
            request._brownout = None
            return False
        decided = exchange.decision if exchange is not None else None
        request._brownout = decided if decided is not None else owner.decide(request, exchange)
        return owner.can_play_response_for(request)

    def play_response(self, request: Any) -> dict[str, Any]:
        return request._brownout.owner.play_response(request)  # type: ignore[no-any-return]

    def filter_request(self, request: Any) -> Any:
        return None  # never reached: write_protected is False

    def append(self, request: Any, response: dict[str, Any]) -> None:
        decision = getattr(request, "_brownout", None)
        if decision is not None:
            decision.owner.append(request, response)


_ROUTER = _Router()
_ROUTER_LOCK = threading.Lock()
_ROUTER_DEPTH = 0
_ROUTER_SAVED: list[tuple[Any, str, Any]] = []


def _transport_patches() -> Iterator[tuple[Any, str, Any]]:
    """(class, attribute, replacement) for the httpx/httpx2 transports vcrpy knows.

    A request that belongs to no cassette goes straight to the original transport (vcrpy's
    stub would buffer the whole response, which a non-LLM stream must not suffer).
    """
    from vcr.stubs.httpx_stubs import vcr_handle_async_request, vcr_handle_request

    modules: list[Any] = []
    for name in ("httpx2", "httpx"):
        try:
            modules.append(__import__(name))
        except ImportError:
            continue
    for module in modules:
        for cls_name in ("HTTPTransport", "WSGITransport", "MockTransport"):
            cls = getattr(module, cls_name, None)
            if cls is None or not hasattr(cls, "handle_request"):
                continue
            original = cls.__dict__.get("handle_request", cls.handle_request)
            yield (
                cls,
                "handle_request",
                _sync_patch(original, vcr_handle_request(_ROUTER, original, module), module),
            )
        for cls_name in ("AsyncHTTPTransport", "ASGITransport", "MockTransport"):
            cls = getattr(module, cls_name, None)
            if cls is None or not hasattr(cls, "handle_async_request"):
                continue
            original = cls.__dict__.get("handle_async_request", cls.handle_async_request)
            yield (
                cls,
                "handle_async_request",
                _async_patch(original, vcr_handle_async_request(_ROUTER, original, module), module),
            )


def _replayed(owner: _IndexedCassette, exchange: Exchange, module: Any) -> Any:
    """The response for a request the capture layer described, or ``None`` to go through vcrpy.

    The capture layer has already parsed the body and taken its digest, and replaying
    needs nothing from the request but that; so a replayed (or substituted) reply is
    built here from the recording's cached pieces, the way vcrpy's stub deserialises
    it, without vcrpy re-reading the request into a ``vcr.request.Request`` (about a
    tenth of a replayed SDK call). Requests to record, and requests the capture layer did
    not see, take vcrpy's stub.
    """
    decision = exchange.decision = owner.decide(None, exchange)
    if decision is None or decision.action == "record":
        return None
    status, headers, body = owner.served(decision).pieces()
    return module.Response(status, headers=headers, stream=module.ByteStream(body))


def _sync_patch(original: Callable[..., Any], stub: Callable[..., Any], module: Any) -> Callable[..., Any]:
    def handle_request(self: Any, request: Any) -> Any:
        owner, exchange = _owner_for(request.url.path)
        if owner is None:
            return original(self, request)
        if exchange is not None:
            response = _replayed(owner, exchange, module)
            if response is not None:
                return response
        return stub(self, request)

    handle_request.__brownout__ = True  # type: ignore[attr-defined]
    return handle_request


def _async_patch(original: Callable[..., Any], stub: Callable[..., Any], module: Any) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        owner, exchange = _owner_for(request.url.path)
        if owner is None:
            return await original(self, request)
        if exchange is not None:
            response = _replayed(owner, exchange, module)
            if response is not None:
                return response
        return await stub(self, request)

    handle_async_request.__brownout__ = True  # type: ignore[attr-defined]
    return handle_async_request


def _install_router() -> None:
    global _ROUTER_DEPTH
    with _ROUTER_LOCK:
        if _ROUTER_DEPTH == 0:
            for cls, attr, replacement in _transport_patches():
                _ROUTER_SAVED.append((cls, attr, cls.__dict__.get(attr)))
                setattr(cls, attr, replacement)
        _ROUTER_DEPTH += 1


def _uninstall_router() -> None:
    global _ROUTER_DEPTH
    with _ROUTER_LOCK:
        _ROUTER_DEPTH -= 1
        if _ROUTER_DEPTH == 0:
            for cls, attr, saved in reversed(_ROUTER_SAVED):
                if saved is None:
                    delattr(cls, attr)
                else:
                    setattr(cls, attr, saved)
            _ROUTER_SAVED.clear()


# -- files ----------------------------------------------------------------------------------
def load_cassette_file(path: Path, *, record_command: str = "", lazy: bool = False) -> dict[str, Any] | None:
    """Parse a cassette file; ``None`` if it does not exist. Any defect is a :class:`CassetteError`.

    With ``lazy``, a file in the layout brownout writes is indexed without parsing its
    interactions (``doc["interactions"]`` then holds unparsed :class:`_Recording` objects):
    materialising every interaction of a large cassette costs more than reading it.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise CassetteError(f"{path}: is a directory, not a cassette file.") from None
    fix = f" Delete it and re-record with {record_command}." if record_command else ""
    if lazy:
        doc = _lazy_document(raw, str(path))
        if doc is not None:
            return _checked(doc, path, fix)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CassetteError(
            f"{path}: not valid JSON ({exc}). A cassette is written atomically, so this file was "
            f"edited by hand or produced by another tool.{fix}"
        ) from None
    return _checked(doc, path, fix)


def _checked(doc: Any, path: Path, fix: str) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CassetteError(
            f"{path}: format {got!r} is not a brownout cassette (expected {FORMAT!r}). Is this a plain "
            f"vcrpy cassette? brownout cassettes are recorded by the `chaos` fixture or harness.record.{fix}"
        )
    if doc.get("version") != FORMAT_VERSION:
        raise CassetteError(
            f"{path}: cassette version {doc.get('version')!r}; this brownout reads version "
            f"{FORMAT_VERSION}.{fix}"
        )
    if not isinstance(doc.get("interactions", []), list) or not isinstance(doc.get("tools", []), list):
        raise CassetteError(f"{path}: 'interactions' and 'tools' must be lists.{fix}")
    return doc


# The layout _dump writes (orjson, indent 2, sorted keys): top-level keys in order format,
# interactions, tools, version; each interaction an object at indent 4 whose keys are at
# indent 6. JSON strings never hold a raw newline, so these markers cannot occur inside values.
_HEAD = b'{\n  "format": "brownout-cassette",\n  "interactions": ['
_ITEM_END = b"\n    }"
_LIST_END = b"\n  ],\n"
# The head of one interaction (keys sorted: agent, call, digest, occurrence, ...), matched
# where an item starts: its digest and occurrence without reading the rest of it.
_ITEM_HEAD = re.compile(
    rb'\n    \{\n(?:      "agent": [^\n]*\n)?(?:      "call": [^\n]*\n)?'
    rb'      "digest": "([^"\n]*)"(?:,\n      "occurrence": (\d+))?'
)


def _lazy_document(raw: bytes, source: str) -> dict[str, Any] | None:
    """Index a cassette in brownout's own layout without parsing each interaction; else ``None``."""
    if not raw.startswith(_HEAD):
        return None
    pos = len(_HEAD)
    recordings: list[_Recording] = []
    view = memoryview(raw)  # interactions keep zero-copy slices until they are parsed
    if raw.startswith(b"],\n", pos):
        rest_at = pos + 3
    else:
        end_of_list = raw.find(_LIST_END, pos)
        if end_of_list < 0:
            return None
        find, head = raw.find, _ITEM_HEAD.match
        lazy, add = _Recording.lazy, recordings.append
        while pos < end_of_list:
            match = head(raw, pos, end_of_list)
            if match is None:
                return None
            end = find(_ITEM_END, match.end(), end_of_list + 1)
            if end < 0:
                return None
            end += 6  # len(_ITEM_END)
            occurrence = match[2]
            add(lazy(view[pos + 1 : end], match[1].decode("ascii", "replace"), int(occurrence or 0), source))
            pos = end + 1 if raw.startswith(b",", end) else end
        rest_at = end_of_list + len(_LIST_END)
    try:
        rest = orjson.loads(b'{\n  "interactions": [],\n' + raw[rest_at:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(rest, dict):
        return None
    rest["format"] = FORMAT
    rest["interactions"] = recordings
    return rest


def _lock_path(path: Path) -> Path:
    # Outside the cassette directory, so no lock files end up next to committed cassettes.
    return Path(tempfile.gettempdir()) / f"brownout-cassette-{_digest(str(path.resolve()))}.lock"


def _dump(doc: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    except TypeError:  # e.g. an int beyond 64 bits in a tool result
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=repr) + "\n").encode()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# -- the cassette -------------------------------------------------------------------------
class Cassette:
    """One cassette file: recorded LLM interactions and tool results, replayed by digest.

    Open once per test (or recorded run) and shared by all of its runs; use it as a
    context manager around *each* run (entering resets the occurrence counters, so every
    run replays from the first recording), and :meth:`close` it at the end, which saves
    it if anything new was recorded.

    Args:
        path: The cassette file.
        record_mode: ``none`` (replay only), ``once``, ``new_episodes`` or ``all``.
        miss: What a request without a recording does: ``strict``, ``nearest`` or ``live``.
        nodeid: The pytest node id, for the command printed on a miss.
        record_command: The command that records a missing request (default: derived from
            ``nodeid``).
        fresh: Ignore an existing file: start empty and overwrite it on close.
        tool_miss: ``run`` executes a tool whose result is not recorded; ``refuse`` raises
            :class:`~harness.ReplayDivergence` for a side-effecting one instead (production replay).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        record_mode: str = "none",
        miss: str = "strict",
        nodeid: str | None = None,
        record_command: str | None = None,
        fresh: bool = False,
        tool_miss: str = "run",
    ) -> None:
        if record_mode not in RECORD_MODES:
            raise ConfigError(
                f"Cassette(record_mode={record_mode!r}): not a record mode. "
                f"Accepted: {', '.join(RECORD_MODES)}."
            )
        if miss not in MISS_POLICIES:
            raise ConfigError(
                f"Cassette(miss={miss!r}): not a miss policy. Accepted: {', '.join(MISS_POLICIES)}."
            )
        if tool_miss not in ("run", "refuse"):
            raise ConfigError(f"Cassette(tool_miss={tool_miss!r}): accepted values are 'run' and 'refuse'.")
        self.path = Path(path)
        self.record_mode = record_mode
        self.miss = miss
        self.nodeid = nodeid
        self.tool_miss = tool_miss
        if record_command is None:
            record_command = (
                f"pytest {shlex.quote(nodeid)} --chaos-record-mode=new_episodes"
                if nodeid
                else "a new recording of the run (harness.record(path) or BROWNOUT_RECORD=<dir>)"
            )
        self.record_command = record_command
        self.lock = threading.RLock()
        self._vcr = _IndexedCassette(self)
        self._tools: list[dict[str, Any]] = []
        self._tool_index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._fresh_tools: set[tuple[str, str]] = set()
        self._dirty = False
        self._active = 0
        self._loaded_stat: tuple[int, int] | None = None
        self.existed = False
        if not fresh:
            self._load()

    # -- loading -------------------------------------------------------------------------
    def _load(self) -> None:
        doc = load_cassette_file(self.path, record_command=self.record_command, lazy=True)
        if doc is None:
            return
        self.existed = True
        stat = self.path.stat()
        self._loaded_stat = (stat.st_mtime_ns, stat.st_size)
        self._vcr.add_loaded(doc.get("interactions", []))
        for entry in doc.get("tools", []):
            if not isinstance(entry, dict) or "name" not in entry or "digest" not in entry:
                raise CassetteError(
                    f"{self.path}: tool entry {str(entry)[:80]!r} lacks 'name'/'digest'. Delete the cassette "
                    f"and re-record with {self.record_command}."
                )
            self._tools.append(entry)
            self._tool_index.setdefault((entry["name"], entry["digest"]), []).append(entry)

    @property
    def writable(self) -> bool:
        """Whether new recordings may be added under the record mode."""
        return self.record_mode in ("new_episodes", "all") or (
            self.record_mode == "once" and not self.existed
        )

    @property
    def interactions(self) -> list[dict[str, Any]]:
        """The recorded interactions, as stored."""
        return [r.data for r in self._vcr.interactions]

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The recorded tool results, as stored."""
        return list(self._tools)

    def __len__(self) -> int:
        return len(self._vcr.interactions)

    def __repr__(self) -> str:
        return (
            f"Cassette({str(self.path)!r}, record_mode={self.record_mode!r}, miss={self.miss!r}, "
            f"interactions={len(self)}, tools={len(self._tools)})"
        )

    # -- runs ----------------------------------------------------------------------------
    def __enter__(self) -> Cassette:
        with self.lock:
            if self._active == 0:
                self._vcr.reset()
            self._active += 1
        _install_router()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _uninstall_router()
        with self.lock:
            self._active -= 1

    # -- recording -----------------------------------------------------------------------
    def add_interaction(self, recording: _Recording, occurrence: int) -> None:
        vcr = self._vcr
        digest = recording.digest
        with self.lock:
            recordings = vcr.index.setdefault(digest, [])
            if self.record_mode == "all" and digest not in vcr.fresh:
                vcr.fresh.add(digest)
                if recordings:
                    stale = set(map(id, recordings))
                    vcr.interactions = [r for r in vcr.interactions if id(r) not in stale]
                    recordings.clear()
            # Keep the digest's recordings ordered by occurrence: overlapping identical
            # requests finish in any order, and each keeps the number it was sent with.
            recording.occurrence = occurrence
            position = len(recordings)
            while position and recordings[position - 1].occurrence > occurrence:
                position -= 1
            if position and recordings[position - 1].occurrence == occurrence:
                if self.record_mode != "all":
                    return  # already recorded (another run of this cassette sent it too)
                old = recordings[position - 1]
                recordings[position - 1] = recording
                vcr.interactions = [recording if r is old else r for r in vcr.interactions]
            else:
                recordings.insert(position, recording)
                vcr.interactions.append(recording)
            vcr._by_position = None
            vcr._closest.clear()
            self._dirty = True

    def record_tool(
        self,
        name: str,
        digest: str,
        site: ToolSite,
        result: Any,
        error: str | None,
        error_type: str | None,
        seq: int,
    ) -> None:
        """Record one tool call's result (or error), if the record mode allows recording."""
        if not (self.writable or self.miss == "live"):
            return
        entry: dict[str, Any] = {
            "name": name,
            "digest": digest,
            "occurrence": site.attempt,
            "args": scrub(site.args),
        }
        if error is not None or error_type is not None:
            entry["error"] = error
            entry["error_type"] = error_type
        else:
            entry["result"] = scrub(result)
        key = (name, digest)
        with self.lock:
            entries = self._tool_index.setdefault(key, [])
            if self.record_mode == "all" and key not in self._fresh_tools:
                self._fresh_tools.add(key)
                if entries:
                    stale = set(map(id, entries))
                    self._tools = [e for e in self._tools if id(e) not in stale]
                    entries.clear()
            if site.attempt <= len(entries):
                if self.record_mode != "all":
                    return
                old = entries[site.attempt - 1]
                entries[site.attempt - 1] = entry
                self._tools = [entry if e is old else e for e in self._tools]
            else:
                entries.append(entry)
                self._tools.append(entry)
            self._dirty = True

    def replay_tool(self, name: str, digest: str, site: ToolSite) -> tuple[bool, Any]:
        """``(True, result)`` for a recorded call (raising a recorded error), else ``(False, None)``."""
        from harness._capture._instrument import RecordedToolError

        if self.record_mode == "all":
            return False, None
        entries = self._tool_index.get((name, digest))
        if entries and site.attempt <= len(entries):
            entry = entries[site.attempt - 1]
            if "error" in entry or "error_type" in entry:
                raise RecordedToolError(
                    str(entry.get("error_type") or "Exception"), str(entry.get("error") or "")
                )
            return True, entry.get("result")
        if self.tool_miss == "refuse" and site.side_effect:
            recorded = sorted({e["name"] for e in self._tools})
            error = ReplayDivergence(
                f"replay: side-effecting tool {name!r} was called with arguments {_pretty(site.args)[:400]} "
                f"(agent {site.agent!r}, its call #{site.call}), which the recording {self.path} "
                "does not hold "
                f"(recorded tools: {', '.join(recorded) or 'none'}). Replay never executes a side-effecting "
                "tool, so the run stopped here: the code now takes a different path than the recorded run."
            )
            run = current_run()
            if run is not None:
                run.fail(error)
            raise error
        return False, None

    # -- misses --------------------------------------------------------------------------
    def miss_error(self, decision: _Decision) -> CassetteMiss:
        """The :class:`CassetteMiss` for a request the cassette cannot answer."""
        key = decision.key
        vcr = self._vcr
        where = (
            f"agent {decision.agent!r}, its LLM call #{decision.call}"
            if decision.agent is not None
            else f"LLM call #{decision.call} outside any agent"
            if decision.call
            else "no agent"
        )
        lines = [
            f"cassette miss: {self.path} holds no recording for this request ({where}: {key.method} "
            f"{key.path}, model {key.model!r}, digest {key.digest[:16]}).",
        ]
        same = vcr.index.get(key.digest) or []
        nearest: _Recording | None = None
        diff_text = ""
        if same:
            lines.append(
                f"The cassette holds this exact request {len(same)} time(s); this run sent it a "
                f"{_ordinal(decision.occurrence)} time. Identical requests replay their recordings in order, "
                "one each."
            )
            nearest = same[-1]
        elif not vcr.interactions:
            lines.append(
                "The cassette is empty." if self.existed else "The cassette file does not exist yet."
            )
        else:
            nearest = vcr.closest(key, decision.agent, decision.call)
            if nearest is not None:
                data = nearest.data
                lines.append(
                    f"Nearest recorded request: agent {data.get('agent')!r}, "
                    f"its LLM call #{data.get('call')}, "
                    f"digest {nearest.digest[:16]}."
                )
                diff = list(
                    difflib.unified_diff(
                        _pretty(nearest.canonical()).splitlines(),
                        _pretty(key.canonical).splitlines(),
                        "recorded",
                        "requested",
                        lineterm="",
                        n=2,
                    )
                )
                if len(diff) > 80:
                    diff = [*diff[:80], f"... ({len(diff) - 80} more diff lines)"]
                diff_text = "\n".join(diff)
                lines.append("Diff of the canonical request (recorded -> requested):")
                lines.append(diff_text or "(no difference in the canonical request)")
        lines.append(
            "Replay never touches the network: a request must match a recording by method, path, model, "
            "messages, tools and sampling parameters."
        )
        lines.append(f"To record it: {self.record_command}")
        if self.nodeid:
            lines.append(
                "(or pass --chaos-miss=nearest to substitute the same agent's recording, marked as such)"
            )
        error = CassetteMiss("\n".join(lines))
        error.cassette = str(self.path)  # type: ignore[attr-defined]
        error.digest = key.digest  # type: ignore[attr-defined]
        error.nearest = nearest.data if nearest is not None else None  # type: ignore[attr-defined]
        error.diff = diff_text  # type: ignore[attr-defined]
        error.command = self.record_command  # type: ignore[attr-defined]
        return error

    # -- saving --------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "interactions": [r.data for r in self._vcr.interactions],
            "tools": list(self._tools),
        }

    def close(self) -> None:
        """Save the cassette if anything new was recorded (atomically, under a file lock)."""
        with self.lock:
            if not self._dirty:
                return
            with FileLock(str(_lock_path(self.path)), timeout=120):
                doc = self.document()
                self._merge_changes_on_disk(doc)
                write_atomically(self.path, _dump(doc))
                stat = self.path.stat()
                self._loaded_stat = (stat.st_mtime_ns, stat.st_size)
            self._dirty = False

    def _merge_changes_on_disk(self, doc: dict[str, Any]) -> None:
        """Keep recordings another process saved to the same file since this one loaded it."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if self._loaded_stat == (stat.st_mtime_ns, stat.st_size):
            return
        try:
            theirs = load_cassette_file(self.path)
        except CassetteError:
            return  # unreadable: ours replaces it
        if theirs is None:
            return
        have = {(i["digest"], i.get("occurrence")) for i in doc["interactions"]}
        for item in theirs.get("interactions", []):
            if isinstance(item, dict) and (item.get("digest"), item.get("occurrence")) not in have:
                if self.record_mode == "all" and item.get("digest") in self._vcr.fresh:
                    continue
                doc["interactions"].append(item)
        have_tools = {(t["name"], t["digest"], t.get("occurrence")) for t in doc["tools"]}
        for entry in theirs.get("tools", []):
            if (
                isinstance(entry, dict)
                and (entry.get("name"), entry.get("digest"), entry.get("occurrence")) not in have_tools
            ):
                doc["tools"].append(entry)
