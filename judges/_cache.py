"""The verdict cache: an identical request (judge, rubric, candidate, context) is scored once.

Keys are digests of the judge's spec, the rubric, the candidate text and the context, so
changing any of them (a new model, a reworded anchor, one character of the candidate)
misses. Only *scored* verdicts are stored: an unscored or indeterminate verdict is asked
again next time. With a directory the cache persists across sessions, one JSON file per
verdict, written atomically (safe under pytest-xdist).
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from pydantic import ValidationError

from harness.events import digest
from judges._errors import JudgeConfigError
from judges._rubric import Rubric
from judges._verdict import JudgeSpec, Verdict

__all__ = ["VerdictCache"]


class VerdictCache:
    """Scored verdicts by request digest, in memory and optionally in a directory.

    Args:
        directory: Where to persist verdicts (created on first write). None keeps them in
            memory only, for the life of this object.

    Raises:
        JudgeConfigError: ``directory`` is not a path, or names an existing file.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        if directory is not None and not isinstance(directory, str | os.PathLike):
            raise JudgeConfigError(
                f"VerdictCache(directory={directory!r}): a {type(directory).__name__} is not a path. Rule: "
                "the directory is a str or pathlib.Path, or None for an in-memory cache. Fix: "
                "VerdictCache('.brownout/verdicts')."
            )
        if directory is not None and Path(directory).exists() and not Path(directory).is_dir():
            raise JudgeConfigError(
                f"VerdictCache(directory={str(directory)!r}): that path is an existing file. Rule: the cache "
                "keeps one JSON file per verdict in a directory. Fix: pass a directory (it is created on "
                "first write)."
            )
        self.directory = None if directory is None else Path(directory)
        self._memory: dict[str, Verdict] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(spec: JudgeSpec, rubric: Rubric, candidate: str, context: str | None) -> str:
        """The cache key of one judge request."""
        return digest(["judges.verdict", spec.model_dump(mode="json"), rubric.to_dict(), candidate, context])

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.json"

    def get(self, key: str) -> Verdict | None:
        """The stored verdict for ``key``, or None."""
        with self._lock:
            found = self._memory.get(key)
        path = self._path(key)
        if found is None and path is not None and path.is_file():
            try:
                found = Verdict.model_validate_json(path.read_text(encoding="utf-8"))
            except (ValidationError, OSError, UnicodeDecodeError):
                found = None  # a corrupt entry is a miss; the next put rewrites it
            if found is not None:
                with self._lock:
                    self._memory[key] = found
        with self._lock:
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        return found

    def put(self, key: str, verdict: Verdict) -> None:
        """Store a scored verdict (others are ignored: they must be asked again)."""
        if verdict.status != "scored":
            return
        with self._lock:
            self._memory[key] = verdict
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(verdict.model_dump_json())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)
