"""No secret reaches any file brownout writes, while replay still matches.

Thirty distinct secrets are planted in every place a system puts them: request headers,
query strings, JSON bodies (also nested), prompts, tool arguments and results, exception
messages, model replies (plain and streamed, a key split across chunks), a response
header, an assertion message, and values only the user's own rules (ini ``chaos_scrub``)
know. The project is recorded, replayed, explored under ``--chaos``, recorded in production
style (``harness.record``) and replayed with ``brownout replay``, its run logs exported to
OpenTelemetry; then every byte of every file brownout wrote is searched for every secret.

The test also checks that each secret really travelled (the server saw it, or the system
handled it), so with scrubbing switched off it fails.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness._report import read_results, results_frame

pytest_plugins = ["pytester"]

JWT_BODY = "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
SECRETS: dict[str, str] = {
    # request headers
    "authorization": "sk-proj-AuthHeaderKey000111222333444555",
    "api_key_header": "apikeyheadervalue-7f3a9c11d2e4",
    "x_api_key_header": "xapikeyheadervalue-99ab12cd34ef",
    "goog_header": "AIzaSyGoogHeader0123456789abcdefghijkl",
    "cookie": "cookievalue-5c2e8f1a9b3d7e6f",
    # query strings
    "query_access_token": "querytokenvalue-a1b2c3d4e5f6",
    "query_key_aiza": "AIzaSyQueryKey0123456789abcdefghijklmn",
    "query_sig_sk": "sk-QuerySigValue000111222333444555",
    # JSON body
    "body_api_key": "bodyapikeyvalue-0a9b8c7d6e5f",
    "body_password": "bodypasswordvalue-hunter2-xyz",
    "body_nested_token": "nestedauthtokenvalue-31415926",
    # prompts
    "prompt_jwt": f"eyJhbGciOiJIUzI1NiJ9.{JWT_BODY}.PromptSig0123456789abcdef",
    "prompt_ghp": "ghp_PromptGithubToken0123456789abcdefXYZ",
    "prompt_aiza": "AIzaSyPromptKey0123456789abcdefghijklmno",
    "system_ant": "sk-ant-api03-SystemAnthropicKey0123456789abcdef",
    # tool arguments, results, errors
    "tool_api_key": "toolapikeyvalue-5e6f7a8b9c0d",
    "tool_sk": "sk-ToolNoteKey000111222333444555666",
    "tool_akia": "AKIAABCDEFGHIJKLMNOP",
    "tool_jwt": f"eyJhbGciOiJSUzI1NiJ9.{JWT_BODY}.ToolNoteSig0123456789abcd",
    "tool_result_password": "toolresultpassword-correcthorse",
    "tool_result_xoxb": "xoxb-123456789012-ToolResultSlackToken",
    "pem_body": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQPemBody",
    "exc_jwt": f"eyJhbGciOiJFUzI1NiJ9.{JWT_BODY}.ToolErrorSig0123456789ab",
    "exc_bearer": "bearertokenvalue0123456789abcdef",
    "exc_asia": "ASIAQRSTUVWXYZ012345",
    # model replies
    "reply_sk": "sk-ModelReplyKey000111222333444555666",
    "reply_hf": "hf_ModelReplyHuggingFaceToken0123456789ab",
    "stream_split": "sk-StreamSplitKey000111222333444555666777",
    "stream_pat": "github_pat_StreamSplitPat0123456789abcdefghijkl",
    "set_cookie": "setcookievalue-8d7c6b5a4f3e",
    # the system's own failure, the test's assertion
    "loud_jwt": f"eyJhbGciOiJIUzM4NCJ9.{JWT_BODY}.LoudFailureSig0123456789a",
    # known only to the user's rules (ini chaos_scrub)
    "user_pattern": "acme_0123456789abcdef0123456789abcdef",
    "user_env": "zebra-quartz-velvet-marmalade",
}
PEM = f"-----BEGIN PRIVATE KEY-----\n{SECRETS['pem_body']}\n-----END PRIVATE KEY-----"
STREAMED = f"streamed {SECRETS['stream_split']} and {SECRETS['stream_pat']} done"


class _LLM(BaseHTTPRequestHandler):
    """A chat-completions endpoint whose replies carry secrets (a streamed one in 7-byte chunks)."""

    protocol_version = "HTTP/1.1"
    seen: list[bytes]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(self.path.encode() + b"\n" + bytes(self.headers) + raw)
        body = json.loads(raw)
        if body.get("stream"):
            chunks = [STREAMED[i : i + 7] for i in range(0, len(STREAMED), 7)]
            events = [{"role": "assistant", "content": ""}, *({"content": c} for c in chunks)]
            lines = [
                json.dumps(
                    {
                        "id": "c-s",
                        "object": "chat.completion.chunk",
                        "created": 1,
                        "model": "m",
                        "choices": [{"index": 0, "delta": d, "finish_reason": None}],
                    }
                )
                for d in events
            ]
            lines.append(
                json.dumps(
                    {
                        "id": "c-s",
                        "object": "chat.completion.chunk",
                        "created": 1,
                        "model": "m",
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    }
                )
            )
            payload = "".join(f"data: {line}\n\n" for line in [*lines, "[DONE]"]).encode()
            content_type = "text/event-stream"
        else:
            text = f"model says {SECRETS['reply_sk']} and {SECRETS['reply_hf']}"
            payload = json.dumps(
                {
                    "id": "c-1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": "m",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
                }
            ).encode()
            content_type = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Set-Cookie", f"session={SECRETS['set_cookie']}")
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def llm() -> Iterator[tuple[str, list[bytes]]]:
    seen: list[bytes] = []
    handler = type("Handler", (_LLM,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


SYSTEM = """
import json
import os

import openai

from harness import agent, tool

S = json.loads(os.environ["PLANTED"])
PEM = os.environ["PLANTED_PEM"]


@tool
def lookup(query, api_key=None, note=None):
    return {"facts": "ok", "password": S["tool_result_password"], "slack": S["tool_result_xoxb"], "pem": PEM}


@tool
def flaky(note):
    raise RuntimeError(
        f"upstream refused {S['exc_jwt']} with Authorization: Bearer {S['exc_bearer']} for {S['exc_asia']}"
    )


def client():
    return openai.AsyncOpenAI(
        base_url=os.environ["LLM_URL"],
        api_key=S["authorization"],
        max_retries=0,
        default_headers={
            "api-key": S["api_key_header"],
            "x-api-key": S["x_api_key_header"],
            "X-Goog-Api-Key": S["goog_header"],
            "Cookie": "session=" + S["cookie"],
        },
        default_query={"access_token": S["query_access_token"], "key": S["query_key_aiza"],
                       "sig": S["query_sig_sk"]},
    )


async def run(question):
    llm = client()
    async with agent("asker"):
        reply = await llm.chat.completions.create(
            model="m",
            messages=[
                {"role": "system", "content": "use " + S["system_ant"]},
                {"role": "user", "content": " ".join(
                    [question, S["prompt_jwt"], S["prompt_ghp"], S["prompt_aiza"], S["user_pattern"],
                     S["user_env"]])},
            ],
            extra_body={"api_key": S["body_api_key"], "password": S["body_password"],
                        "auth": {"token": S["body_nested_token"]}},
        )
        stream = await llm.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "stream " + question}], stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        note = " ".join([S["tool_sk"], S["tool_akia"], S["tool_jwt"]])
        lookup(question, api_key=S["tool_api_key"], note=note)
        try:
            flaky(question)
        except Exception:  # replay raises the recorded error as RecordedToolError
            pass
    return {"text": reply.choices[0].message.content, "streamed": "".join(parts)}


async def explode(question):
    await run(question)
    raise RuntimeError("the order service rejected token " + S["loud_jwt"])
"""

TESTS = """
import pytest

import harness
import system


@pytest.mark.chaos(examples=3, faults=["tool.error"], checks="none")
def test_records(chaos):
    out = chaos.run(system.run, "hello").output
    assert out["streamed"].startswith("streamed ")


def test_loud(chaos):
    chaos.run(system.explode, "boom")


def test_assertion_names_a_key(chaos):
    out = chaos.run(system.run, "again").output
    assert out["text"] == "something else entirely"


def test_production(tmp_path_factory):
    import asyncio

    with harness.record("recordings/r1", entry="system:run", args=("prod",)) as rec:
        rec.output = asyncio.run(system.run("prod"))
"""

INI = """[pytest]
addopts = -p no:cacheprovider -p no:randomly
chaos_scrub =
    pattern acme_[0-9a-f]{32}
    env ACME_SESSION
"""


def _written_files(root: Path, sources: set[Path]) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and p not in sources and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]


def test_no_planted_secret_reaches_any_file_brownout_writes(
    pytester: pytest.Pytester, llm: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = llm
    assert len(SECRETS) == len(set(SECRETS.values())) >= 25
    monkeypatch.setenv("LLM_URL", url)
    monkeypatch.setenv("PLANTED", json.dumps(SECRETS))
    monkeypatch.setenv("PLANTED_PEM", PEM)
    monkeypatch.setenv("ACME_SESSION", SECRETS["user_env"])
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(system=SYSTEM, test_sec=TESTS)
    sources = set(pytester.path.rglob("*"))

    # 1. record (live), 2. replay (offline), 3. explore under --chaos
    recorded = pytester.runpytest("--chaos-record-mode=once", "--chaos-report=rep1")
    recorded.assert_outcomes(passed=2, failed=2)
    calls = len(seen)
    replayed = pytester.runpytest("--chaos-report=rep2")
    replayed.assert_outcomes(passed=2, failed=2)
    assert "CassetteMiss" not in replayed.stdout.str(), replayed.stdout.str()
    assert len(seen) == calls + 2  # only harness.record went live (it always records)
    chaos = pytester.runpytest("--chaos", "--chaos-seed=1", "--chaos-report=rep3", "-k", "test_records")
    assert (pytester.path / "rep3" / "report.html").is_file(), chaos.stdout.str()

    # 4. the production recording replays exactly; 5. run logs exported to OpenTelemetry
    from harness.cli import main as cli

    with monkeypatch.context() as m:
        m.chdir(pytester.path)
        m.syspath_prepend(str(pytester.path))
        assert cli(["replay", "recordings/r1"]) == 0
        assert (
            cli(["export-otel", "rep1/runs", "rep2/runs", "recordings/r1/run.jsonl", "--out", "otel.json"])
            == 0
        )

    written = _written_files(pytester.path, sources)
    names = {p.relative_to(pytester.path).as_posix() for p in written}
    for expected in (
        "cassettes/test_sec/test_records.json",
        "rep1/report.html",
        "rep1/summary.md",
        "rep1/results.parquet",
        "rep2/report.html",
        "rep3/results.parquet",
        "recordings/r1/cassette.json",
        "recordings/r1/run.jsonl",
        "otel.json",
    ):
        assert expected in names, sorted(names)
    assert any(n.startswith("rep1/runs/") and n.endswith(".jsonl") for n in names)

    # Every byte of every file; parquet is compressed, so its text columns are read too.
    found: dict[str, list[str]] = {}
    for path in written:
        blobs = [path.read_bytes()]
        if path.suffix == ".parquet":
            frame = results_frame(read_results(path.parent))
            blobs.append(frame.to_csv().encode())
        for key, value in SECRETS.items():
            if any(value.encode() in blob for blob in blobs):
                found.setdefault(key, []).append(path.relative_to(pytester.path).as_posix())
    assert not found, f"secrets on disk: {json.dumps(found, indent=1)}"
    assert "[REDACTED]" in (pytester.path / "cassettes/test_sec/test_records.json").read_text()

    # The secrets really travelled: without scrubbing they would be in those files.
    wire = b"\n".join(seen)
    for key in (
        "authorization",
        "api_key_header",
        "x_api_key_header",
        "goog_header",
        "cookie",
        "query_access_token",
        "query_key_aiza",
        "query_sig_sk",
        "body_api_key",
        "body_password",
        "body_nested_token",
        "prompt_jwt",
        "prompt_ghp",
        "prompt_aiza",
        "system_ant",
        "user_pattern",
        "user_env",
    ):
        assert SECRETS[key].encode() in wire, key
    stdout = recorded.stdout.str()
    assert "RuntimeError" in stdout and "test_assertion_names_a_key" in stdout
