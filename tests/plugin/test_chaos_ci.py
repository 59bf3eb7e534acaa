"""CI at scale end to end: shards share failing plans through Redis; the statistical gate in pytest."""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_report_plugin import SYSTEM, TESTS

from harness._report import ResultRow, read_results, write_results

pytest_plugins = ["pytester"]

for _module in ("hypothesis", "faults", "harness._pytest._fixture", "harness._report._build"):
    importlib.import_module(_module)

NAIVE = "test_notify.py::test_naive"
# One kind of failure only (a swallowed tool error), so each process finds exactly one.
SHARDED = """
import pytest
import system

@pytest.mark.chaos(faults=["tool.error"], checks="none")
def test_naive(chaos):
    system.SENT.clear()
    run = chaos.run(system.notify_naive, ["a", "b", "c"])
    assert run.output["notified"] == system.SENT, "reported users that never got the email"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 (no persistence), stopped after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install -y redis-server; .ci/run does)")
    pytest.importorskip("redis", reason="the redis package (the `redis` extra) talks to the server")
    import redis

    port = _free_port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail(f"redis-server on port {port} did not answer within 5 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(system=SYSTEM, test_notify=TESTS)
    return pytester


def _rows(directory: Path, test: str = NAIVE) -> list[ResultRow]:
    return sorted((r for r in read_results(directory) if r.test == test), key=lambda r: r.index)


def test_two_shards_share_failing_plans_through_redis(pytester: pytest.Pytester, redis_url: str) -> None:
    project = pytester
    project.makepyfile(system=SYSTEM, test_notify=SHARDED)
    common = ["-p", "no:cacheprovider", "--chaos", "--chaos-examples=15", f"--chaos-db={redis_url}"]
    first = project.runpytest(*common, f"--chaos-report={project.path / 'one'}", f"{NAIVE}")
    first.assert_outcomes(failed=1)
    found = [r for r in _rows(project.path / "one") if r.final]
    assert len(found) == 1 and found[0].outcome == "silent" and found[0].fault_plan
    import redis

    assert redis.Redis.from_url(redis_url).keys(b"brownout-example:*"), "nothing was saved in Redis"
    # a second machine (another process, another folder) pointed at the same database
    shutil.rmtree(project.path / ".hypothesis", ignore_errors=True)
    second = project.runpytest(*common, f"--chaos-report={project.path / 'two'}", f"{NAIVE}")
    second.assert_outcomes(failed=1)
    rows = _rows(project.path / "two")
    assert rows[0].fault_plan == ""  # the baseline run, without faults
    assert rows[1].fault_plan == found[0].fault_plan  # the first example tried: the shared failure
    assert rows[1].outcome == "silent"


def test_chaos_db_rejects_an_unknown_scheme(project: pytest.Pytester) -> None:
    result = project.runpytest("--chaos", "--chaos-db=mongodb://127.0.0.1/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--chaos-db=mongodb://127.0.0.1/x: the scheme mongodb:// is not supported*"]
    )


def test_chaos_baseline_reports_a_regression(project: pytest.Pytester) -> None:
    base = project.path / "base"
    write_results(base, [ResultRow(test=NAIVE, index=i, mode="chaos", outcome="handled") for i in range(200)])
    out = project.path / "head"
    result = project.runpytest(
        "-p",
        "no:cacheprovider",
        "--chaos",
        "--chaos-seed=1",
        "--chaos-examples=20",
        f"--chaos-report={out}",
        f"--chaos-baseline={base}",
        NAIVE,
    )
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "against the baseline: regressed*",
            f"  regressed    {NAIVE} ?(all)?: 200/200 = 100% ?98.2%, 100%? -> *",
        ]
    )
    table = (out / "compare.md").read_text(encoding="utf-8")
    assert table.startswith("## brownout compare: **regressed**")
    assert f"| **regressed** | `{NAIVE}` | (all) | 200/200 = 100%" in table
