"""StateStore: versioned shared state with compare-and-set and fencing tokens, recorded.

Every read and write becomes an event (``state_read`` / ``state_write``) carrying the key,
the versions involved and the fencing token, from which the ``lost_update`` and
``stale_fencing_token`` checkers work. State faults are applied here, as the run's hooks
decide (serve a stale read, corrupt a write, lose a write). Outside a run a store is a plain
versioned dictionary.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sqlite3
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from harness._capture._context import _FRAME, _RUN, RunContext, StateSite
from harness._capture._decisions import CorruptWrite, LoseWrite, ServeStale, StateDecision, WriteThenFail
from harness._errors import ConfigError, StaleFencingToken
from harness._log._events import StateRead, StateWrite
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub

__all__ = ["StateStore", "Versioned"]

T = TypeVar("T")
FencingMode = Literal["enforce", "naive"]


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """A value and the version it had when read (version 0: the key does not exist)."""

    value: T
    version: int


# Reads and writes numbered per run and store name, not per store object: a store opened again
# (by a restarted system, or twice in one run) continues the numbering a fault plan selects by.
_OP_COUNTS: weakref.WeakKeyDictionary[RunContext, dict[tuple[str, str], int]] = weakref.WeakKeyDictionary()


def _agent() -> str | None:
    frame = _FRAME.get()
    return frame.name if frame else None


class StateStore:
    """Versioned shared state for agents: read, write, compare-and-set, fencing tokens.

    Each key has a version that starts at 0 (absent) and grows by one with every accepted
    write. ``write`` is last-writer-wins (pass ``based_on_version`` to record which version
    the new value was computed from); ``compare_and_set`` writes only if the key is still at
    ``expected_version``. A write may carry a ``fencing_token``: with ``fencing="enforce"`` a
    token lower than the highest the store has accepted is rejected with
    :class:`StaleFencingToken`; with ``fencing="naive"`` it is accepted (and recorded, so the
    ``stale_fencing_token`` checker finds it). Values are copied in and out, like a real store.

    ``aread`` / ``awrite`` / ``acompare_and_set`` are the async forms; each yields to the
    event loop once first, like a networked store does, so concurrent agents interleave.

    Args:
        name: The store's name (fault plans select it as ``state[<name>]``).
        fencing: ``"enforce"`` (default) or ``"naive"``.
        path: An SQLite file that makes the store durable: every accepted write (each
            version of each key) and the highest fencing token are committed to it before
            the writer hears back, and a store opened on the same file later (a restarted
            system, in the same run or another) starts from what it holds. Values must then
            be JSON (dicts, lists, strings, numbers, booleans, None). A lost write
            (``lost_write``) is acknowledged and never reaches the file, as with a store
            that acknowledges before its write is durable. One open store per file at a time.
    """

    def __init__(
        self, name: str, *, fencing: FencingMode = "enforce", path: str | os.PathLike[str] | None = None
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"StateStore(name={name!r}): the name must be a non-empty string.")
        if fencing not in ("enforce", "naive"):
            raise ConfigError(
                f"StateStore(fencing={fencing!r}) is not accepted. Accepted: 'enforce' (reject stale "
                "fencing tokens) or 'naive' (accept them, as a store without fencing support does)."
            )
        self.name = name
        self.fencing: FencingMode = fencing
        self._history: dict[str, list[tuple[int, Any]]] = {}
        self._highest_token: int | None = None
        self._lock = threading.RLock()
        self.path = os.fspath(path) if path is not None else None
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self._open(self.path)

    # -- durability (an SQLite file) ----------------------------------------------------------
    def _open(self, path: str) -> None:
        try:
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS history (key TEXT NOT NULL, version INTEGER NOT NULL, "
                "value TEXT NOT NULL, PRIMARY KEY (key, version))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER)")
            rows = db.execute("SELECT key, version, value FROM history ORDER BY key, version").fetchall()
            token = db.execute("SELECT value FROM meta WHERE name = 'highest_token'").fetchone()
        except sqlite3.Error as exc:
            raise ConfigError(
                f"StateStore({self.name!r}, path={path!r}): cannot open the SQLite file ({exc}). Pass a "
                "writable file path (e.g. tmp_path / 'state.db')."
            ) from None
        for key, version, value in rows:
            self._history.setdefault(key, []).append((version, json.loads(value)))
        self._highest_token = token[0] if token else None
        self._db = db

    def _persist(self, key: str, version: int, value: Any, token: int | None) -> None:
        """Commit one accepted write (and a new highest fencing token) before the writer hears back."""
        if self._db is None:
            return
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"StateStore({self.name!r}) is durable (path={self.path!r}): the value written to {key!r} "
                f"({type(value).__name__}) is not JSON. Store dicts, lists, strings, numbers, booleans "
                "or None."
            ) from None
        with self._db:  # one transaction: the version and the token together
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO history (key, version, value) VALUES (?, ?, ?)", (key, version, text)
            )
            if token is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('highest_token', ?)", (token,)
                )

    def close(self) -> None:
        """Close the SQLite file of a durable store (a no-op for an in-memory one)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"StateStore({self.name!r}, keys={len(self._history)}, fencing={self.fencing!r})"

    # -- inspection (never recorded) ----------------------------------------------------------
    def snapshot(self) -> dict[str, Versioned[Any]]:
        """The current value and version of every key, without recording a read."""
        with self._lock:
            return {k: Versioned(copy.deepcopy(h[-1][1]), h[-1][0]) for k, h in self._history.items()}

    def version(self, key: str) -> int:
        """The current version of ``key`` (0 if absent), without recording a read."""
        with self._lock:
            history = self._history.get(key)
            return history[-1][0] if history else 0

    @property
    def highest_token(self) -> int | None:
        """The highest fencing token the store has accepted so far."""
        return self._highest_token

    # -- helpers ----------------------------------------------------------------------------
    def _current(self, key: str) -> tuple[int, Any]:
        history = self._history.get(key)
        return history[-1] if history else (0, None)

    def _fault(self, ctx: RunContext, op: str, key: str) -> StateDecision | None:
        ctx.refuse_if_dead()  # a crashed process reads and writes nothing
        with ctx._lock:
            counts = _OP_COUNTS.get(ctx)
            if counts is None:
                counts = _OP_COUNTS[ctx] = {}
            call = counts[(self.name, op)] = counts.get((self.name, op), 0) + 1
        return ctx.hooks.state_op(ctx, StateSite(self.name, _agent(), op, call, key))

    @staticmethod
    def _check_key(key: Any) -> None:
        if not isinstance(key, str):
            raise ConfigError(f"state key {key!r} ({type(key).__name__}): keys must be strings.")

    # -- read -------------------------------------------------------------------------------
    def read(self, key: str) -> Versioned[Any]:
        """The value of ``key`` and its version (``Versioned(None, 0)`` if absent)."""
        self._check_key(key)
        ctx = _RUN.get()
        decision = self._fault(ctx, "read", key) if ctx is not None else None
        with self._lock:
            version, value = self._current(key)
            stale = False
            if isinstance(decision, ServeStale):
                history = self._history.get(key, [])
                version, value = history[-2] if len(history) >= 2 else (0, None)
                stale = True
            value = copy.deepcopy(value)
        if ctx is not None:
            ctx.emit(
                StateRead,
                store=self.name,
                key=key,
                version=version,
                value=scrub(jsonable(value)),
                stale=stale,
            )
        return Versioned(value, version)

    # -- write ------------------------------------------------------------------------------
    def write(
        self, key: str, value: Any, *, based_on_version: int | None = None, fencing_token: int | None = None
    ) -> Versioned[Any]:
        """Store ``value`` under ``key`` (last writer wins) and return it with its new version.

        Args:
            key: The key.
            value: The new value (copied).
            based_on_version: The version the value was computed from (recorded; a write based
                on an older version than the current one is a lost update).
            fencing_token: The writer's fencing token (see the class docstring).

        Raises:
            StaleFencingToken: ``fencing="enforce"`` and the token is lower than one already accepted.
        """
        return self._apply("write", key, value, based_on_version, None, fencing_token)[1]

    def compare_and_set(
        self, key: str, expected_version: int, value: Any, *, fencing_token: int | None = None
    ) -> bool:
        """Store ``value`` only if ``key`` is still at ``expected_version``; return whether it was stored.

        Raises:
            StaleFencingToken: ``fencing="enforce"`` and the token is lower than one already accepted.
        """
        if (
            not isinstance(expected_version, int)
            or isinstance(expected_version, bool)
            or expected_version < 0
        ):
            raise ConfigError(
                f"compare_and_set(expected_version={expected_version!r}): pass the version from a read "
                "(an int >= 0; 0 means 'the key must not exist yet')."
            )
        return self._apply("cas", key, value, None, expected_version, fencing_token)[0]

    def _apply(
        self,
        op: Literal["write", "cas"],
        key: str,
        value: Any,
        based_on: int | None,
        expected: int | None,
        token: int | None,
    ) -> tuple[bool, Versioned[Any]]:
        self._check_key(key)
        if token is not None and (not isinstance(token, int) or isinstance(token, bool)):
            raise ConfigError(f"fencing_token={token!r}: a fencing token must be an int (or None).")
        ctx = _RUN.get()
        decision = self._fault(ctx, "write", key) if ctx is not None else None
        with self._lock:
            current, current_value = self._current(key)
            stale_token = (
                token is not None and self._highest_token is not None and token < self._highest_token
            )
            highest = self._highest_token
            accepted = True
            if op == "cas" and current != expected:
                accepted = False
            if stale_token and self.fencing == "enforce":
                accepted = False
            stored = decision.fn(value) if isinstance(decision, CorruptWrite) else value
            new_version: int | None = None
            lost = False
            if accepted:
                new_version = current + 1
                raised = token is not None and (self._highest_token is None or token > self._highest_token)
                if isinstance(decision, LoseWrite):
                    lost = True
                else:
                    self._persist(key, new_version, stored, token if raised else None)
                    self._history.setdefault(key, []).append((new_version, copy.deepcopy(stored)))
                if raised:
                    self._highest_token = token
        if ctx is not None:
            ctx.emit(
                StateWrite,
                store=self.name,
                key=key,
                op=op,
                based_on_version=based_on,
                expected_version=expected,
                new_version=new_version,
                current_version=current,
                value=scrub(jsonable(stored)),
                fencing_token=token,
                accepted=accepted,
                lost=lost,
            )
        if isinstance(decision, WriteThenFail):
            raise decision.error()  # the write is done (and durable); the writer never hears back
        if stale_token and self.fencing == "enforce":
            raise StaleFencingToken(
                f"store {self.name!r}: write to {key!r} with fencing token {token} rejected; the store has "
                f"already accepted token {highest}. The writer's lease has expired (another writer took "
                "over): re-acquire the lease and re-read before writing.",
                token=int(token or 0),
                highest=int(highest or 0),
            )
        result_version = new_version if new_version is not None else current
        return accepted, Versioned(copy.deepcopy(value if accepted else current_value), result_version)

    # -- async ------------------------------------------------------------------------------
    async def aread(self, key: str) -> Versioned[Any]:
        """Async :meth:`read` (yields to the event loop first)."""
        await asyncio.sleep(0)
        return self.read(key)

    async def awrite(
        self, key: str, value: Any, *, based_on_version: int | None = None, fencing_token: int | None = None
    ) -> Versioned[Any]:
        """Async :meth:`write` (yields to the event loop first)."""
        await asyncio.sleep(0)
        return self.write(key, value, based_on_version=based_on_version, fencing_token=fencing_token)

    async def acompare_and_set(
        self, key: str, expected_version: int, value: Any, *, fencing_token: int | None = None
    ) -> bool:
        """Async :meth:`compare_and_set` (yields to the event loop first)."""
        await asyncio.sleep(0)
        return self.compare_and_set(key, expected_version, value, fencing_token=fencing_token)
