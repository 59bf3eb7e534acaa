"""Reports are kept: a ``--chaos`` session writes ``reports/<session id>/``, ``reports/latest`` points at it.

When the report directory (``--chaos-report`` or the ``chaos_report_dir`` ini, default
``reports/latest``) is named ``latest``, it is a pointer, not a folder: the controller makes a
fresh sibling folder named by the session id (UTC start time to the microsecond and process
id, so the names sort by time) and points ``latest`` at it before any test runs — a relative
symlink, so every writer (xdist workers too) writes through it. Where symlinks are
unavailable, ``latest`` is a file holding the folder's name and the session writes into the
folder directly. A report directory with another name is written in place, as before.
``brownout report --list`` lists the kept reports.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

__all__ = ["LATEST", "SessionReportDir", "keep_sessions", "previous_id", "session_id"]

LATEST = "latest"


def _configured(config: pytest.Config) -> Path:
    path = Path(
        config.getoption("--chaos-report", None) or config.getini("chaos_report_dir") or "reports/latest"
    )
    return path if path.is_absolute() else config.rootpath / path


def session_id(now: float | None = None) -> str:
    """A unique name that sorts by time: ``20261201T010203.123456Z-<pid>-<4 hex>``."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1_000_000):06d}Z-{os.getpid()}-{secrets.token_hex(2)}"


def previous_id(pointer: Path) -> str | None:
    """The folder name ``latest`` points at now (a symlink or a pointer file), if any."""
    if pointer.is_symlink():
        return Path(os.readlink(pointer)).name
    if pointer.is_file():
        return pointer.read_text(encoding="utf-8").strip() or None
    return None


def _point(pointer: Path, name: str) -> bool:
    """Point ``pointer`` at its sibling ``name`` atomically; False when symlinks are unavailable."""
    tmp = pointer.parent / f".{pointer.name}-{name}.tmp"
    try:
        tmp.symlink_to(name, target_is_directory=True)
        os.replace(tmp, pointer)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, pointer)
    return False


class SessionReportDir:
    """This session's report folder; removed again at the end if the session wrote nothing."""

    def __init__(self, config: pytest.Config, pointer: Path) -> None:
        self.config = config
        self.pointer = pointer
        self.previous = previous_id(pointer)
        if pointer.is_dir() and not pointer.is_symlink():
            # A report from before reports were kept: keep it too, under a name of its time.
            legacy = session_id(pointer.stat().st_mtime)
            pointer.rename(pointer.parent / legacy)
            self.previous = legacy
        self.name = session_id()
        self.path = pointer.parent / self.name
        self.path.mkdir(parents=True, exist_ok=False)
        if not _point(pointer, self.name):
            config.option.chaos_report = str(self.path)  # no symlink to write through: write here

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if config is not self.config or any(self.path.iterdir()):
            return
        # Nothing was written (no chaos test ran): leave the reports as they were.
        with contextlib.suppress(OSError):
            self.path.rmdir()
            if previous_id(self.pointer) == self.name:
                if self.previous and (self.pointer.parent / self.previous).is_dir():
                    _point(self.pointer, self.previous)
                else:
                    self.pointer.unlink()


def keep_sessions(config: pytest.Config) -> Any:
    """Set up this session's report folder when the report directory is ``.../latest`` (controller only)."""
    if hasattr(config, "workerinput") or not config.getoption("--chaos", False):
        return None
    pointer = _configured(config)
    if pointer.name != LATEST:
        return None
    pointer.parent.mkdir(parents=True, exist_ok=True)
    state = SessionReportDir(config, pointer)
    config.pluginmanager.register(state, f"brownout-report-dir-{id(config)}")
    return state
