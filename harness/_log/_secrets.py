"""Secret scrubbing: nothing that looks like a credential is written to a cassette, log or report.

One scrubber for every file brownout writes. It removes

- values under secret-like *names*, at any depth of JSON, in query strings, headers and
  ``name=value`` / ``"name": "value"`` pairs inside free text (:func:`is_secret_name`);
- credential-*shaped* values anywhere in any string (:func:`scrub_text`): provider keys,
  JWTs, bearer tokens, private-key blocks, the values of secret-named environment
  variables, and whatever the user added (:func:`add_pattern`, :func:`add_secret`);
- in a server-sent-event stream, credentials split across chunks (:func:`scrub_sse`): the
  reassembled text is scrubbed and the chunks are stored consistent with it.

Scrubbing is idempotent (``scrub(scrub(x)) == scrub(x)``), so a value scrubbed where it is
captured comes out unchanged where it is written, and digests computed on scrubbed requests
stay stable between recording and replay.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = [
    "REDACTED",
    "ScrubConfigError",
    "add_pattern",
    "add_secret",
    "add_secret_name",
    "configure",
    "is_secret_name",
    "keep_field",
    "reset",
    "scrub",
    "scrub_json_text",
    "scrub_query",
    "scrub_sse",
    "scrub_text",
    "scrub_values",
]

REDACTED = "[REDACTED]"


class ScrubConfigError(ValueError):
    """A scrub rule that cannot be used (a bad regex, an unknown ``chaos_scrub`` line)."""


# -- names ------------------------------------------------------------------------------------
# A name is split into words (snake, kebab, dotted, camelCase); it is secret when one word is
# a credential word, or two adjacent words form one ("api key", "private key", ...).
# Plural "tokens" is a count (max_tokens, prompt_tokens), and a few names are data by rule.
_SECRET_WORDS = frozenset(
    {
        "apikey",
        "token",
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "sig",
        "signature",
        "bearer",
        "jwt",
        "xsrf",
        "csrf",
        "otp",
    }
)
_KEY_PREFIXES = frozenset(
    {"api", "access", "secret", "private", "client", "signing", "auth", "session", "master"}
)
_DATA_NAMES = frozenset(
    {
        "idempotency_key",
        "idempotencykey",
        "fencing_token",
        "fencingtoken",
        "prompt_cache_key",
        "cache_key",
        "next_page_token",
        "page_token",
        "pagination_token",
        "token_count",
        "token_type",
        "auth_type",
        "auth_method",
        "sig_alg",
    }
)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class _Rules:
    """The user's additions; module state, guarded by a lock (xdist workers each hold their own)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.patterns: list[str] = []
        self.literals: list[str] = []
        self.names: set[str] = set()
        self.keep: set[str] = set()


_RULES = _Rules()


def _normal(name: str) -> str:
    return "_".join(w.lower() for w in _WORDS.findall(name))


@functools.lru_cache(maxsize=8192)  # scrub() asks this of every key of every payload; keys repeat
def _secret_name(name: str, bare_key: bool) -> bool:
    norm = _normal(name)
    if not norm or norm in _DATA_NAMES or norm in _RULES.keep or name.lower() in _RULES.keep:
        return False
    if norm in _RULES.names or name.lower() in _RULES.names:
        return True
    words = norm.split("_")
    if bare_key and words == ["key"]:
        return True
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(a in _KEY_PREFIXES and b in ("key", "keys") for a, b in itertools.pairwise(words))


def is_secret_name(name: str, *, bare_key: bool = False) -> bool:
    """Whether a header, parameter or field called ``name`` holds a credential.

    Secret: names with a credential word (``token``, ``secret``, ``password``, ``auth``,
    ``authorization``, ``credential``, ``cookie``, ``sig``, ``signature``, ``apikey``, ...) or an
    ``api``/``access``/``private``/``client``/``secret``/``signing`` ``key``. Data, by rule:
    counts (``max_tokens``, ``prompt_tokens``), ``idempotency_key``, ``fencing_token``,
    ``cache_key``, ``token_type`` and names opted out with :func:`keep_field`. A bare ``key``
    is secret only where ``bare_key`` is set (query strings and headers: ``?key=AIza...``);
    in JSON it is too often data (a cache or state key).
    """
    return _secret_name(name, bare_key)


# -- values -----------------------------------------------------------------------------------
_NB = r"(?<![A-Za-z0-9_\-])"  # a credential starts at a token boundary ("task-..." is not "sk-...")
_BUILTIN_VALUES = [
    _NB + r"sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}",
    _NB + r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    _NB + r"AIza[0-9A-Za-z_\-]{30,}",
    _NB + r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}",
    _NB + r"gh[pousr]_[A-Za-z0-9]{30,}",
    _NB + r"github_pat_[A-Za-z0-9_]{30,}",
    _NB + r"glpat-[A-Za-z0-9_\-]{20,}",
    _NB + r"xox[abposr]-[A-Za-z0-9\-]{10,}",
    _NB + r"hf_[A-Za-z0-9]{30,}",
    _NB + r"npm_[A-Za-z0-9]{36}",
    _NB + r"ya29\.[A-Za-z0-9_\-]{20,}",
    _NB + r"eyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*",  # a JWT
    r"\b[Bb]earer\s+(?=[A-Za-z0-9._\-~+/]*\d)[A-Za-z0-9._\-~+/]{8,}=*",
    r"\bBasic\s+(?=[A-Za-z0-9+/]*\d)[A-Za-z0-9+/]{12,}={0,2}",
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
]
# ``name=value`` (query strings, URLs and logfmt inside free text) and ``"name": "value"``
# (JSON inside free text: an error message quoting a body).
_PAIR = re.compile(
    r"(?P<pre>(?:^|[?&;,\s({\[\"']))(?P<name>[A-Za-z][\w.\-]{0,63})=(?P<value>[^&\s\"'#,;)}\]]+)"
)
_JSON_PAIR = re.compile(r'(?P<pre>"(?P<name>[A-Za-z][\w.\-]{0,63})"\s*:\s*")(?P<value>(?:[^"\\]|\\.)+)(?=")')


class _Compiled:
    version = -1
    values: re.Pattern[str] = re.compile("(?!)")


_COMPILED = _Compiled()
_VERSION = [0]
_MIN_ENV_SECRET = 12


def _env_secrets() -> list[str]:
    """Values of secret-named environment variables (``OPENAI_API_KEY``, ``GITHUB_TOKEN``, ...)."""
    out = []
    for name, value in os.environ.items():
        if name.startswith("BROWNOUT_") or len(value) < _MIN_ENV_SECRET or value.isdigit():
            continue
        if "/" in value and not any(c.isdigit() for c in value):
            continue  # a path, not a key
        if is_secret_name(name):
            out.append(value)
    return out


def _value_pattern() -> re.Pattern[str]:
    if _COMPILED.version == _VERSION[0]:
        return _COMPILED.values
    with _RULES.lock:
        literals = sorted({*_RULES.literals, *_env_secrets()}, key=len, reverse=True)
        parts = [*_BUILTIN_VALUES, *_RULES.patterns, *(re.escape(v) for v in literals if v)]
        _COMPILED.values = re.compile("|".join(f"(?:{p})" for p in parts))
        _COMPILED.version = _VERSION[0]
    return _COMPILED.values


def _changed() -> None:
    _VERSION[0] += 1
    _secret_name.cache_clear()


def _pair(match: re.Match[str]) -> str:
    if match["value"] == REDACTED or not is_secret_name(match["name"], bare_key=True):
        return match[0]
    return match[0][: match.start("value") - match.start(0)] + REDACTED


def _json_pair(match: re.Match[str]) -> str:
    if match["value"] == REDACTED or not is_secret_name(match["name"]):
        return match[0]
    return match[0][: match.start("value") - match.start(0)] + REDACTED


def scrub_text(text: str) -> str:
    """Free text with credential-shaped substrings and secret-named ``name=value`` values replaced."""
    if not text:
        return text
    text = _value_pattern().sub(REDACTED, text)
    if "=" in text:
        text = _PAIR.sub(_pair, text)
    if '":' in text or '" :' in text:
        text = _JSON_PAIR.sub(_json_pair, text)
    return text


def _redact_leaves(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED if value else value
    if isinstance(value, Mapping):
        return {k: _redact_leaves(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_leaves(v) for v in value]
    return value  # numbers, booleans, null: not credentials (a token count, ``auth: true``)


def scrub(value: Any) -> Any:
    """A copy of ``value`` with secret-named fields and secret-shaped strings redacted.

    Under a secret name, every string at any depth below is replaced by ``[REDACTED]``
    (numbers, booleans and null are kept: ``{"auth": {"enabled": true}}`` stays readable).
    """
    if isinstance(value, Mapping):
        return {
            k: (_redact_leaves(v) if isinstance(k, str) and is_secret_name(k) else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub_values(value: Any) -> Any:
    """A copy of ``value`` with credential-shaped strings redacted at any depth; names are not judged.

    For brownout's own records (events, rows), whose field names are a schema, not payload:
    a state event's ``key`` is data.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_values(v) for v in value]
    return value


def scrub_json_text(text: str) -> str:
    """A string that may hold JSON (tool-call arguments): parsed and scrubbed by name too, else as text."""
    stripped = text.lstrip()[:1]
    if stripped in ("{", "["):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return scrub_text(text)
        clean = scrub(data)
        return text if clean == data else orjson.dumps(clean).decode("utf-8")
    return scrub_text(text)


def scrub_query(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Query parameters with secret-named (``key`` included) or credential-shaped values redacted."""
    return [(k, REDACTED if is_secret_name(k, bare_key=True) and v else scrub_text(v)) for k, v in pairs]


# -- streams ----------------------------------------------------------------------------------
# String fields that carry a streamed text in pieces, one piece per chunk.
_STREAM_FIELDS = frozenset(
    {"content", "text", "arguments", "delta", "refusal", "reasoning", "reasoning_content", "partial_json"}
)


def _stream_slots(value: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and k in _STREAM_FIELDS:
                out.append(((*path, k), value, k))
            elif isinstance(v, dict | list):
                _stream_slots(v, (*path, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            index = v.get("index", i) if isinstance(v, dict) else i
            _stream_slots(v, (*path, index), out)


def scrub_sse(text: str) -> str:
    """A server-sent-event stream with secrets removed, also those split across chunks.

    Each streamed field (``choices[i].delta.content``, tool-call ``arguments``, Responses API
    ``delta`` ...) is reassembled over all chunks and scrubbed as a whole; when that changes
    it, the first chunk carries the whole scrubbed text and the others an empty piece, so
    what a client reassembles from the stored stream is exactly the scrubbed text.
    """
    lines = text.split("\n")
    parsed: dict[int, Any] = {}
    slots: dict[tuple[Any, ...], list[tuple[int, Any, Any]]] = {}
    for n, line in enumerate(lines):
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload.startswith(("{", "[")):
            continue
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        parsed[n] = chunk
        found: list[tuple[tuple[Any, ...], Any, Any]] = []
        _stream_slots(chunk, (chunk.get("type") if isinstance(chunk, dict) else None,), found)
        for path, holder, key in found:
            slots.setdefault(path, []).append((n, holder, key))
    rewritten: set[int] = set()
    for pieces in slots.values():
        whole = "".join(holder[key] for _, holder, key in pieces)
        clean = scrub_json_text(whole) if pieces[0][2] == "arguments" else scrub_text(whole)
        if clean != whole:
            for i, (n, holder, key) in enumerate(pieces):
                holder[key] = clean if i == 0 else ""
                rewritten.add(n)
    out: list[str] = []
    for n, line in enumerate(lines):
        chunk = parsed.get(n)
        if chunk is None:
            out.append(scrub_text(line))
            continue
        clean_chunk = _scrub_chunk(chunk)
        if clean_chunk == chunk and n not in rewritten:
            out.append(line)
        else:
            out.append("data: " + orjson.dumps(clean_chunk).decode("utf-8"))
    return "\n".join(out)


def _scrub_chunk(chunk: Any) -> Any:
    # Names count in a chunk (a tool call's parsed arguments), stream pieces are already whole.
    return scrub(chunk)


# -- configuration ----------------------------------------------------------------------------
def add_pattern(pattern: str) -> None:
    """Also remove every match of the regular expression ``pattern`` from everything written.

    Raises:
        ScrubConfigError: ``pattern`` is not a valid regular expression.
    """
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ScrubConfigError(
            f"scrub pattern {pattern!r} is not a valid regular expression ({exc}). Write a Python regex "
            r"matching the secret's value, e.g. 'acme_[0-9a-f]{32}'."
        ) from None
    with _RULES.lock:
        _RULES.patterns.append(pattern)
    _changed()


def add_secret(value: str) -> None:
    """Also remove the literal ``value`` (a key your system uses) from everything written."""
    if not value:
        return
    with _RULES.lock:
        _RULES.literals.append(value)
    _changed()


def add_secret_name(name: str) -> None:
    """Also treat fields, parameters and headers called ``name`` as secret."""
    with _RULES.lock:
        _RULES.names.add(_normal(name) or name.lower())
    _changed()


def keep_field(name: str) -> None:
    """Opt a field out: values under ``name`` are data, stored as they are (credential shapes still go)."""
    with _RULES.lock:
        _RULES.keep.add(_normal(name) or name.lower())
    _changed()


def reset() -> None:
    """Forget every rule added with the functions above (and re-read the environment)."""
    with _RULES.lock:
        _RULES.patterns.clear()
        _RULES.literals.clear()
        _RULES.names.clear()
        _RULES.keep.clear()
    _changed()


def configure(lines: Iterable[str]) -> None:
    """Apply the ini option ``chaos_scrub``: one rule a line.

    ``pattern REGEX`` (remove matches), ``name FIELD`` (a secret field name), ``keep FIELD``
    (a field that is data), ``env VAR`` (remove the value of environment variable ``VAR``).

    Raises:
        ScrubConfigError: A line of another form.
    """
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, arg = line.partition(" ")
        arg = arg.strip()
        if kind == "pattern" and arg:
            add_pattern(arg)
        elif kind == "name" and arg:
            add_secret_name(arg)
        elif kind == "keep" and arg:
            keep_field(arg)
        elif kind == "env" and arg:
            add_secret(os.environ.get(arg, ""))
        else:
            raise ScrubConfigError(
                f"chaos_scrub line {line!r} is not a rule. Each line is one of: 'pattern REGEX', "
                "'name FIELD', 'keep FIELD', 'env VARIABLE' (never put a secret's value in the ini file)."
            )
