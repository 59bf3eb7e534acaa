"""The cassette file: format and version, loading (lazily), atomic writes under a lock."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson

from harness._cassette._recording import Recording
from harness._errors import CassetteError
from harness._log._digest import digest as _digest

FORMAT = "brownout-cassette"
FORMAT_VERSION = 1


# -- files ----------------------------------------------------------------------------------
def load_cassette_file(path: Path, *, record_command: str = "", lazy: bool = False) -> dict[str, Any] | None:
    """Parse a cassette file; ``None`` if it does not exist. Any defect is a :class:`CassetteError`.

    With ``lazy``, a file in the layout brownout writes is indexed without parsing its
    interactions (``doc["interactions"]`` then holds unparsed :class:`Recording` objects):
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
        doc = lazy_document(raw, str(path))
        if doc is not None:
            return checked(doc, path, fix)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CassetteError(
            f"{path}: not valid JSON ({exc}). A cassette is written atomically, so this file was "
            f"edited by hand or produced by another tool.{fix}"
        ) from None
    return checked(doc, path, fix)


def checked(doc: Any, path: Path, fix: str) -> dict[str, Any]:
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


# The layout dump writes (orjson, indent 2, sorted keys): top-level keys in order format,
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


def lazy_document(raw: bytes, source: str) -> dict[str, Any] | None:
    """Index a cassette in brownout's own layout without parsing each interaction; else ``None``."""
    if not raw.startswith(_HEAD):
        return None
    pos = len(_HEAD)
    recordings: list[Recording] = []
    view = memoryview(raw)  # interactions keep zero-copy slices until they are parsed
    if raw.startswith(b"],\n", pos):
        rest_at = pos + 3
    else:
        end_of_list = raw.find(_LIST_END, pos)
        if end_of_list < 0:
            return None
        find, head = raw.find, _ITEM_HEAD.match
        lazy, add = Recording.lazy, recordings.append
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


def lock_path(path: Path) -> Path:
    # Outside the cassette directory, so no lock files end up next to committed cassettes.
    return Path(tempfile.gettempdir()) / f"brownout-cassette-{_digest(str(path.resolve()))}.lock"


def dump(doc: dict[str, Any]) -> bytes:
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
