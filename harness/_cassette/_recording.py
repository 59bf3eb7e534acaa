"""One recorded interaction, and how requests and responses are stored (scrubbed, canonical)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from vcr.filters import decode_response

from harness._capture._llm import (
    VOLATILE_BODY_FIELDS,
    RequestKey,
    describe_request,
    redact_query,
)
from harness._errors import CassetteError
from harness._log._secrets import REDACTED, is_secret_name, scrub, scrub_sse, scrub_text

# Request headers that change from call to call (or identify the client build), so they
# are neither matched nor stored; secret-named ones are stored redacted.
VOLATILE_REQUEST_HEADERS = frozenset(
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
VOLATILE_RESPONSE_HEADERS = frozenset(
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


class Recording:
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
    def lazy(cls, raw: memoryview, digest: str, occurrence: int, source: str) -> Recording:
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
                "body": {"string": body_bytes(response)},
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


def body_bytes(response: dict[str, Any]) -> bytes:
    body = response.get("body")
    encoding = response.get("encoding", "json")
    if body is None:
        return b""
    if encoding == "json":
        return orjson.dumps(body)
    if encoding == "base64":
        return base64.b64decode(str(body))
    return str(body).encode("utf-8")


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def stored_request(request: Any, key: RequestKey) -> dict[str, Any]:
    parts = urlsplit(str(request.uri))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"  # credentials in the URL are dropped
    uri = urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), ""))
    headers: dict[str, str] = {}
    for name, value in dict(request.headers).items():
        lower = str(name).lower()
        if lower in VOLATILE_REQUEST_HEADERS or lower.startswith("x-stainless-"):
            continue
        text = ", ".join(value) if isinstance(value, list) else str(value)
        headers[lower] = REDACTED if is_secret_name(lower, bare_key=True) else scrub_text(text)
    return {"method": key.method, "uri": uri, "headers": headers, "body": key.body}


def stored_response(response: dict[str, Any]) -> dict[str, Any]:
    response = decode_response(response)
    headers: dict[str, Any] = {}
    content_type = ""
    for name, values in (response.get("headers") or {}).items():
        lower = str(name).lower()
        if lower == "content-type":
            content_type = str(values[0] if isinstance(values, list) and values else values)
        if lower in VOLATILE_RESPONSE_HEADERS:
            continue
        vals = [
            REDACTED if is_secret_name(lower, bare_key=True) else scrub_text(str(v))
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
        text = raw.decode("utf-8")
        sse = "event-stream" in content_type.lower() or text.startswith(("data:", "event:"))
        stored["body"], stored["encoding"] = (scrub_sse(text) if sse else scrub_text(text)), "text"
    except UnicodeDecodeError:
        stored["body"], stored["encoding"] = base64.b64encode(raw).decode("ascii"), "base64"
    return stored
