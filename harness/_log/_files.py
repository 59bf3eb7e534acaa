"""Files written the safe way: atomic (temp file + rename), with the umask's mode, no stale temps.

Every file brownout writes (cassettes, run logs, reports) goes through :func:`write_atomically`:
a reader sees the old file or the new one, never half of one; the new file gets the mode a
plain ``open`` would give it (``0o666`` minus the umask, 0644 typically) rather than the
temp file's 0600; and temp files a killed writer left beside it are removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["STALE_TEMP_SECONDS", "file_mode", "remove_stale_temps", "write_atomically", "write_with"]

# A temp file older than this is a killed writer's leftover (a live writer finishes in seconds).
STALE_TEMP_SECONDS = 600.0


def file_mode() -> int:
    """The mode a new file gets from ``open``: ``0o666`` minus the process umask."""
    try:  # Linux: read it without changing it (os.umask is process-wide, not thread-safe)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def remove_stale_temps(path: Path, *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files a killed writer left beside ``path``; returns them."""
    removed: list[Path] = []
    now = time.time()
    with contextlib.suppress(OSError):
        for tmp in path.parent.glob(f".{_glob_escape(path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime >= older_than:
                    tmp.unlink()
                    removed.append(tmp)
    return removed


def write_with(path: Path, write: Callable[[str], None]) -> None:
    """Have ``write(tmp_path)`` fill a temp file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace`` (fsynced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
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
