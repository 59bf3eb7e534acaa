"""The cassette file: format and version, loading (lazily), atomic writes under a lock."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson

from harness._cassette._recording import Recording
from harness._errors import CassetteError
from harness._log._digest import digest as _digest
from harness._log._files import remove_stale_temps, write_atomically

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "contained",
    "dump",
    "load_cassette_file",
    "lock_path",
    "remove_stale_temps",
    "write_atomically",
]

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
        if raw.lstrip().startswith(b"{") and b'"brownout-runlog"' in raw.split(b"\n", 1)[0]:
            raise CassetteError(
                f"{path}: is not a brownout cassette: it is a run log (JSONL). Pass the recording "
                "directory or its cassette.json; the run log is found beside it (or give it with --log)."
            ) from None
        raise CassetteError(
            f"{path}: is not a brownout cassette: not valid JSON ({exc}). A cassette is a JSON file "
            f"written by the `chaos` fixture or harness.record, atomically, so this file was edited by "
            f"hand or produced by another tool.{fix}"
        ) from None
    return checked(doc, path, fix)


def checked(doc: Any, path: Path, fix: str) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        if got == "brownout-runlog":
            raise CassetteError(
                f"{path}: is not a brownout cassette: it is a run log. Pass the recording directory or "
                "its cassette.json; the run log is found beside it (or give it with --log)."
            )
        raise CassetteError(
            f"{path}: is not a brownout cassette: format {got!r} (expected {FORMAT!r}). Is this a plain "
            f"vcrpy cassette? brownout cassettes are recorded by the `chaos` fixture or harness.record.{fix}"
        )
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CassetteError(
            f"{path}: cassette format version {version} was written by a newer brownout; this brownout "
            f"reads version {FORMAT_VERSION}. Upgrade brownout (`pip install -U brownout`) to replay it; "
            "do not delete or re-record it."
        )
    if version != FORMAT_VERSION:
        raise CassetteError(
            f"{path}: cassette version {version!r}; this brownout reads version {FORMAT_VERSION}.{fix}"
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


def contained(path: Path, root: Path, *, source: str) -> Path:
    """``path``, if it lies inside ``root`` once resolved; else a :class:`CassetteError` naming both.

    A cassette path comes from a marker, an option or the ini file: resolving ``..`` or a
    symlink must not let a test write outside the project.
    """
    resolved = path.resolve()
    base = root.resolve()
    if resolved != base and base not in resolved.parents:
        raise CassetteError(
            f"cassette path {str(path)!r} (from {source}) resolves to {resolved}, outside the rootdir "
            f"{base}: brownout writes cassettes only inside the project. Use a path relative to the "
            "rootdir without '..', e.g. cassette='cassettes/my_test.json'."
        )
    return path


def lock_path(path: Path) -> Path:
    # Outside the cassette directory, so no lock files end up next to committed cassettes.
    return Path(tempfile.gettempdir()) / f"brownout-cassette-{_digest(str(path.resolve()))}.lock"


def dump(doc: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    except TypeError:  # e.g. an int beyond 64 bits in a tool result
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=repr) + "\n").encode()


# -- the cassette -------------------------------------------------------------------------
