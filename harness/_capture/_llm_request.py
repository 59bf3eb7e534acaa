"""LLM request identity: which requests are LLM calls, their canonical description and digest."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from harness._log._digest import digest
from harness._log._secrets import is_secret_name, scrub, scrub_query

LLM_PATH_SUFFIXES = ("/chat/completions", "/completions", "/embeddings", "/responses", "/v1/messages")

# Body fields that identify the caller or the bookkeeping, not the question asked: they
# are kept in a cassette but left out of the request digest.
VOLATILE_BODY_FIELDS = frozenset({"user", "metadata", "store", "prompt_cache_key", "safety_identifier"})


def is_llm_path(path: str) -> bool:
    """Whether a request path names an LLM endpoint."""
    return path.rstrip("/").endswith(LLM_PATH_SUFFIXES)


def is_llm_request(request: Any) -> bool:
    """Whether an ``httpx2`` / ``httpx`` request goes to an LLM endpoint."""
    if is_llm_path(request.url.path):
        return True
    return "x-stainless-lang" in request.headers


# -- request identity -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequestKey:
    """What identifies an LLM request: the basis of cassette matching.

    Attributes:
        method: HTTP method.
        path: URL path (no host: a recording replays against any base URL).
        query: Query parameters minus secret-named ones, sorted.
        body: The parsed JSON body, secrets scrubbed (volatile fields kept).
        canonical: What the digest is taken of: method, path, query, and the body minus
            volatile fields.
        digest: Hex digest of ``canonical``.
        model: The body's ``model`` field, if any.
        stream: Whether the body asks for a streamed reply.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    canonical: dict[str, Any]
    digest: str
    model: str | None
    stream: bool


def parse_body(content: bytes | None) -> Any:
    if not content:
        return None
    head = content.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bytes_digest": digest(content.hex())}


def describe_request(method: str, path: str, query: str, content: bytes | None) -> RequestKey:
    """Describe a request for matching: the same inputs always give the same digest.

    Args:
        method: HTTP method.
        path: URL path.
        query: Raw query string (without ``?``).
        content: Raw request body.
    """
    params = tuple(
        sorted(
            (k, v)
            for k, v in scrub_query(parse_qsl(query, keep_blank_values=True))
            if not is_secret_name(k, bare_key=True)
        )
    )
    body = scrub(parse_body(content))
    if isinstance(body, dict):
        stable: Any = {k: v for k, v in body.items() if k not in VOLATILE_BODY_FIELDS}
        model = body.get("model")
        stream = body.get("stream") is True
    else:
        stable, model, stream = body, None, False
    canonical: dict[str, Any] = {"method": method.upper(), "path": path, "body": stable}
    if params:
        canonical["query"] = [list(p) for p in params]
    return RequestKey(
        method=method.upper(),
        path=path,
        query=params,
        body=body,
        canonical=canonical,
        digest=digest(canonical),
        model=model if isinstance(model, str) else None,
        stream=stream,
    )


# describe_request is a pure function of its inputs, and a test replays the same requests
# run after run (every Hypothesis example asks them again): keep the recent keys, bounded
# by the bytes of the bodies they hold. Keys are shared, so nothing may mutate one.
_KEYS: dict[tuple[str, str, bytes, bytes | None], RequestKey] = {}
_KEYS_MAX_BYTES = 16_000_000
_KEYS_MAX_ENTRIES = 8192
_keys_bytes = 0
_KEYS_LOCK = threading.Lock()


def key_of(request: Any) -> RequestKey:
    """The :class:`RequestKey` of an ``httpx2`` / ``httpx`` request (a streamed body not yet read: none)."""
    global _keys_bytes
    # ``request.content`` raises the library's RequestNotRead until a streamed body is read.
    content: bytes | None = getattr(request, "_content", None)
    url = request.url
    cache_key = (request.method, url.path, url.query, content)
    key = _KEYS.get(cache_key)
    if key is not None:
        return key
    key = describe_request(request.method, url.path, url.query.decode("ascii", "replace"), content)
    size = len(content or b"") + len(url.query) + 200
    with _KEYS_LOCK:
        while _KEYS and (_keys_bytes + size > _KEYS_MAX_BYTES or len(_KEYS) >= _KEYS_MAX_ENTRIES):
            oldest = next(iter(_KEYS))  # first in, first out
            del _KEYS[oldest]
            _keys_bytes -= len(oldest[3] or b"") + len(oldest[2]) + 200
        if size <= _KEYS_MAX_BYTES and cache_key not in _KEYS:
            _KEYS[cache_key] = key
            _keys_bytes += size
    return key


def redact_query(query: str) -> str:
    """A query string with secret-named parameters' values replaced."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(scrub_query(pairs), safe="[]")
