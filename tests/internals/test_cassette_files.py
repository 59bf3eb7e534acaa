"""Cassette files: atomic saves under SIGKILL, merging concurrent writers, large cassettes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness._cassette._recording import Recording as _Recording
from harness.cassettes import Cassette

WRITER = r"""
import sys
from harness.cassettes import Cassette
from harness._cassette._recording import Recording as _Recording

path = sys.argv[1]
cassette = Cassette(path, record_mode="new_episodes")
big = "x" * 40_000_000
for i in range(1000):
    cassette.add_interaction(_Recording({
        "digest": f"big{i}", "agent": None, "call": i, "occurrence": 1,
        "request": {"method": "POST", "uri": "http://h/v1/chat/completions", "headers": {}, "body": {}},
        "response": {"status": 200, "headers": {}, "body": big, "encoding": "text"},
    }), 1)
    cassette.close()
"""


def _interaction(digest: str, text: str, occurrence: int = 1) -> dict[str, Any]:
    return {
        "digest": digest,
        "agent": "a",
        "call": 1,
        "occurrence": occurrence,
        "request": {
            "method": "POST",
            "uri": "http://h/v1/chat/completions",
            "headers": {},
            "body": {"model": "m", "messages": [{"role": "user", "content": text}]},
        },
        "response": {
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]},
            "encoding": "json",
        },
    }


def _write(path: Path, *items: dict[str, Any]) -> Cassette:
    cassette = Cassette(path, record_mode="new_episodes")
    for item in items:
        cassette.add_interaction(_Recording(item), item["occurrence"])
    cassette.close()
    return cassette


def test_a_write_killed_midway_leaves_the_previous_cassette_intact(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    _write(path, _interaction("d1", "kept"))
    before = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the temp file is being written
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if temps and temps[0].stat().st_size > 1_000_000:
                break
            assert child.poll() is None, "the writer ended before it could be killed"
            time.sleep(0.005)
        else:
            raise AssertionError("the writer never started writing")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == before  # untouched: the half-written temp file never replaced it
    assert [i["digest"] for i in Cassette(path).interactions] == ["d1"]


def test_two_writers_of_one_cassette_keep_each_others_recordings(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    first = Cassette(path, record_mode="new_episodes")
    second = Cassette(path, record_mode="new_episodes")
    first.add_interaction(_Recording(_interaction("d1", "one")), 1)
    second.add_interaction(_Recording(_interaction("d2", "two")), 1)
    first.close()
    second.close()  # merges what the first saved meanwhile
    assert sorted(i["digest"] for i in Cassette(path).interactions) == ["d1", "d2"]


def test_a_large_cassette_loads_and_indexes_every_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    items = [_interaction(f"d{i % 5000}", f"answer {i}", occurrence=i // 5000 + 1) for i in range(10_000)]
    path.write_text(
        json.dumps({"format": "brownout-cassette", "version": 1, "interactions": items, "tools": []})
    )
    cassette = Cassette(path)
    assert len(cassette) == 10_000
    recordings = cassette._vcr.index["d42"]
    assert [r.data["response"]["body"]["choices"][0]["message"]["content"] for r in recordings] == [
        "answer 42",
        "answer 5042",
    ]


def test_saved_cassettes_are_pretty_sorted_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    _write(path, _interaction("d1", "x"))
    text = path.read_text()
    assert text.startswith('{\n  "format": "brownout-cassette",\n  "interactions": [\n')
    assert json.loads(text)["version"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".lock"))]
