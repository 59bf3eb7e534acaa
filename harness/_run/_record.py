"""Production recording: one whole run, outside pytest, into a cassette plus its run log.

Two ways to switch it on:

- ``with harness.record("recordings/checkout-1"):`` records everything the block does
  into ``recordings/checkout-1/cassette.json`` (LLM traffic and ``@tool`` results) and
  ``recordings/checkout-1/run.jsonl`` (the run log), written when the block ends.
- ``BROWNOUT_RECORD=<dir>`` in a process's environment: every *outermost* ``agent()``
  scope opened while no run is active starts a recorded run, which ends when that scope
  closes, in ``<dir>/<UTC time>-<agent>-<run id>/``. Nested scopes, tools and LLM calls
  inside it belong to that run. Scopes opened inside a run (a test, ``harness.record``)
  never start another.

``brownout replay <dir> --entry module:function`` re-executes such a recording.
Recording runs on the wall clock (a production system keeps its own event loop); the
run log's timestamps are real seconds since the run started.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness._capture import _context
from harness._capture._context import _FRAME, _RUN, RunContext, current_run
from harness._errors import HarnessError
from harness._log._events import RunEnd, RunStart
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub

__all__ = ["CASSETTE_FILE", "LOG_FILE", "Recording", "auto_begin", "record"]

CASSETTE_FILE = "cassette.json"
LOG_FILE = "run.jsonl"
ENV_VAR = "BROWNOUT_RECORD"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


class Recording:
    """A run being recorded, and after it ends, where it was written.

    Attributes:
        path: The recording's directory.
        cassette_path: ``<path>/cassette.json``.
        log_path: ``<path>/run.jsonl``.
        run_id: The recorded run's id.
        output: Set this to the run's result to have it stored in the run log (``brownout
            replay`` then also compares the replayed result with it).
    """

    def __init__(
        self,
        path: Path,
        *,
        entry: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        from harness._cassette._cassette import Cassette

        self.path = path
        self.cassette_path = path / CASSETTE_FILE
        self.log_path = path / LOG_FILE
        self.output: Any = None
        self._started = time.monotonic()
        self.cassette = Cassette(self.cassette_path, record_mode="all", miss="live", fresh=True)
        self.ctx = RunContext(
            entry=entry,
            run_id=run_id,
            cassette=self.cassette,
            clock=lambda: time.monotonic() - self._started,
            meta={"recorded": True, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        )
        self.run_id = self.ctx.run_id
        self._args = (args, dict(kwargs or {}))
        self._stack = contextlib.ExitStack()
        self._tokens: tuple[Any, Any] | None = None

    @property
    def log(self) -> Any:
        """The run log (complete once the recording ended)."""
        return self.ctx.log

    def begin(self) -> None:
        from harness._capture._llm import capture

        self._tokens = (_RUN.set(self.ctx), _FRAME.set(None))
        try:
            self._stack.enter_context(capture())
            self._stack.enter_context(self.cassette)
            args, kwargs = self._args
            self.ctx.emit(
                RunStart,
                entry=self.ctx.entry,
                args=scrub(jsonable({"args": list(args), "kwargs": kwargs})),
                meta=jsonable(self.ctx.log.meta),
            )
        except BaseException:
            self._stack.close()
            self._reset()
            raise

    def end(self, exc: BaseException | None) -> None:
        from harness._capture._instrument import _error_text, status_of

        try:
            status = status_of(exc)
            text, etype = _error_text(exc)
            self.ctx.emit(
                RunEnd,
                status="error" if status == "timeout" else status,
                error=text,
                error_type=etype,
                output=scrub(jsonable(self.output)),
                parent_step_id=None,
                agent=None,
            )
        finally:
            try:
                self._stack.close()
                self.cassette.close()
                self.ctx.log.write(self.log_path)
            finally:
                self._reset()

    def _reset(self) -> None:
        if self._tokens is None:
            return
        run_token, frame_token = self._tokens
        self._tokens = None
        try:
            _FRAME.reset(frame_token)
            _RUN.reset(run_token)
        except ValueError:  # ended in another context: clear by hand
            _FRAME.set(None)
            _RUN.set(None)


@contextlib.contextmanager
def record(
    path: str | os.PathLike[str],
    *,
    entry: str | None = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
) -> Iterator[Recording]:
    """Record everything the block does as one run: LLM traffic, tool results, the run log.

    The recording goes to ``<path>/cassette.json`` and ``<path>/run.jsonl`` (an earlier
    recording there is replaced). Replay it with ``brownout replay <path> --entry
    module:function``.

    Args:
        path: The recording's directory.
        entry: ``module:function`` that runs the recorded code; stored so that ``brownout
            replay`` can default to it.
        args: Positional arguments of that entry point (stored, JSON-rendered, secrets scrubbed).
        kwargs: Keyword arguments of that entry point.

    Yields:
        The :class:`Recording`; set ``.output`` to store the run's result.

    Raises:
        HarnessError: When called inside an active run (a test or another recording).
    """
    active = current_run()
    if active is not None:
        raise HarnessError(
            f"harness.record({os.fspath(path)!r}) was called inside an active run ({active.entry}). "
            "A run is recorded once: inside a test the `chaos` fixture already records into the test's "
            "cassette; call harness.record only around production code."
        )
    recording = Recording(Path(path), entry=entry or "harness.record", args=args, kwargs=kwargs)
    recording.begin()
    error: BaseException | None = None
    try:
        yield recording
    except BaseException as exc:
        error = exc
        raise
    finally:
        recording.end(error)


def auto_begin(agent_name: str) -> Recording:
    """Start the recorded run of an outermost ``agent()`` scope under ``BROWNOUT_RECORD``."""
    base = Path(os.environ.get(ENV_VAR, "").strip() or "recordings")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_id = uuid.uuid4().hex[:12]
    name = _UNSAFE.sub("_", agent_name).strip("_") or "agent"
    recording = Recording(base / f"{stamp}-{name}-{run_id}", entry=f"agent:{agent_name}", run_id=run_id)
    recording.begin()
    return recording


if os.environ.get(ENV_VAR, "").strip():
    _context.AUTO_RECORDER = auto_begin
