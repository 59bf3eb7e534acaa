"""Shared fixtures: a fake OpenAI-compatible server and a socket guard."""

from __future__ import annotations

import contextlib
import importlib
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _support.fake_openai import FakeOpenAI
from _support.guards import API_KEY, SocketGuard  # noqa: F401 - API_KEY: shared with tests

# Import once here what every in-process pytester run would otherwise import (and, with
# PYTHONDONTWRITEBYTECODE set, assertion-rewrite) again: pytester keeps modules loaded before it.
for _name in (
    "hypothesis",
    "openai",
    # httpx2 keeps a map of httpcore2's exception classes: an inner run that unloaded and re-imported
    # httpcore2 would leave it pointing at the old classes (a ConnectError would not be recognised).
    "httpcore2",
    "httpx2",
    "httpcore",  # the same for httpx (the openai SDK 2.x)
    "httpx",
    "pandas",
    "matplotlib.pyplot",
    "harness._pytest._plugin",
    "harness._pytest._fixture",
    "harness._pytest._session",
    "harness._report",
    "harness._checkers._registry",
    "harness._cassette._cassette",
    "harness._run._replay",
    "faults",
    "judges",
    "scenarios",
):
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A small OpenAI-compatible server on 127.0.0.1 (see tests/_support/fake_openai.py)."""
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def socket_guard_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[[], SocketGuard]:
    """Call it to make ``socket.connect``/``connect_ex``/``create_connection`` fail, counting attempts.

    (A factory, so a test can record over the network first and guard only its replay.)
    """

    def install() -> SocketGuard:
        guard = SocketGuard()

        def connect(self: socket.socket, address: Any) -> None:
            raise guard.refuse(address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            guard.refuse(address)
            return 111

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            raise guard.refuse(address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "create_connection", create_connection)
        return guard

    return install


@pytest.fixture
def socket_guard(socket_guard_factory: Callable[[], SocketGuard]) -> SocketGuard:
    """The socket guard, installed for the whole test."""
    return socket_guard_factory()


@pytest.fixture(autouse=True)
def _inner_pytest_runs_in_file_order(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pytest sessions a test starts (pytester) run their tests in file order.

    The suite itself runs in random order (pytest-randomly); a test that asserts on the output
    of an inner session states that session's order, which is the order of its file.
    """
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly")


@pytest.fixture(autouse=True)
def _isolated_checker_registry() -> Iterator[None]:
    """Checkers a test registers (in-process pytester runs included) do not outlive the test."""
    from harness._checkers import _registry as _checks
    from harness._checkers import _semantic

    _checks.get_checkers("all")  # built-ins registered before the snapshot
    registry = dict(_checks._REGISTRY)
    semantic = {name: list(hooks) for name, hooks in _semantic._SEMANTIC.items()}
    yield
    _checks._REGISTRY.clear()
    _checks._REGISTRY.update(registry)
    _semantic._SEMANTIC.clear()
    _semantic._SEMANTIC.update(semantic)
