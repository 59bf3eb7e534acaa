"""RunLog: the append-only history of one run, stored as JSONL with a header line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import ValidationError

from harness._errors import RunLogError
from harness._log._events import FORMAT, FORMAT_VERSION, AnyEvent, EventBase, event_adapter
from harness._log._files import write_atomically
from harness._log._secrets import scrub_values

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunLog"]

E = TypeVar("E", bound=EventBase)


class RunLog(Sequence[AnyEvent]):
    """The ordered, append-only list of a run's events.

    A RunLog never changes an event once appended; ``seq`` of the n-th event is n.
    Read it like a list, filter it with :meth:`of`, or load it into pandas with
    :meth:`frame`.
    """

    __slots__ = ("_events", "meta", "run_id")

    def __init__(self, run_id: str, events: Sequence[AnyEvent] = (), meta: dict[str, Any] | None = None):
        self.run_id = run_id
        self._events: list[AnyEvent] = list(events)
        self.meta: dict[str, Any] = dict(meta or {})

    # -- sequence protocol -------------------------------------------------------------
    @overload
    def __getitem__(self, index: int) -> AnyEvent: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AnyEvent]: ...
    def __getitem__(self, index: int | slice) -> AnyEvent | Sequence[AnyEvent]:
        return self._events[index]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[AnyEvent]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"RunLog(run_id={self.run_id!r}, events={len(self._events)})"

    # -- building ----------------------------------------------------------------------
    def append(self, event: AnyEvent) -> None:
        """Append one event; its ``seq`` must be the next position and its run id this log's."""
        if event.seq != len(self._events):
            raise RunLogError(
                f"event seq={event.seq} appended at position {len(self._events)}: a RunLog is dense and "
                "append-only, so seq must equal the number of events already in it."
            )
        self._events.append(event)

    # -- querying ----------------------------------------------------------------------
    def of(self, *types: type[E]) -> list[E]:
        """The events of the given classes, in order."""
        return [e for e in self._events if isinstance(e, types)]  # type: ignore[misc]

    def kinds(self, *kinds: str) -> list[AnyEvent]:
        """The events whose ``kind`` is one of ``kinds``, in order."""
        wanted = set(kinds)
        return [e for e in self._events if e.kind in wanted]

    def frame(self) -> pd.DataFrame:
        """All events as a pandas DataFrame, one row an event, one column a field.

        Fields that only some kinds have are empty (``None``/NaN) elsewhere; nested
        values (messages, args, payloads) stay Python objects.
        """
        import pandas as pd

        rows = [e.model_dump() for e in self._events]
        columns = ["run_id", "seq", "t", "kind", "step_id", "parent_step_id", "agent"]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=columns)
        rest = [c for c in frame.columns if c not in columns]
        return frame[columns + rest]

    def without_run_id(self) -> list[dict[str, Any]]:
        """Events as dicts minus ``run_id``: what two replays of the same run must agree on."""
        return [e.model_dump(mode="json", exclude={"run_id"}) for e in self._events]

    # -- files -------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "run_id": self.run_id, "meta": self.meta}

    def dumps(self) -> str:
        """The JSONL text: the header line, then one event a line."""
        # Events are scrubbed where they are captured; scrubbing what is written too means no
        # code path that forgot to can put a credential on disk (idempotent, so usually a no-op).
        lines = [json.dumps(scrub_values(self.header()), sort_keys=True, default=str)]
        lines.extend(
            json.dumps(scrub_values(e.model_dump(mode="json")), separators=(",", ":"), ensure_ascii=False)
            for e in self._events
        )
        return "\n".join(lines) + "\n"

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the log atomically (temp file + rename) and return the path."""
        target = Path(path)
        write_atomically(target, self.dumps().encode("utf-8"))
        return target

    @classmethod
    def loads(cls, text: str, *, source: str = "<string>") -> RunLog:
        """Parse JSONL text; any defect raises :class:`RunLogError` naming the source and line."""
        lines = text.splitlines()
        if not lines or not lines[0].strip():
            raise RunLogError(
                f"{source}: line 1: empty file. A run log starts with a header line "
                f'{{"format": "{FORMAT}", "version": {FORMAT_VERSION}, ...}}; was the run interrupted '
                "before anything was written?"
            )
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError as exc:
            raise RunLogError(f"{source}: line 1: header is not JSON ({exc.msg}).") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            got = header.get("format") if isinstance(header, dict) else type(header).__name__
            raise RunLogError(
                f"{source}: line 1: format {got!r} is not a brownout run log (expected {FORMAT!r}). "
                "Pass a file written by RunLog.write or found under the report directory."
            )
        version = header.get("version")
        if version != FORMAT_VERSION:
            raise RunLogError(
                f"{source}: line 1: run log version {version!r}; this brownout reads version "
                f"{FORMAT_VERSION}. Re-record the run with this version of brownout."
            )
        log = cls(str(header.get("run_id", "")), meta=header.get("meta") or {})
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                event = event_adapter.validate_json(line)
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(p) for p in problem.get("loc", ()))
                truncated = " (the line looks truncated)" if not line.rstrip().endswith("}") else ""
                raise RunLogError(
                    f"{source}: line {number}: not a valid event{truncated}: {problem['msg']}"
                    f"{' at ' + where if where else ''}. A run log line is one JSON event; a partial "
                    "last line means the writer was killed - re-run to regenerate the log."
                ) from None
            if event.seq != len(log):
                raise RunLogError(
                    f"{source}: line {number}: event seq={event.seq}, expected {len(log)}. Events must be "
                    "dense and in order; the file was edited or lines were lost."
                )
            log._events.append(event)
        return log

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RunLog:
        """Read a JSONL run log file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RunLogError(f"{p}: no such run log file.") from None
        except UnicodeDecodeError as exc:
            raise RunLogError(f"{p}: not UTF-8 text at byte {exc.start}; a run log is JSONL.") from None
        return cls.loads(text, source=str(p))
