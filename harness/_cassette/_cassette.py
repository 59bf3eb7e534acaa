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

import os
import shlex
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock

from harness._capture._context import ToolSite, current_run
from harness._cassette._file import (
    FORMAT,
    FORMAT_VERSION,
    dump,
    load_cassette_file,
    lock_path,
    write_atomically,
)
from harness._cassette._index import MISS_POLICIES, RECORD_MODES, Decision, IndexedCassette
from harness._cassette._miss import explain_miss
from harness._cassette._patch import install_router, uninstall_router
from harness._cassette._recording import Recording, pretty
from harness._errors import CassetteError, CassetteMiss, ConfigError, ReplayDivergence
from harness._log._secrets import scrub


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
        self._vcr = IndexedCassette(self)
        self._tools: list[dict[str, Any]] = []
        self._tool_index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._fresh_tools: set[tuple[str, str]] = set()
        self._dirty = False
        self._active = 0
        self._loaded_stat: tuple[int, int] | None = None
        self.existed = False
        # A fresh cassette replaces the file: what it held before must not come back when the
        # close merges in recordings another process saved meanwhile.
        self._replaced: set[tuple[Any, ...]] = set()
        if not fresh:
            self._load()
        else:
            self._note_replaced()

    # -- loading -------------------------------------------------------------------------
    def _note_replaced(self) -> None:
        try:
            old = load_cassette_file(self.path)
        except CassetteError:
            return  # unreadable: ours replaces it anyway
        if old is None:
            return
        for item in old.get("interactions", []):
            if isinstance(item, dict):
                self._replaced.add(("llm", item.get("digest"), item.get("occurrence")))
        for entry in old.get("tools", []):
            if isinstance(entry, dict):
                self._replaced.add(("tool", entry.get("name"), entry.get("digest"), entry.get("occurrence")))

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
        install_router()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        uninstall_router()
        with self.lock:
            self._active -= 1

    # -- recording -----------------------------------------------------------------------
    def add_interaction(self, recording: Recording, occurrence: int) -> None:
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
        from harness._errors import RecordedToolError

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
                f"replay: side-effecting tool {name!r} was called with arguments {pretty(site.args)[:400]} "
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
    def miss_error(self, decision: Decision) -> CassetteMiss:
        """The :class:`CassetteMiss` for a request the cassette cannot answer (see ``_miss``)."""
        return explain_miss(self, decision)

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
            with FileLock(str(lock_path(self.path)), timeout=120):
                doc = self.document()
                self._merge_changes_on_disk(doc)
                write_atomically(self.path, dump(scrub(doc)))  # scrubbed where captured; this is the net
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
                if ("llm", item.get("digest"), item.get("occurrence")) in self._replaced:
                    continue
                doc["interactions"].append(item)
        have_tools = {(t["name"], t["digest"], t.get("occurrence")) for t in doc["tools"]}
        for entry in theirs.get("tools", []):
            if not isinstance(entry, dict):
                continue
            name, digest, occurrence = entry.get("name"), entry.get("digest"), entry.get("occurrence")
            if (name, digest, occurrence) not in have_tools and (
                "tool",
                name,
                digest,
                occurrence,
            ) not in self._replaced:
                doc["tools"].append(entry)
