"""First use: `brownout init` in an empty folder, then `pytest`, passes; the CI workflow is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.cli import main as cli_main

pytest_plugins = ["pytester"]


def _init(*argv: str) -> subprocess.CompletedProcess[str]:
    # The real console entry point, in a fresh interpreter.
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "init", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_init_in_an_empty_folder_then_pytest_passes(pytester: pytest.Pytester) -> None:
    root = pytester.path
    done = _init(str(root))
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        ".github/workflows/brownout.yml",
        "pytest.ini",
        "tests/conftest.py",
        "tests/example_system.py",
        "tests/test_chaos_example.py",
    ]
    assert "created  tests/test_chaos_example.py" in done.stdout and "pytest --chaos" in done.stdout
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 run(s) of 1 test(s): 1 pass"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_init_then_pytest_chaos_passes_on_the_example(pytester: pytest.Pytester, seed: int) -> None:
    # The scaffolded system is a correct one: the first `pytest --chaos` of a new user must pass.
    assert _init(str(pytester.path)).returncode == 0
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos", f"--chaos-seed={seed}")
    result.assert_outcomes(passed=1)
    assert " handled" in result.stdout.str()  # faults were injected and handled, not skipped


def test_ci_workflow_runs_chaos_and_publishes_the_summary(tmp_path: Path) -> None:
    assert cli_main(["init", str(tmp_path)]) == 0
    workflow = yaml.safe_load((tmp_path / ".github/workflows/brownout.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["chaos"]["steps"]
    commands = [s.get("run", "") for s in steps]
    assert any(c.startswith("pytest --chaos") for c in commands)
    assert any("summary.md" in c and '>> "$GITHUB_STEP_SUMMARY"' in c for c in commands)
    publish = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert publish["if"] == "always()"  # the summary is published when chaos tests fail, too


def test_init_keeps_existing_files_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("# mine\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert cli_main(["init", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kept     tests/conftest.py (exists; --force overwrites it)" in out
    assert (tmp_path / "tests" / "conftest.py").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "pytest.ini").exists()  # the project has its own pytest configuration
    assert cli_main(["init", str(tmp_path), "--force"]) == 0
    assert "register_profile" in (tmp_path / "tests" / "conftest.py").read_text(encoding="utf-8")


def test_init_for_your_own_entry_point(pytester: pytest.Pytester) -> None:
    root = pytester.path
    (root / "shop.py").write_text(
        "from harness import agent, tool\n\n"
        "@tool(side_effect=True)\n"
        "def charge(amount):\n    return 'ok'\n\n"
        "def checkout():\n    with agent('orchestrator'):\n        return charge(10)\n",
        encoding="utf-8",
    )
    assert cli_main(["init", str(root), "--entry", "shop:checkout"]) == 0
    test = (root / "tests" / "test_chaos_example.py").read_text(encoding="utf-8")
    assert "from shop import checkout" in test and "chaos.run(checkout" in test
    assert not (root / "tests" / "example_system.py").exists()
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_malformed_entry_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["init", str(tmp_path), "--entry", "shop.checkout"]) == 2
    err = capsys.readouterr().err
    assert "expected module:function, e.g. --entry myapp.checkout:run" in err
    assert not (tmp_path / "tests").exists()


# -- brownout doctor ---------------------------------------------------------------------------

APP = """
import asyncio
import urllib.request

import openai
from harness import agent, tool

PORT = {port}


@tool
def lookup(sku):
    return {{"sku": sku, "price": 12}}


@tool(side_effect=True, compensate="refund")
def charge(amount, *, idempotency_key=None):
    return "charged"


@tool(side_effect=True)
def refund(amount, *, idempotency_key=None):
    return "refunded"


@tool
def send_email(to):  # changes the world but is not declared side-effecting
    return "sent"


@tool(side_effect=True)
def reserve(sku):
    return "reserved"


def audit(event):
    # an HTTP call the harness does not capture: no @tool around it
    urllib.request.urlopen(f"http://127.0.0.1:{{PORT}}/v1/models", timeout=5).read()


async def checkout(sku):
    client = openai.AsyncOpenAI(api_key="sk-test-not-a-real-key-000000", max_retries=0)
    async with agent("orchestrator"):
        async with agent("pricer"):
            item = lookup(sku)
            await client.chat.completions.create(
                model="small", messages=[{{"role": "user", "content": "price of " + sku}}]
            )
        charge(item["price"], idempotency_key="order-1")
        reserve(sku)
        send_email("ada@example.com")
        audit("checkout")
    await client.chat.completions.create(model="small", messages=[{{"role": "user", "content": "done?"}}])
    return "ok"
"""


def test_doctor_says_what_it_sees_and_what_it_cannot(pytester: pytest.Pytester) -> None:
    from _support.fake_openai import FakeOpenAI

    server = FakeOpenAI().start()
    try:
        (pytester.path / "shopapp.py").write_text(APP.format(port=server.port), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "doctor", "shopapp:checkout", "--args", '["sku-1"]'],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**__import__("os").environ, "OPENAI_BASE_URL": server.url},
        )
    finally:
        server.stop()
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    seen, hidden = out.split("What it cannot see, and the fix:")
    assert (
        "    - orchestrator: 1 scope(s) (1 ok), 1 LLM call(s)" not in seen
    )  # the first call is the pricer's
    assert "    - orchestrator: 1 scope(s) (1 ok), 0 LLM call(s)" in seen
    assert "    - pricer: 1 scope(s) (1 ok), 1 LLM call(s)" in seen
    assert "    - lookup: 1 call(s), read-only" in seen
    assert "    - charge: 1 call(s), side-effecting; compensated by refund, idempotency key sent" in seen
    assert (
        "    - reserve: 1 call(s), side-effecting; no compensation, idempotency key on 0 of 1 call(s)" in seen
    )
    assert "  LLM calls: 2 (2 live)" in seen
    assert (
        f"network connections outside any @tool and outside the openai SDK: 127.0.0.1:{server.port}" in hidden
    )
    assert "tool 'send_email' looks side-effecting but is declared read-only" in hidden
    assert "side-effecting tool 'reserve' was called without an idempotency key" in hidden
    assert "1 LLM call(s) and 0 tool call(s) ran outside any agent() scope" in hidden
    assert "2 LLM call(s) went to the live endpoint: no cassette holds them yet" in hidden
    assert "tools declared but not called in this run: refund" in hidden
    assert hidden.count("    fix: ") == hidden.count("\n  - ")
    assert "sk-test-not-a-real-key" not in out


def test_doctor_reports_a_run_that_raised(pytester: pytest.Pytester) -> None:
    (pytester.path / "broken.py").write_text(
        "from harness import agent\n\n"
        "def main():\n    with agent('solo'):\n        raise RuntimeError('no config')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor", "broken:main"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "The run raised RuntimeError: no config" in done.stdout
    assert "    - solo: 1 scope(s) (1 error), 0 LLM call(s)" in done.stdout
    assert "no @tool calls: side effects (emails, payments, writes) are invisible" in done.stdout
    assert "the entry point is synchronous" in done.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["nomodule_xyz:run"], "cannot import module 'nomodule_xyz'"),
        (["json:nope"], "module 'json' has no 'nope'. Callables it has: JSONDecodeError, JSONDecoder"),
        (["json"], "expected module:function or path/to/file.py:function"),
        (["json:dumps", "--args", "{}"], "--args '{}': must be a JSON list"),
        (["json:dumps", "--kwargs", "{x"], "--kwargs '{x': not valid JSON"),
        (["json:dumps", "--cassette", "missing.json"], "--cassette 'missing.json': no such file."),
    ],
)
def test_doctor_usage_errors(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["doctor", *argv]) == 2
    assert needle in capsys.readouterr().err


def _reference_naive_runs() -> list[object]:
    from scenarios import REFERENCE_RUNS

    return [
        pytest.param(ref, id=ref.name)
        for ref in REFERENCE_RUNS
        if ref.fault is None and ref.variant == "naive" and ref.cassette_path().is_file()
    ]


@pytest.mark.parametrize("ref", _reference_naive_runs())
def test_doctor_lists_each_reference_systems_agents_and_tools(
    ref: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.events import AgentStart, ToolCall
    from scenarios import run_reference

    expected = run_reference(ref, miss="nearest").log  # type: ignore[arg-type]
    agents = {e.name for e in expected.of(AgentStart)}
    tools = {e.name: e.side_effect for e in expected.of(ToolCall)}
    system = ref.system  # type: ignore[attr-defined]
    assert cli_main(["doctor", f"scenarios.{system}:run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"reference system {system}_naive: its services started; LLM replies from ")
    seen = out.split("What the harness sees:")[1].split("What it cannot see")[0]
    agent_part, _, tool_part = seen.partition("  tools")

    def names(part: str) -> set[str]:
        return {line.split(":")[0].strip(" -") for line in part.splitlines() if line.startswith("    - ")}

    assert names(agent_part) == agents and f"  agents ({len(agents)}):" in agent_part
    assert names(tool_part) == set(tools)
    for name, side_effect in tools.items():
        line = next(x for x in tool_part.splitlines() if x.startswith(f"    - {name}: "))
        assert ("side-effecting" if side_effect else "read-only") in line
    assert " live" not in seen.split("LLM calls:")[1].splitlines()[0]  # replayed offline


FRAMEWORKLESS_APP = """
from helpers import lookup  # a sibling module: the file's folder is importable


def main(q):
    return {"answer": lookup(q)}
"""


def test_doctor_takes_a_file_path_entry_and_reports_the_adapters(tmp_path: Path) -> None:
    app = tmp_path / "apps" / "plain_app.py"
    app.parent.mkdir()
    app.write_text(FRAMEWORKLESS_APP, encoding="utf-8")
    (app.parent / "helpers.py").write_text(
        "from harness import tool\n\n@tool\ndef lookup(q):\n    return f'facts about {q}'\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor", "apps/plain_app.py:main", "--args", '["tides"]'],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "framework adapters active: none (no supported framework imported)" in done.stdout
    assert "    - lookup: 1 call(s), read-only" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor", "apps/nope.py:main"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2 and "no file 'apps/nope.py'" in missing.stderr


def test_doctor_names_tools_the_model_asked_for_that_no_site_recorded() -> None:
    from harness import run_system
    from harness._cli._doctor import _findings, diagnose
    from harness.events import LLMCall

    found = diagnose(lambda: "ok")
    asked = LLMCall(
        run_id="r", seq=1, t=0.0, step_id="s1", path="/v1/chat/completions", request_digest="d",
        tool_calls=[{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
    )  # fmt: skip
    findings = _findings(found, [asked], [], None, run_system)
    assert any("the model asked for tool(s) get_weather" in f.what for f in findings)
